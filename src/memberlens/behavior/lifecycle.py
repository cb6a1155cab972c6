"""Member lifecycle stages at an as-of day, their counts over time and month-over-month moves.

Stages are rules declared as data (:class:`StageRule`), evaluated **in order, first match
wins**, on four per-member facts computed in the engine from purchases (see
:mod:`memberlens.features.purchases` for what counts as one):

* ``days_since_first`` / ``days_since_last``: days from the first / last purchase day to as-of;
* ``gap_before_last``: days between the last purchase day and the one before it (null for a
  single purchase day);
* ``recent_purchase_days``: purchase days within the last ``loyal_window_days``.

Default thresholds (:class:`LifecycleRules`, all configurable, e.g. from the ``[lifecycle]``
table of the project file):

===========  ==================================================================================
stage        rule (first match wins)
===========  ==================================================================================
new          first purchase at most ``new_days`` (30) days ago
won_back     last purchase at most ``active_days`` (90) days ago after a gap of more than
             ``won_back_gap_days`` (180) days
loyal        last purchase at most ``active_days`` ago and at least ``loyal_purchase_days`` (3)
             purchase days in the last ``loyal_window_days`` (365)
active       last purchase at most ``active_days`` ago
declining    last purchase more than ``active_days`` and at most ``dormant_days`` (180) days ago
dormant      last purchase more than ``dormant_days`` and at most ``churned_days`` (365) days ago
churned      last purchase more than ``churned_days`` days ago
===========  ==================================================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.exceptions import ConfigError
from memberlens.features.purchase_days import purchase_days
from memberlens.features.purchases import as_day, as_table

__all__ = [
    "STAGE_KEYS",
    "STAGE_NAMES",
    "LifecycleRules",
    "StageRule",
    "counts_from_monthly",
    "lifecycle_counts",
    "lifecycle_stages",
    "monthly_stage_codes",
    "monthly_stages",
    "stage_codes",
    "stage_names",
    "stage_transitions",
    "transition_matrix",
    "transitions_from_monthly",
]

Fact = Literal["days_since_first", "days_since_last", "gap_before_last", "recent_purchase_days"]
Op = Literal["<=", "<", ">", ">="]

#: Stage key -> (English, Chinese) names; "none" marks a member with no purchase yet.
STAGE_NAMES: dict[str, tuple[str, str]] = {
    "new": ("New", "新客"),
    "won_back": ("Won back", "回流"),
    "loyal": ("Loyal", "忠诚"),
    "active": ("Active", "活跃"),
    "declining": ("Declining", "衰退"),
    "dormant": ("Dormant", "沉睡"),
    "churned": ("Churned", "流失"),
    "none": ("Not yet a buyer", "未购买"),
}


#: The stage keys in rule order (:attr:`LifecycleRules.stages`, whatever the thresholds): the
#: code of a stage in :func:`stage_codes` is its position here.
STAGE_KEYS: tuple[str, ...] = (
    "new",
    "won_back",
    "loyal",
    "active",
    "declining",
    "dormant",
    "churned",
)


@dataclass(frozen=True)
class StageRule:
    """A stage and its conditions: every ``(fact, op, threshold)`` must hold."""

    key: str
    conditions: tuple[tuple[Fact, Op, int], ...]

    @property
    def en(self) -> str:
        return STAGE_NAMES.get(self.key, (self.key, self.key))[0]

    @property
    def zh(self) -> str:
        return STAGE_NAMES.get(self.key, (self.key, self.key))[1]


@dataclass(frozen=True)
class LifecycleRules:
    """Day thresholds of the lifecycle stages (see the module table)."""

    new_days: int = 30
    active_days: int = 90
    dormant_days: int = 180
    churned_days: int = 365
    won_back_gap_days: int = 180
    loyal_purchase_days: int = 3
    loyal_window_days: int = 365

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"lifecycle.{f.name}: must be a positive whole number, got {value!r}"
                )
        if not self.active_days < self.dormant_days < self.churned_days:
            raise ConfigError(
                "lifecycle: need active_days < dormant_days < churned_days, got "
                f"{self.active_days}, {self.dormant_days}, {self.churned_days}; fix the order"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LifecycleRules:
        """Thresholds from a mapping (the ``[lifecycle]`` table of the project file)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(
                f"lifecycle: unknown setting(s) {sorted(unknown)}; allowed: "
                f"{', '.join(sorted(known))}"
            )
        return cls(**dict(data))

    @property
    def stages(self) -> tuple[StageRule, ...]:
        """The ordered stage rules implied by the thresholds."""
        recent = ("days_since_last", "<=", self.active_days)
        return (
            StageRule("new", (("days_since_first", "<=", self.new_days),)),
            StageRule("won_back", (recent, ("gap_before_last", ">", self.won_back_gap_days))),
            StageRule("loyal", (recent, ("recent_purchase_days", ">=", self.loyal_purchase_days))),
            StageRule("active", (recent,)),
            StageRule("declining", (("days_since_last", "<=", self.dormant_days),)),
            StageRule("dormant", (("days_since_last", "<=", self.churned_days),)),
            StageRule("churned", (("days_since_last", ">", self.churned_days),)),
        )


