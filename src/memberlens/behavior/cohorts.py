"""Cohorts and retention, as long tables ready for a heatmap (Ibis, lazy).

A **cohort** is the calendar month of a member's first purchase (:func:`cohort_retention`) or of
registration (:func:`registration_cohort_retention`). ``months_since`` is the calendar-month
distance ``(year * 12 + month) - (cohort year * 12 + cohort month)``: integer arithmetic on
truncated dates, identical on DuckDB and Spark (DESIGN.md, engine notes). Every cohort gets one
row per month from 0 up to the as-of month, so months without buyers show 0, not a gap.

Columns: cohort_month (date, first day of the month), months_since, cohort_size,
active_members (members with a purchase in that month), retention_rate (active / cohort size),
repeat_members (members whose *second* purchase day falls in or before that month; for
registration cohorts, whose first purchase does), repurchase_rate (repeat / cohort size),
revenue (paid amount in that month, float from an exact decimal sum), revenue_per_member
(revenue / cohort size) and partial_month (True for the as-of month when the as-of day is not its
last day: that month's figures cover only part of it, so its lower retention is not a drop).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.features.purchase_days import purchase_days
from memberlens.features.purchases import as_day, as_table

__all__ = [
    "COHORT_COLUMNS",
    "cohort_retention",
    "cohort_retention_from_days",
    "registration_cohort_retention",
]

COHORT_COLUMNS: tuple[str, ...] = (
    "cohort_month",
    "months_since",
    "cohort_size",
    "active_members",
    "retention_rate",
    "repeat_members",
    "repurchase_rate",
    "revenue",
    "revenue_per_member",
    "partial_month",
)


def _month_index(day: ir.DateValue) -> ir.IntegerValue:
    return (day.year() * 12 + day.month() - 1).cast("int64")


def _month_of_index(index: ir.IntegerValue) -> ir.DateValue:
    return ibis.date((index // 12).cast("int32"), (index % 12 + 1).cast("int32"), 1)


def _member_months(days: ir.Table) -> ir.Table:
    """One row per member and purchase month: revenue of the month (from purchase days)."""
    days = days.mutate(month_idx=_month_index(days.day))
    return days.group_by(["member_id", "month_idx"]).aggregate(revenue=days.amt.sum())


def _second_days(days: ir.Table) -> ir.Table:
    """The month index of each member's second purchase day (repeat buyers only): the first
    purchase day is the only one without a gap before it, so the second is the earliest of
    the others (no window)."""
    later = days.filter(days.gap.notnull())
    second = later.group_by("member_id").aggregate(day=later.day.min())
    return second.select("member_id", repeat_idx=_month_index(second.day))


def _grid(cohorts: ir.Table, as_of_idx: int) -> ir.Table:
    """Every (cohort, months_since) from 0 to the as-of month."""
    return cohorts.mutate(
        months_since=ibis.range(0, as_of_idx - cohorts.cohort_idx + 1).unnest().cast("int64")
    )


def _as_of_month(as_of_day: dt.date) -> tuple[int, bool]:
    """The as-of month's index and whether the as-of day leaves part of it out."""
    partial = (as_of_day + dt.timedelta(days=1)).month == as_of_day.month
    return as_of_day.year * 12 + as_of_day.month - 1, partial


