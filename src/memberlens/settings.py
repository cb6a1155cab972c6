"""The settings sections of ``memberlens.toml`` that the pipeline reads, declared as data.

Each pipeline step names its section (:attr:`memberlens.pipeline.step.Step.section`);
:meth:`memberlens.project.Project.load` checks every declared section against these
declarations, so a misspelt key or a bad value is a :class:`~memberlens.exceptions.ConfigError`
naming the file, the section, the key, the value found and the fix, when the project loads, never
a step that is silently skipped later.

Sections of other parts of the product (``[web]``, ...) are theirs to check; an unknown section
whose name is close to a declared one (``[baskts]``) is an error too.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memberlens.exceptions import ConfigError

#: the pipeline's steps in order (``memberlens.pipeline.registry.STEPS``; a test keeps the two
#: equal: the registry lives in the services layer, the project file is read in the core)
PIPELINE_STEPS: tuple[str, ...] = (
    "summary",
    "clv",
    "segments",
    "tiers",
    "lifecycle",
    "cohorts",
    "profiles",
    "baskets",
    "clusters",
    "replenishment",
    "recommendations",
    "churn",
    "forecast",
    "campaigns",
    "members",
)
#: festival regressors (``memberlens.forecast.festivals.FESTIVALS``; a test keeps them equal)
FESTIVAL_NAMES: tuple[str, ...] = (
    "spring_festival_shopping",
    "spring_festival_eve",
    "spring_festival_holiday",
    "spring_festival_return",
    "womens_day",
    "presale_618",
    "day_618",
    "golden_week",
    "presale_double11",
    "double11",
    "double12",
)
#: recommendation scorers (``memberlens.recommend.model.KINDS``; a test keeps them equal)
RECOMMEND_KINDS: tuple[str, ...] = ("als", "item_knn", "popular", "hybrid")

_TYPE_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


@dataclass(frozen=True)
class Setting:
    """One key of a section: the TOML types it accepts and the values allowed."""

    key: str
    types: tuple[type, ...]
    #: the allowed values (any value of the types when empty)
    choices: tuple[object, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    #: for a list: the allowed items
    items: tuple[str, ...] = ()
    help: str = ""

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not allowed (None when it is)."""
        if self.choices:
            if any(value == c and type(value) is type(c) for c in self.choices):
                return None
            return f"must be one of {', '.join(_show(c) for c in self.choices)}"
        if isinstance(value, bool) and bool not in self.types:
            return f"must be {self._kind()}"
        if not isinstance(value, self.types):
            return f"must be {self._kind()}"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                return f"must be {self._kind()} of at least {_show(self.minimum)}"
            if self.maximum is not None and value > self.maximum:
                return f"must be {self._kind()} of at most {_show(self.maximum)}"
        if isinstance(value, dict) and self.minimum is not None:  # a table of numbers
            for k, v in value.items():
                if isinstance(v, bool) or not isinstance(v, int | float) or v < self.minimum:
                    return f"{k} = {_show(v)}: each value must be a number of at least {_show(self.minimum)}"
        if isinstance(value, list) and self.items:
            for item in value:
                if item not in self.items:
                    return f"{_show(item)} is not one of {', '.join(self.items)}" + _nearest(
                        item, self.items
                    )
        return None

    def _kind(self) -> str:
        names = [_TYPE_NAMES.get(t, "a list" if t is list else "a table") for t in self.types]
        if float in self.types and int in self.types:
            names.remove("a whole number")
        return " or ".join(names)