_OPS = {
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _member_days(orders: ir.Table, end: dt.date) -> ir.Table:
    """Distinct (member_id, day) purchase days up to ``end`` with ``gap`` to the previous one
    (:func:`memberlens.features.purchase_days.purchase_days`)."""
    return purchase_days(orders, end=end).select("member_id", "day", "gap")


def _facts(days: ir.Table, as_of: dt.date, rules: LifecycleRules) -> ir.Table:
    days = days.filter(days.day <= ibis.date(as_of))
    as_of_lit = ibis.date(as_of)
    window_start = ibis.date(as_of - dt.timedelta(days=rules.loyal_window_days))
    facts = days.group_by("member_id").aggregate(
        first_day=days.day.min(),
        last_day=days.day.max(),
        gap_before_last=days.gap.argmax(days.day),
        recent_purchase_days=(days.day > window_start).cast("int64").sum(),
    )
    return facts.select(
        "member_id",
        days_since_first=as_of_lit.delta(facts.first_day, unit="day").cast("int64"),
        days_since_last=as_of_lit.delta(facts.last_day, unit="day").cast("int64"),
        gap_before_last=facts.gap_before_last.cast("int64"),
        recent_purchase_days=facts.recent_purchase_days.cast("int64"),
    )


def _branches(facts, rules: LifecycleRules) -> list:
    """(condition, stage key) per stage rule, in order, over the four facts."""
    branches = []
    for stage in rules.stages:
        ok = ibis.literal(True)
        for fact, op, threshold in stage.conditions:
            ok &= _OPS[op](facts[fact], threshold).fill_null(False)
        branches.append((ok, stage.key))
    return branches


def _stages(days: ir.Table, as_of: dt.date, rules: LifecycleRules) -> ir.Table:
    facts = _facts(days, as_of, rules)
    branches = _branches(facts, rules)
    return facts.mutate(stage=ibis.cases(*branches, else_=ibis.null("string"))).select(
        "member_id",
        "stage",
        "days_since_first",
        "days_since_last",
        "gap_before_last",
        "recent_purchase_days",
    )


def lifecycle_stages(
    orders: ir.Table | pd.DataFrame, *, as_of: dt.date | str, rules: LifecycleRules | None = None
) -> ir.Table:
    """One row per member who bought on or before ``as_of``: member_id, stage, the four facts.

    >>> import pandas as pd
    >>> orders = pd.DataFrame({"order_id": ["1", "2", "3"], "member_id": ["a", "a", "b"],
    ...     "ordered_at": pd.to_datetime(["2023-01-05", "2024-06-20", "2024-06-25"]),
    ...     "amount": [10.0, 12.0, 9.0], "status": "paid"})
    >>> s = lifecycle_stages(orders, as_of="2024-06-30").to_pandas().sort_values("member_id")
    >>> s.stage.tolist()
    ['won_back', 'new']
    """
    rules = rules or LifecycleRules()
    as_of_day = as_day(as_of)
    return _stages(_member_days(as_table(orders), as_of_day), as_of_day, rules)


def _month_ends(start: dt.date, end: dt.date) -> list[dt.date]:
    ends = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="ME")
    return [d.date() for d in ends]


def _checked_months(start, end, *, at_least: int, caller: str) -> list[dt.date]:
    months = _month_ends(as_day(start, name="start"), as_day(end, name="end"))
    if len(months) < at_least:
        need = "a month end" if at_least == 1 else "two month ends"
        raise ConfigError(
            f"{caller}: need {need} between start={start} and end={end}; widen the range"
        )
    return months