def _assemble(
    cohorts: ir.Table,
    members: ir.Table,
    months: ir.Table,
    repeats: ir.Table,
    as_of_idx: int,
    partial: bool,
) -> ir.Table:
    """Join cohort sizes, monthly activity and cumulative repeat buyers on the grid.

    ``members``: member_id, cohort_idx; ``months``: member_id, month_idx, revenue;
    ``repeats``: member_id, repeat_idx.
    """
    active = months.join(members, "member_id").filter(lambda t: t.month_idx >= t.cohort_idx)
    active = active.mutate(months_since=(active.month_idx - active.cohort_idx).cast("int64"))
    activity = active.group_by(["cohort_idx", "months_since"]).aggregate(
        active_members=active.count(), revenue_dec=active.revenue.sum()
    )
    rep = repeats.join(members, "member_id")
    rep = rep.mutate(months_since=ibis.greatest(rep.repeat_idx - rep.cohort_idx, 0).cast("int64"))
    new_repeat = rep.group_by(["cohort_idx", "months_since"]).aggregate(new_repeat=rep.count())

    grid = _grid(cohorts, as_of_idx)
    out = (
        grid.left_join(activity, ["cohort_idx", "months_since"])
        .drop("cohort_idx_right", "months_since_right")
        .left_join(new_repeat, ["cohort_idx", "months_since"])
        .drop("cohort_idx_right", "months_since_right")
    )
    active_members = out.active_members.fill_null(0).cast("int64")
    revenue = out.revenue_dec.cast("float64").fill_null(0.0)
    repeat_members = (
        out.new_repeat.fill_null(0)
        .sum()
        .over(group_by=out.cohort_idx, order_by=out.months_since, rows=(None, 0))
        .cast("int64")
    )
    size = out.cohort_size.cast("float64")
    out = out.mutate(active_members=active_members, revenue=revenue, repeat_members=repeat_members)
    return out.select(
        cohort_month=_month_of_index(out.cohort_idx),
        months_since=out.months_since,
        cohort_size=out.cohort_size.cast("int64"),
        active_members=out.active_members,
        retention_rate=out.active_members.cast("float64") / size,
        repeat_members=out.repeat_members,
        repurchase_rate=out.repeat_members.cast("float64") / size,
        revenue=out.revenue,
        revenue_per_member=out.revenue / size,
        partial_month=(out.cohort_idx + out.months_since == as_of_idx) & ibis.literal(partial),
    ).order_by(["cohort_month", "months_since"])


def cohort_retention(orders: ir.Table | pd.DataFrame, *, as_of: dt.date | str) -> ir.Table:
    """Retention, repurchase and revenue by first-purchase month cohort (see the module notes).

    >>> import pandas as pd
    >>> orders = pd.DataFrame({"order_id": ["1", "2", "3"], "member_id": ["a", "a", "b"],
    ...     "ordered_at": pd.to_datetime(["2024-01-05", "2024-03-02", "2024-01-20"]),
    ...     "amount": [10.0, 12.0, 9.0], "status": "paid"})
    >>> r = cohort_retention(orders, as_of="2024-03-31").to_pandas()
    >>> r["active_members"].tolist(), r["retention_rate"].tolist(), r["repeat_members"].tolist()
    ([2, 0, 1], [1.0, 0.0, 0.5], [0, 0, 1])
    """
    as_of_day = as_day(as_of)
    return cohort_retention_from_days(purchase_days(as_table(orders), end=as_of_day), as_of=as_of)


def cohort_retention_from_days(days: ir.Table, *, as_of: dt.date | str) -> ir.Table:
    """:func:`cohort_retention` from purchase days
    (:func:`memberlens.features.purchase_days.purchase_days` up to ``as_of``), as the pipeline
    computes them once for several steps."""
    as_of_day = as_day(as_of)
    months = _member_months(days)
    members = months.group_by("member_id").aggregate(cohort_idx=months.month_idx.min())
    cohorts = members.group_by("cohort_idx").aggregate(cohort_size=members.count())
    return _assemble(cohorts, members, months, _second_days(days), *_as_of_month(as_of_day))


def registration_cohort_retention(
    orders: ir.Table | pd.DataFrame, members: ir.Table | pd.DataFrame, *, as_of: dt.date | str
) -> ir.Table:
    """The same table by registration month (``members.registered_at``): cohort_size counts
    every member registered that month (buyers or not) and repeat_members counts those who have
    made a **first** purchase by that month (conversion), so repurchase_rate reads "bought at
    least once". Members registered after ``as_of`` or without ``registered_at`` are left out.
    """
    as_of_day = as_day(as_of)
    days = purchase_days(as_table(orders), end=as_of_day)
    people = as_table(members, name="members", required=("member_id", "registered_at"))
    registered = people.registered_at
    reg_day = registered.date() if registered.type().is_timestamp() else registered
    people = people.filter(registered.notnull() & (reg_day <= ibis.date(as_of_day)))
    people = people.select("member_id", cohort_idx=_month_index(reg_day))
    cohorts = people.group_by("cohort_idx").aggregate(cohort_size=people.count())
    months = _member_months(days)
    first = months.group_by("member_id").aggregate(repeat_idx=months.month_idx.min())
    return _assemble(cohorts, people, months, first, *_as_of_month(as_of_day))
