"""Marketing automation: rules that fire per member and day, sent through the campaign machinery.

A rule (``trigger_rules`` in the app state) has a kind, parameters, a channel, a template, an
offer and a holdout. :func:`run_triggers` evaluates every enabled rule for one day and sends its
members as the campaign ``TRG-<rule>-<YYYYMMDD>`` (so holdouts, guard rails, the ledger's
idempotency and the warehouse's ``campaign_members`` apply exactly as to any campaign). Running
a day again finishes what is pending and sends nothing twice (``trigger_runs`` keeps the day's
members frozen in the campaign's ledger).

Kinds (each fires on the day its condition is first met, so a rule does not repeat daily):

- ``birthday``: the member's birthday (``members.birthday``, else ``birth_month``/``birth_day``)
  is ``days_before`` days after the day (default 7);
- ``festival``: a festival of the forecast's calendar (:mod:`memberlens.forecast.festivals`,
  ``festival`` = e.g. ``"double11"``) starts ``days_before`` days after the day (default 3);
  everyone in ``audience`` (a saved audience; default every member of ``mart_members``);
- ``replenishment``: ``mart_replenishment`` expects the member's next purchase of a category
  ``within_days`` days after the day (default 3);
- ``winback``: the days since the member's last order reach ``gap_multiple`` (default 2) times
  the member's own mean gap between orders (``recency / frequency`` of ``mart_members``;
  repeat buyers only) on the day;
- ``churn_risk``: ``mart_members.churn_probability`` is at least ``threshold`` (default 0.6);
  a member fires again only ``cooldown_days`` (default 30) after the rule last targeted them.

- ``near_tier``: the member's net spend in the ``[loyalty]`` window
  (:mod:`memberlens.activation.loyalty`) is below the next tier by at most ``max_share``
  (default 0.1) of that tier's threshold and, when set, by at most ``max_gap`` (money); a
  member fires again only ``cooldown_days`` (default 30) after the rule last targeted them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import ibis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from memberlens.activation import ledger
from memberlens.activation.templates import MessageTemplate
from memberlens.exceptions import ConfigError, NotFoundError

__all__ = [
    "KINDS",
    "TriggerKind",
    "TriggerRule",
    "TriggerRun",
    "firing_members",
    "list_rules",
    "run_triggers",
    "save_rule",
    "set_enabled",
]

TriggerKind = Literal["birthday", "festival", "replenishment", "winback", "churn_risk", "near_tier"]
#: each kind's parameters and their defaults
KINDS: dict[str, dict[str, Any]] = {
    "birthday": {"days_before": 7},
    "festival": {"festival": "double11", "days_before": 3, "audience": None},
    "replenishment": {"within_days": 3},
    "winback": {"gap_multiple": 2.0},
    "churn_risk": {"threshold": 0.6, "cooldown_days": 30},
    "near_tier": {"max_share": 0.1, "max_gap": None, "cooldown_days": 30},
}
#: kinds that fire while a state lasts (not on one day): a member fires again only after the
#: rule's ``cooldown_days``
_COOLING = ("churn_risk", "near_tier")


@dataclass(frozen=True)
class TriggerRule:
    name: str
    kind: str
    params: Mapping[str, Any]
    channel: str
    template: MessageTemplate
    offer: str | None
    holdout: float
    enabled: bool

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["template"] = dict(self.template.sources)
        out["params"] = dict(self.params)
        return out


@dataclass(frozen=True)
class TriggerRun:
    """One rule on one day."""

    rule: str
    day: dt.date
    campaign_id: str | None
    fired: int
    sent: int
    control: int
    excluded: int
    pending: int
    repeated: bool  # the day had run before: only what was pending was sent

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["day"] = self.day.isoformat()
        return out


def _params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if kind not in KINDS:
        raise ConfigError(f"--kind {kind!r}: use one of {', '.join(KINDS)}")
    unknown = sorted(set(params) - set(KINDS[kind]))
    if unknown:
        raise ConfigError(
            f"{kind} rules take {', '.join(KINDS[kind])}; {unknown[0]!r} is not one of them"
        )
    out = {**KINDS[kind], **params}
    if kind == "near_tier":
        share, gap = out["max_share"], out["max_gap"]
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise ConfigError(f"near_tier max_share = {share!r}: give a share in (0, 1], e.g. 0.1")
        if gap is not None and (
            isinstance(gap, bool) or not isinstance(gap, int | float) or gap <= 0
        ):
            raise ConfigError(
                f"near_tier max_gap = {gap!r}: give an amount above 0, or leave it out"
            )
    if kind == "festival":
        from memberlens.forecast.festivals import festival_dates

        festival_dates([2026], [str(out["festival"])])  # an unknown name: a clear error
    return out


def save_rule(
    engine: Engine,
    project: Any,
    *,
    name: str,
    kind: str,
    channel: str,
    params: Mapping[str, Any] | None = None,
    template: MessageTemplate,
    offer: str | None = None,
    holdout: float | None = None,
    enabled: bool = True,
    by: str | None = None,
) -> TriggerRule:
    """Create or replace rule ``name`` (checked: kind, parameters, channel, template)."""
    from memberlens.activation.campaigns import campaign_settings
    from memberlens.activation.channels import channel_settings

    channel_settings(project, channel)
    if kind == "near_tier":
        from memberlens.activation.loyalty import loyalty_settings

        loyalty_settings(project)  # no [loyalty] tiers: an error now, not on the day it runs
    if not name or len(name) > 40 or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"rule name {name!r}: use 1-40 letters, digits, '-' or '_'")
    values = {
        "kind": kind,
        "params": json.dumps(_params(kind, params or {}), ensure_ascii=False),
        "channel": channel,
        "template": template.to_json(),
        "offer": offer,
        "holdout": campaign_settings(project).holdout if holdout is None else holdout,
        "enabled": enabled,
        "updated_at": ledger.utcnow(),
        "updated_by": by,
    }
    table = ledger.TRIGGER_RULES
    with engine.begin() as conn:
        if conn.execute(sa.select(table.c.name).where(table.c.name == name)).first():
            conn.execute(table.update().where(table.c.name == name).values(values))
        else:
            conn.execute(table.insert().values(name=name, **values))
    return _rule(engine, name)


def _rule(engine: Engine, name: str) -> TriggerRule:
    rules = {r.name: r for r in list_rules(engine)}
    if name not in rules:
        raise NotFoundError(
            f"trigger rule {name!r} does not exist (rules: {', '.join(rules) or 'none'}); "
            "add it with `memberlens triggers add`"
        )
    return rules[name]


def list_rules(engine: Engine) -> list[TriggerRule]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ledger.TRIGGER_RULES).order_by("name")).all()
    return [
        TriggerRule(
            name=r.name,
            kind=r.kind,
            params=json.loads(r.params),
            channel=r.channel,
            template=MessageTemplate.from_json(r.template),
            offer=r.offer,
            holdout=float(r.holdout),
            enabled=bool(r.enabled),
        )
        for r in rows
    ]


def set_enabled(engine: Engine, name: str, enabled: bool, *, by: str | None = None) -> None:
    _rule(engine, name)
    table = ledger.TRIGGER_RULES
    with engine.begin() as conn:
        conn.execute(
            table.update()
            .where(table.c.name == name)
            .values(enabled=enabled, updated_at=ledger.utcnow(), updated_by=by)
        )


def _ids(expr: Any) -> list[str]:
    return sorted(
        {str(m) for m in expr.select("member_id").distinct().to_pyarrow()["member_id"].to_pylist()}
    )


def _birthday(wh: Any, day: dt.date, days_before: int) -> list[str]:
    if not wh.has("members"):
        return []
    m = wh.table("members")
    target = day + dt.timedelta(days=int(days_before))
    if "birthday" in m.columns:
        month, dom = m.birthday.month(), m.birthday.day()
        if "birth_month" in m.columns and "birth_day" in m.columns:
            month = month.fill_null(m.birth_month.cast("int64"))
            dom = dom.fill_null(m.birth_day.cast("int64"))
    elif "birth_month" in m.columns and "birth_day" in m.columns:
        month, dom = m.birth_month.cast("int64"), m.birth_day.cast("int64")
    else:
        return []
    return _ids(m.filter((month == target.month) & (dom == target.day)))


def _festival(wh: Any, project: Any, store: Any, day: dt.date, params: Mapping) -> list[str]:
    from memberlens.forecast.festivals import festival_dates

    target = day + dt.timedelta(days=int(params["days_before"]))
    starts = festival_dates([target.year], [str(params["festival"])])["first_day"].tolist()
    if target not in starts:
        return []
    if params.get("audience"):
        from memberlens.activation.recipients import audience_member_ids

        return sorted(set(audience_member_ids(project, str(params["audience"]), store)))
    return _ids(wh.table("mart_members")) if wh.has("mart_members") else []


def _replenishment(wh: Any, day: dt.date, within_days: int) -> list[str]:
    if not wh.has("mart_replenishment"):
        return []
    r = wh.table("mart_replenishment")
    target = day + dt.timedelta(days=int(within_days))
    return _ids(r.filter(r.expected_next_purchase.cast("date") == ibis.literal(target)))


def _winback(wh: Any, day: dt.date, gap_multiple: float) -> list[str]:
    if not wh.has("mart_members"):
        return []
    m = wh.table("mart_members").filter(lambda t: t.frequency >= 1)
    as_of = m.as_of.cast("date").max().to_pyarrow().as_py()
    if as_of is None:
        return []
    shift = (day - (as_of.date() if isinstance(as_of, dt.datetime) else as_of)).days
    gap = m.recency.cast("float64") / m.frequency.cast("float64")
    due = (gap * float(gap_multiple)).ceil().cast("int64")
    return _ids(m.filter((m.days_since_last + shift) == due))


def _churn_risk(wh: Any, threshold: float) -> list[str]:
    if not wh.has("mart_members") or "churn_probability" not in wh.table("mart_members").columns:
        return []
    m = wh.table("mart_members")
    return _ids(m.filter(m.churn_probability >= float(threshold)))


def _near_tier(wh: Any, project: Any, day: dt.date, params: Mapping) -> list[str]:
    from memberlens.activation.loyalty import loyalty_settings, member_tiers

    conf = loyalty_settings(project)
    if not wh.has("orders"):
        return []
    t = member_tiers(wh, conf, day)
    near = t.next_tier.notnull() & (t.gap > 0) & (t.gap_share <= float(params["max_share"]))
    if params.get("max_gap") is not None:
        near = near & (t.gap <= float(params["max_gap"]))
    return _ids(t.filter(near))


def _recently_targeted(engine: Engine, rule: str, since: dt.datetime) -> set[str]:
    s, c = ledger.SENDS, ledger.CAMPAIGNS
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(s.c.member_id)
            .join(c, c.c.campaign_id == s.c.campaign_id)
            .where(c.c.trigger == rule, c.c.created_at >= since)
        ).all()
    return {str(m) for (m,) in rows}


def firing_members(store: Any, project: Any, rule: TriggerRule, day: dt.date) -> list[str]:
    """The members ``rule`` fires for on ``day`` (read from the published warehouse)."""
    from memberlens.engine.warehouse import open_warehouse

    p = {**KINDS[rule.kind], **rule.params}
    with open_warehouse(project, read_only=True) as wh:
        if rule.kind == "birthday":
            ids = _birthday(wh, day, p["days_before"])
        elif rule.kind == "festival":
            ids = _festival(wh, project, store, day, p)
        elif rule.kind == "replenishment":
            ids = _replenishment(wh, day, p["within_days"])
        elif rule.kind == "winback":
            ids = _winback(wh, day, p["gap_multiple"])
        elif rule.kind == "near_tier":
            ids = _near_tier(wh, project, day, p)
        else:
            ids = _churn_risk(wh, p["threshold"])
    if rule.kind in _COOLING:
        since = dt.datetime.combine(day, dt.time()) - dt.timedelta(days=int(p["cooldown_days"]))
        recent = _recently_targeted(store.engine, rule.name, since)
        ids = [m for m in ids if m not in recent]
    return ids


def run_triggers(
    store: Any,
    project: Any,
    day: dt.date,
    *,
    now: dt.datetime | None = None,
    rules: list[str] | None = None,
) -> list[TriggerRun]:
    """Evaluate the enabled rules (or ``rules``) for ``day`` and send (see the module notes);
    ``now``: the time of the sends (UTC; default the clock: quiet hours and caps use it)."""
    from memberlens.activation.campaigns import create_campaign, find_campaign
    from memberlens.activation.sends import send

    engine = store.engine
    at = now or ledger.utcnow()
    out = []
    for rule in list_rules(engine):
        if (rules is not None and rule.name not in rules) or (rules is None and not rule.enabled):
            continue
        campaign_id = f"TRG-{rule.name}-{day:%Y%m%d}"
        runs = ledger.TRIGGER_RUNS
        with engine.connect() as conn:
            done = conn.execute(
                sa.select(runs.c.fired).where(runs.c.rule == rule.name, runs.c.run_date == day)
            ).first()
        members = None
        if done is None:
            members = firing_members(store, project, rule, day)
            if members:
                try:
                    find_campaign(engine, campaign_id)
                except NotFoundError:
                    create_campaign(
                        engine,
                        project,
                        name=f"{rule.name} {day:%Y-%m-%d}",
                        audience=f"trigger:{rule.name}:{day.isoformat()}",
                        channel=rule.channel,
                        template=rule.template,
                        offer=rule.offer,
                        holdout=rule.holdout,
                        trigger=rule.name,
                        now=at,
                        campaign_id=campaign_id,
                    )
        fired = len(members) if members is not None else int(done[0]) if done else 0
        result = None
        if fired:
            result = send(store, project, campaign_id, now=at, members=members)
        if done is None:
            with engine.begin() as conn:
                conn.execute(
                    runs.insert().values(
                        rule=rule.name,
                        run_date=day,
                        campaign_id=campaign_id if fired else None,
                        fired=fired,
                        ran_at=ledger.utcnow(),
                    )
                )
        out.append(
            TriggerRun(
                rule=rule.name,
                day=day,
                campaign_id=campaign_id if fired else None,
                fired=fired,
                sent=result.sent if result else 0,
                control=result.control if result else 0,
                excluded=result.excluded if result else 0,
                pending=result.pending if result else 0,
                repeated=done is not None,
            )
        )
    return out