#: the purchase day and the gap before it packed into one integer (day << 32 | gap), so that
#: one MAX gives a member's last purchase day up to a point and the gap before that day
_DAY_SHIFT = 32
_GAP_MASK = (1 << _DAY_SHIFT) - 1
_EPOCH = dt.date(1970, 1, 1)


def stage_codes(
    days: ir.Table,
    points: Mapping[str, dt.date],
    *,
    rules: LifecycleRules | None = None,
) -> ir.Table:
    """Each member's stage at several days, as codes, from purchase days in **one** GROUP BY.

    ``days``: a member's purchase days with the gap before each
    (:func:`memberlens.features.purchase_days.purchase_days`, up to the last point or later);
    ``points``: output column -> day. One row per member who bought by the last point:
    ``member_id`` and, per point, the stage's position in :data:`STAGE_KEYS` (int8; null
    before the member's first purchase). The facts of every point are aggregates filtered to
    the days up to it; the last day and the gap before it come from one MAX of the two packed
    into an integer, not a MAX and an ARG_MAX. The stages equal :func:`lifecycle_stages` at
    each point (a test compares them).
    """
    rules = rules or LifecycleRules()
    days = days.filter(days.day <= ibis.date(max(points.values())))
    day_number = days.day.delta(ibis.date(_EPOCH), unit="day").cast("int64")
    # a gap is at least one day: 0 stands for "no earlier purchase day"
    packed = (day_number << _DAY_SHIFT) + days.gap.fill_null(0).cast("int64")
    aggs = {}
    for i, point in enumerate(points.values()):
        upto = days.day <= ibis.date(point)
        window_start = ibis.date(point - dt.timedelta(days=rules.loyal_window_days))
        aggs[f"last_{i}"] = packed.max(where=upto)
        aggs[f"recent_{i}"] = days.day.count(where=upto & (days.day > window_start))
    facts = days.group_by("member_id").aggregate(first_day=days.day.min(), **aggs)
    columns = {}
    for i, (name, point) in enumerate(points.items()):
        last = facts[f"last_{i}"]
        gap = last & _GAP_MASK
        values = {
            "days_since_first": ibis.date(point).delta(facts.first_day, unit="day").cast("int64"),
            "days_since_last": ((point - _EPOCH).days - (last >> _DAY_SHIFT)).cast("int64"),
            "gap_before_last": ibis.ifelse(gap > 0, gap, ibis.null("int64")),
            "recent_purchase_days": facts[f"recent_{i}"].cast("int64"),
        }
        bought = facts.first_day <= ibis.date(point)
        branches = [(bought & ok, STAGE_KEYS.index(key)) for ok, key in _branches(values, rules)]
        columns[name] = ibis.cases(*branches, else_=ibis.null("int8")).cast("int8")
    return facts.select("member_id", **columns)


def stage_names(code: ir.IntegerValue) -> ir.StringValue:
    """The stage key of a code of :func:`stage_codes` (null stays null)."""
    return code.cases(*enumerate(STAGE_KEYS), else_=ibis.null("string"))


def monthly_stage_codes(
    days: ir.Table,
    *,
    start: dt.date | str,
    end: dt.date | str,
    rules: LifecycleRules | None = None,
) -> ir.Table:
    """:func:`stage_codes` at every month end in ``[start, end]``: ``member_id`` and one
    ``stage_<YYYYMMDD>`` code column per month end, the input of :func:`counts_from_monthly`
    and :func:`transitions_from_monthly` (materialise it first when both are needed)."""
    months = _checked_months(start, end, at_least=1, caller="monthly_stage_codes")
    return stage_codes(days, {_stage_column(m): m for m in months}, rules=rules)


def monthly_stages(
    orders: ir.Table | pd.DataFrame,
    *,
    start: dt.date | str,
    end: dt.date | str,
    rules: LifecycleRules | None = None,
) -> ir.Table:
    """Each member's stage at every month end in ``[start, end]``, wide and lazy.

    One row per member who bought by the last month end: ``member_id`` and one column
    ``stage_<YYYYMMDD>`` per month end (null before the member's first purchase). The facts of
    every month end come from **one** pass over the purchase days (:func:`stage_codes`),
    instead of one pass per month; the result equals :func:`lifecycle_stages` at each month
    end (a test compares them).
    """
    months = _checked_months(start, end, at_least=1, caller="monthly_stages")
    days = _member_days(as_table(orders), months[-1])
    codes = monthly_stage_codes(days, start=months[0], end=months[-1], rules=rules)
    return codes.select(
        "member_id", **{_stage_column(m): stage_names(codes[_stage_column(m)]) for m in months}
    )