@dataclass(frozen=True)
class Section:
    """A ``[name]`` table of the project file."""

    name: str
    settings: tuple[Setting, ...] = ()
    #: the section holds named sub-tables of any name (``[segments.vip]``), checked by their step
    named_tables: bool = False
    help: str = ""

    def check(self, values: object, path: Path) -> None:
        """Raise :class:`ConfigError` on the first unknown key or bad value."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"{path}: [{self.name}] must be a table, got {_show(values)}")
        if self.named_tables:
            for key, value in values.items():
                if not isinstance(value, Mapping):
                    raise ConfigError(
                        f"{path}: [{self.name}] {key} = {_show(value)}: each entry must be a "
                        f"table [{self.name}.{key}]; see docs/pipeline.md"
                    )
            return
        known = {s.key: s for s in self.settings}
        for key, value in values.items():
            setting = known.get(key)
            if setting is None:
                raise ConfigError(
                    f"{path}: [{self.name}] {key} = {_show(value)}: unknown setting"
                    + (_nearest(key, tuple(known)) or f"; allowed: {', '.join(known)}")
                )
            problem = setting.problem(value)
            if problem:
                raise ConfigError(
                    f"{path}: [{self.name}] {key} = {_show(value)}: {problem}; fix it in "
                    f"{path.name}"
                )


def _fraction(key: str, help: str = "") -> Setting:
    return Setting(key, (float, int), minimum=0.0, maximum=1.0, help=help)


def _days(key: str) -> Setting:
    return Setting(key, (int,), minimum=1, help="days")


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section(
            "run",
            (
                Setting(
                    "skip",
                    (list,),
                    items=PIPELINE_STEPS,
                    help="steps to leave out of every run",
                ),
            ),
        ),
        Section("segments", named_tables=True, help="[segments.<name>]: a scheme of your own"),
        Section(
            "lifecycle",
            tuple(
                _days(k)
                for k in (
                    "new_days",
                    "active_days",
                    "dormant_days",
                    "churned_days",
                    "won_back_gap_days",
                    "loyal_purchase_days",
                    "loyal_window_days",
                )
            ),
        ),
        Section(
            "tiers",
            (
                Setting("weights", (dict,), help="score weights by component"),
                _fraction("high_quantile"),
                _fraction("medium_quantile"),
                _fraction("churn_p_alive"),
                _fraction("churn_recency_quantile"),
                _fraction("potential_quantile"),
                Setting("tree_depth", (int,), minimum=1),
                Setting("random_state", (int,), minimum=0),
            ),
        ),
        Section(
            "baskets",
            (
                Setting("level", (str,), choices=("product", "category")),
                Setting("min_support", (float, int), minimum=0.0, maximum=1.0),
                _fraction("min_confidence"),
                Setting("max_len", (int,), minimum=2),
                Setting("exclude_products", (list,), help="non-product codes left out"),
                Setting("min_lift", (float, int), minimum=0.0, help="rules kept above this lift"),
                Setting("per_antecedent", (int,), minimum=1, help="strongest rules per antecedent"),
                Setting("max_rules", (int,), minimum=1, help="cap on the stored rules"),
            ),
        ),
        Section(
            "recommend",
            (
                Setting("k", (int,), minimum=1, help="products per member"),
                Setting("kind", (str,), choices=RECOMMEND_KINDS),
            ),
        ),
        Section(
            "forecast",
            (
                Setting(
                    "festivals",
                    (list,),
                    items=FESTIVAL_NAMES,
                    help="festival names to try (default: by the project's locale)",
                ),
                Setting("max_categories", (int,), minimum=0, help="categories forecast"),
                Setting("min_category_weeks", (int,), minimum=12, help="weeks of sales needed"),
            ),
        ),
        Section(
            "churn",
            (
                Setting(
                    "train_in_run",
                    (str, bool),
                    choices=("auto", True, False),
                    help="train a missing model inside the run",
                ),
                Setting("train_sample", (int,), minimum=1, help="members to train on"),
                Setting(
                    "retrain_days", (int,), minimum=0, help="retrain a saved model older than this"
                ),
                Setting(
                    "max_psi",
                    (float, int),
                    minimum=0.0,
                    help="retrain when the score PSI exceeds this",
                ),
                Setting(
                    "reasons_deciles",
                    (int,),
                    minimum=0,
                    maximum=10,
                    help="explain the top risk deciles",
                ),
            ),
        ),
        Section(
            "campaigns",
            (
                Setting(
                    "response",
                    (str,),
                    choices=("auto", "click", "open", "open_or_click", "visit", "order"),
                    help="what counts as a response (auto: click, else open, else an order)",
                ),
                _days("retention_days"),
                _days("pre_days"),
                Setting("control_share", (float,), minimum=0.0, maximum=1.0),
                Setting("alpha", (float,), minimum=0.0001, maximum=0.5),
                Setting("cuped", (bool,), help="CUPED revenue by pre-period spend"),
                Setting(
                    "sequential_tau",
                    (float, int),
                    minimum=0.0001,
                    help="mSPRT mixing sd, relative to the control mean",
                ),
                _fraction("holdout", "share of each campaign's audience kept as control"),
                Setting(
                    "max_messages", (int,), minimum=1, help="frequency cap: messages per window"
                ),
                _days("window_days"),
                Setting("quiet_start", (str,), help="quiet hours start, HH:MM shop time"),
                Setting("quiet_end", (str,), help="quiet hours end, HH:MM shop time"),
                Setting("suppression_file", (str,), help="CSV of member_id never contacted"),
                Setting("base_url", (str,), help="dashboard URL for unsubscribe links"),
                Setting("batch_size", (int,), minimum=1, help="messages per delivery batch"),
                Setting(
                    "scheduler", (bool,), help="send scheduled campaigns inside `memberlens serve`"
                ),
                Setting(
                    "scheduler_minutes",
                    (int, float),
                    minimum=0.1,
                    help="minutes between the scheduler's checks for due campaigns",
                ),
            ),
        ),
        Section(
            "costs",
            (
                Setting(
                    "message",
                    (dict,),
                    minimum=0.0,
                    help="cost of one message by channel, e.g. { sms = 0.05, email = 0.001 }",
                ),
                Setting(
                    "coupon",
                    (float, int),
                    minimum=0.0,
                    help="cost of one coupon order (default: the orders' discount)",
                ),
                _fraction("margin", "product margin as a share of revenue"),
            ),
        ),
        Section("channels", named_tables=True, help="[channels.<name>]: an outbound channel"),
        Section(
            "triggers",
            (
                Setting("schedule_time", (str,), help="HH:MM shop time the scheduler runs"),
                Setting("scheduler", (bool,), help="run triggers inside `memberlens serve`"),
            ),
        ),
    )
}

_CHANNEL_COMMON = (
    Setting("kind", (str,), choices=("smtp", "webhook", "export")),
    Setting("batch_size", (int,), minimum=1, help="messages per delivery batch"),
    Setting("language", (str,), choices=("zh-CN", "en"), help="default message language"),
)
#: the keys of each kind of ``[channels.<name>]``
CHANNEL_SETTINGS: dict[str, tuple[Setting, ...]] = {
    "smtp": (
        *_CHANNEL_COMMON,
        Setting("host", (str,)),
        Setting("port", (int,), minimum=1, maximum=65535),
        Setting("sender", (str,), help="From: address"),
        Setting("starttls", (bool,)),
        Setting("ssl", (bool,), help="SMTP over TLS from the first byte (port 465)"),
        Setting("username_env", (str,), help="environment variable holding the login"),
        Setting("password_env", (str,), help="environment variable holding the password"),
        Setting("timeout", (int, float), minimum=0.1),
    ),
    "webhook": (
        *_CHANNEL_COMMON,
        Setting("url", (str,)),
        Setting("secret", (str,), help="HMAC-SHA256 signing secret"),
        Setting("secret_env", (str,), help="environment variable holding the secret"),
        Setting("timeout", (int, float), minimum=0.1),
        Setting("max_retries", (int,), minimum=0, maximum=20),
        Setting("backoff", (int, float), minimum=0.0, help="first retry delay, seconds"),
        Setting("medium", (str,), choices=("sms", "app_push", "wechat", "other")),
    ),
    "export": (
        *_CHANNEL_COMMON,
        Setting("dir", (str,), help="folder the lists are written to"),
        Setting("format", (str,), choices=("csv", "xlsx")),
    ),
}
_CHANNEL_REQUIRED = {"smtp": ("host", "sender"), "webhook": ("url",), "export": ()}


def check_channel(name: str, values: Mapping[str, Any], path: Path) -> None:
    """Check one ``[channels.<name>]`` table: its kind, its keys and their values."""
    kind = values.get("kind")
    if kind not in CHANNEL_SETTINGS:
        raise ConfigError(
            f"{path}: [channels.{name}] kind = {_show(kind) if kind is not None else '(missing)'}"
            f": must be one of {', '.join(_show(k) for k in CHANNEL_SETTINGS)}; fix it in "
            f"{path.name}"
        )
    Section(f"channels.{name}", CHANNEL_SETTINGS[kind]).check(values, path)
    for key in _CHANNEL_REQUIRED[kind]:
        if key not in values:
            raise ConfigError(
                f"{path}: [channels.{name}] has no {key}: a {kind} channel needs it; add "
                f'{key} = "..." to {path.name}'
            )
    if kind == "webhook" and "secret" not in values and "secret_env" not in values:
        raise ConfigError(
            f"{path}: [channels.{name}] has neither secret nor secret_env: webhook messages "
            f'are signed; add secret_env = "VAR" (or secret = "...") to {path.name}'
        )


#: sections read elsewhere (the project's own, and other parts of the product)
OTHER_SECTIONS: tuple[str, ...] = ("project", "warehouse", "privacy", "sources", "web", "ingest")


def check_settings(raw: Mapping[str, Any], path: Path) -> None:
    """Check every pipeline section of a parsed project file (see the module docstring)."""
    known = (*SECTIONS, *OTHER_SECTIONS, "loyalty")
    for name, values in raw.items():
        section = SECTIONS.get(name)
        if section is not None:
            section.check(values, path)
            if name == "channels":
                for channel, entry in values.items():
                    check_channel(channel, entry, path)
            continue
        if name == "loyalty":
            if not isinstance(values, Mapping):
                raise ConfigError(f"{path}: [loyalty] must be a table, got {_show(values)}")
            check_loyalty(values, path)
            continue
        if name in OTHER_SECTIONS:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        if close:
            raise ConfigError(
                f"{path}: [{name}] is not a section of {path.name}; did you mean [{close[0]}]?"
            )


def check_loyalty(values: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The checked ``[loyalty]`` table (read by ``memberlens.activation.loyalty``): distinct tier
    names, one strictly rising threshold per tier starting at 0 (every member has a tier), a
    window of at least one day."""
    known = ("tiers", "thresholds", "window_days")
    for key in values:
        if key not in known:
            raise ConfigError(
                f"{path}: [loyalty] {key}: unknown setting; allowed: {', '.join(known)}"
            )
    tiers, thresholds = values.get("tiers"), values.get("thresholds")
    example = 'tiers = ["member", "silver", "gold"] and thresholds = [0, 1000, 5000]'
    if (
        not isinstance(tiers, list)
        or len(tiers) < 2
        or not all(isinstance(t, str) and t.strip() for t in tiers)
        or len(set(tiers)) != len(tiers)
    ):
        raise ConfigError(
            f"{path}: [loyalty] tiers = {tiers!r}: give two or more distinct tier names, lowest "
            f"first, e.g. {example}"
        )
    if (
        not isinstance(thresholds, list)
        or len(thresholds) != len(tiers)
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in thresholds)
    ):
        raise ConfigError(
            f"{path}: [loyalty] thresholds = {thresholds!r}: give one number per tier "
            f"({len(tiers)}), the net spend that reaches it, e.g. {example}"
        )
    if thresholds[0] != 0 or any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
        raise ConfigError(
            f"{path}: [loyalty] thresholds = {thresholds!r}: must start at 0 and rise strictly "
            f"(every member has the first tier); e.g. {example}"
        )
    window = values.get("window_days", 365)
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise ConfigError(
            f"{path}: [loyalty] window_days = {window!r}: must be a whole number of days of at "
            "least 1 (default 365)"
        )
    return {
        "tiers": list(tiers),
        "thresholds": [float(v) for v in thresholds],
        "window_days": window,
    }


def _nearest(word: object, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)
