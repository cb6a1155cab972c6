"""Overview KPIs over a date range, compared with the period of the same length just before.

Definitions (member analytics read purchases as :mod:`memberlens.features.purchases` states:
paid orders with a member id, day resolution):

* ``revenue``: sum of paid amounts; ``orders``: paid orders; ``aov`` = revenue / orders;
* ``active_members``: members with at least one purchase in the range;
* ``new_members``: members whose first purchase ever falls in the range;
* ``repurchase_rate``: share of active members with purchases on two or more days in the range;
* ``retention``: share of the previous period's active members who are active again in this one;
* ``members``: members registered by the end of the range (``members`` table), else buyers so far.

One scan of the orders of the three periods (this, previous, the one before) gives every KPI of
this and the previous period; first-purchase and registration counts per day are computed once
per warehouse version (:func:`daily_counts`) and summed over any range.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

from memberlens.features.purchases import purchases

Grain = Literal["day", "week", "month"]
_TRUNC = {"week": "W", "month": "M"}
_FOREVER = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        end = self.start - dt.timedelta(days=1)
        return Period(end - dt.timedelta(days=self.days - 1), end)


def data_end(orders: ir.Table) -> dt.date | None:
    """The last order day in the warehouse (the default as-of)."""
    value = orders.ordered_at.max().execute()
    return None if value is None else value.date()


@dataclass(frozen=True)
class DailyCounts:
    """Members by day of first purchase and by day of registration (small: one row per day)."""

    first_purchase: dict[dt.date, int]
    registered: dict[dt.date, int] | None
    registered_undated: int = 0

    def new_members(self, period: Period) -> int:
        return sum(n for d, n in self.first_purchase.items() if period.start <= d <= period.end)

    def members(self, end: dt.date) -> int:
        if self.registered is None:
            return sum(n for d, n in self.first_purchase.items() if d <= end)
        return self.registered_undated + sum(n for d, n in self.registered.items() if d <= end)


def daily_counts(orders: ir.Table, members: ir.Table | None) -> DailyCounts:
    paid = purchases(orders, end=_FOREVER)
    first = paid.group_by("member_id").aggregate(day=paid.day.min())
    per_day = first.group_by("day").aggregate(n=first.count())
    first_purchase = {r["day"]: int(r["n"]) for r in per_day.to_pyarrow().to_pylist()}
    if members is None or "registered_at" not in members.columns:
        return DailyCounts(first_purchase, None)
    reg = members.group_by(day=members.registered_at.date()).aggregate(n=members.count())
    rows = reg.to_pyarrow().to_pylist()
    return DailyCounts(first_purchase, {r["day"]: int(r["n"]) for r in rows if r["day"]},
                       sum(int(r["n"]) for r in rows if r["day"] is None))


def _in(day: ir.DateValue, p: Period) -> ir.BooleanValue:
    return (day >= ibis.date(p.start)) & (day <= ibis.date(p.end))


def _count_if(cond: ir.BooleanValue) -> ir.IntegerScalar:
    return ibis.ifelse(cond, 1, 0).sum()


def period_kpis(orders: ir.Table, cur: Period) -> tuple[dict, dict]:
    """Revenue, orders, active, repeaters and retention of ``cur`` and the period before it."""
    prev, before = cur.previous(), cur.previous().previous()
    paid = purchases(orders, end=cur.end, start=before.start - dt.timedelta(days=1))
    per = paid.group_by("member_id").aggregate(
        c_days=paid.day.nunique(where=_in(paid.day, cur)),
        p_days=paid.day.nunique(where=_in(paid.day, prev)),
        b_days=paid.day.nunique(where=_in(paid.day, before)),
        c_rev=paid.amt.sum(where=_in(paid.day, cur)),
        p_rev=paid.amt.sum(where=_in(paid.day, prev)),
        c_orders=paid.count(where=_in(paid.day, cur)),
        p_orders=paid.count(where=_in(paid.day, prev)),
    )
    agg = per.aggregate(
        c_revenue=per.c_rev.sum().cast("float64"), p_revenue=per.p_rev.sum().cast("float64"),
        c_orders=per.c_orders.sum(), p_orders=per.p_orders.sum(),
        c_active=_count_if(per.c_days > 0), p_active=_count_if(per.p_days > 0),
        b_active=_count_if(per.b_days > 0),
        c_repeat=_count_if(per.c_days >= 2), p_repeat=_count_if(per.p_days >= 2),
        c_retained=_count_if((per.p_days > 0) & (per.c_days > 0)),
        p_retained=_count_if((per.b_days > 0) & (per.p_days > 0)),
    ).to_pyarrow().to_pylist()[0]
    out = []
    for k, base in (("c", "p"), ("p", "b")):
        revenue = float(agg[f"{k}_revenue"] or 0.0)
        n_orders = int(agg[f"{k}_orders"] or 0)
        active = int(agg[f"{k}_active"] or 0)
        base_active = int(agg[f"{base}_active"] or 0)
        out.append({
            "active_members": active, "revenue": round(revenue, 2), "orders": n_orders,
            "aov": round(revenue / n_orders, 2) if n_orders else None,
            "repurchase_rate": int(agg[f"{k}_repeat"] or 0) / active if active else None,
            "retention": (int(agg[f"{k}_retained"] or 0) / base_active
                          if base_active else None),
        })
    return out[0], out[1]


def trends(orders: ir.Table, cur: Period, grain: Grain) -> tuple[list[dict], list[dict]]:
    """Revenue, orders and active members per ``grain`` bucket of ``cur`` and of the period
    before (one query)."""
    prev = cur.previous()
    paid = purchases(orders, end=cur.end, start=prev.start - dt.timedelta(days=1))
    bucket = paid.day if grain == "day" else paid.day.truncate(_TRUNC[grain])
    paid = paid.mutate(bucket=bucket, current=paid.day >= ibis.date(cur.start))
    agg = paid.group_by(["current", "bucket"]).aggregate(
        revenue=paid.amt.sum().cast("float64"), orders=paid.count(),
        active_members=paid.member_id.nunique()).order_by(["current", "bucket"])
    out: dict[bool, list] = {True: [], False: []}
    for r in agg.to_pyarrow().to_pylist():
        out[bool(r["current"])].append({
            "bucket": str(r["bucket"])[:10], "revenue": round(float(r["revenue"]), 2),
            "orders": int(r["orders"]), "active_members": int(r["active_members"])})
    return out[True], out[False]


@dataclass(frozen=True)
class Overview:
    start: str
    end: str
    previous_start: str
    previous_end: str
    grain: str
    current: dict
    previous: dict
    change: dict
    trend: list
    previous_trend: list

    def to_dict(self) -> dict:
        return asdict(self)


_ORDER = ("members", "active_members", "revenue", "orders", "aov", "repurchase_rate",
          "retention", "new_members")


def overview(orders: ir.Table, counts: DailyCounts, period: Period, grain: Grain) -> Overview:
    prev_period = period.previous()
    cur, prev = period_kpis(orders, period)
    cur.update(members=counts.members(period.end), new_members=counts.new_members(period))
    prev.update(members=counts.members(prev_period.end),
                new_members=counts.new_members(prev_period))
    cur = {k: cur[k] for k in _ORDER}
    prev = {k: prev[k] for k in _ORDER}
    change = {k: (None if cur[k] is None or not prev[k]
                  else round((cur[k] - prev[k]) / abs(prev[k]), 4)) for k in _ORDER}
    cur_trend, prev_trend = trends(orders, period, grain)
    return Overview(period.start.isoformat(), period.end.isoformat(),
                    prev_period.start.isoformat(), prev_period.end.isoformat(), grain, cur, prev,
                    change, cur_trend, prev_trend)