def _stage_column(month: dt.date) -> str:
    return f"stage_{month:%Y%m%d}"


def _months_of(wide: ir.Table) -> list[dt.date]:
    return [
        dt.datetime.strptime(c.removeprefix("stage_"), "%Y%m%d").date()
        for c in wide.columns
        if c.startswith("stage_")
    ]


def counts_from_monthly(wide: ir.Table) -> ir.Table:
    """Members per stage at each month end (long: as_of, stage, members) from
    :func:`monthly_stage_codes`, counted on the codes and named afterwards."""
    parts = []
    for m in _months_of(wide):
        col = wide[_stage_column(m)]
        parts.append(wide.filter(col.notnull()).select(code=col, as_of=ibis.date(m)))
    stacked = ibis.union(*parts, distinct=False)
    counts = stacked.group_by(["as_of", "code"]).aggregate(members=stacked.count())
    counts = counts.select("as_of", stage=stage_names(counts.code), members=counts.members)
    return counts.order_by(["as_of", "stage"])


def transitions_from_monthly(wide: ir.Table) -> ir.Table:
    """Moves between consecutive month ends (long: from_as_of, to_as_of, from_stage, to_stage,
    members) from :func:`monthly_stage_codes`; "none" before a member's first purchase."""
    months = _months_of(wide)
    if len(months) < 2:
        raise ConfigError("stage transitions need two month ends; widen the range")
    parts = []
    for before, after in zip(months[:-1], months[1:], strict=True):
        old, new = wide[_stage_column(before)], wide[_stage_column(after)]
        parts.append(
            wide.filter(new.notnull()).select(
                from_as_of=ibis.date(before), to_as_of=ibis.date(after), old=old, new=new
            )
        )
    stacked = ibis.union(*parts, distinct=False)
    counts = stacked.group_by(["from_as_of", "to_as_of", "old", "new"]).aggregate(
        members=stacked.count()
    )
    counts = counts.select(
        "from_as_of",
        "to_as_of",
        from_stage=stage_names(counts.old).fill_null("none"),
        to_stage=stage_names(counts.new),
        members=counts.members,
    )
    return counts.order_by(["from_as_of", "from_stage", "to_stage"])


def _monthly_codes(orders, start, end, rules, *, at_least: int, caller: str) -> ir.Table:
    months = _checked_months(start, end, at_least=at_least, caller=caller)
    days = _member_days(as_table(orders), months[-1])
    return monthly_stage_codes(days, start=months[0], end=months[-1], rules=rules)


def lifecycle_counts(
    orders: ir.Table | pd.DataFrame,
    *,
    start: dt.date | str,
    end: dt.date | str,
    rules: LifecycleRules | None = None,
) -> ir.Table:
    """Members per stage at every month end in ``[start, end]`` (long: as_of, stage, members).

    Lazy, one engine query over :func:`monthly_stage_codes`.
    """
    wide = _monthly_codes(orders, start, end, rules, at_least=1, caller="lifecycle_counts")
    return counts_from_monthly(wide)


def stage_transitions(
    orders: ir.Table | pd.DataFrame,
    *,
    start: dt.date | str,
    end: dt.date | str,
    rules: LifecycleRules | None = None,
) -> ir.Table:
    """Member moves between consecutive month ends (lazy, long: from_as_of, to_as_of,
    from_stage, to_stage, members). A member without a purchase yet at the earlier month is
    ``"none"``.
    """
    wide = _monthly_codes(orders, start, end, rules, at_least=2, caller="stage_transitions")
    return transitions_from_monthly(wide)


def transition_matrix(transitions: pd.DataFrame, *, normalize: bool = True) -> pd.DataFrame:
    """Stage-to-stage matrix summed over months; rows are shares of the from-stage if
    ``normalize`` (each row sums to 1), else member counts.
    """
    order = [k for k in STAGE_NAMES if k in set(transitions.from_stage) | set(transitions.to_stage)]
    matrix = transitions.pivot_table(
        index="from_stage", columns="to_stage", values="members", aggfunc="sum", fill_value=0
    )
    matrix = matrix.reindex(
        index=[k for k in order if k in matrix.index],
        columns=[k for k in order if k != "none"],
        fill_value=0,
    )
    if normalize:
        matrix = matrix.div(matrix.sum(axis=1), axis=0)
    return matrix
