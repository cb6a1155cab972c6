"""Overview KPIs over a date range, compared with the period of the same length just before.

Definitions (member analytics read purchases as :mod:`memberlens.features.purchases` states:
paid orders with a member id, day resolution):

* ``revenue``: sum of paid amounts; ``orders``: paid orders; ``aov`` = revenue / orders;
* ``active_members``: members with at least one purchase in the range;
* ``new_members``: members whose first purchase ever falls in the range;
* ``repurchase_rate``: share of active members with purchases on two or more days in the range;
* ``retention``: share of the previous period's active members who are active again in this one;
* ``members``: members registered by the end of the range (``members`` table), else buyers so far.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

from memberlens.features.purchases import purchases

Grain = Literal["day", "week", "month"]
_TRUNC = {"day": "D", "week": "W", "month": "M"}


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


def _window(orders: ir.Table, period: Period) -> ir.Table:
    return purchases(orders, end=period.end, start=period.start - dt.timedelta(days=1))


def kpis(orders: ir.Table, members: ir.Table | None, period: Period) -> dict:
    """The KPI values of one period (plain Python numbers)."""
    paid = _window(orders, period)
    per_member = paid.group_by("member_id").aggregate(days=paid.day.nunique())
    head = paid.aggregate(revenue=paid.amt.sum().cast("float64"), orders=paid.count(),
                          active=paid.member_id.nunique()).to_pyarrow().to_pylist()[0]
    repeaters = int(per_member.filter(per_member.days >= 2).count().execute())
    everyone = purchases(orders, end=period.end)
    first = everyone.group_by("member_id").aggregate(first_day=everyone.day.min())
    new = int(first.filter(first.first_day >= ibis.date(period.start)).count().execute())
    prev = period.previous()
    prev_active = _window(orders, prev).select("member_id").distinct()
    retained = int(prev_active.semi_join(paid.select("member_id").distinct(), "member_id")
                   .count().execute())
    prev_n = int(prev_active.count().execute())
    if members is not None and "registered_at" in members.columns:
        registered = members.filter(members.registered_at.isnull()
                                    | (members.registered_at.date() <= ibis.date(period.end)))
        total = int(registered.count().execute())
    else:
        total = int(first.count().execute())
    revenue = float(head["revenue"] or 0.0)
    n_orders = int(head["orders"] or 0)
    active = int(head["active"] or 0)
    return {
        "members": total, "active_members": active, "revenue": round(revenue, 2),
        "orders": n_orders, "aov": round(revenue / n_orders, 2) if n_orders else None,
        "repurchase_rate": repeaters / active if active else None,
        "retention": retained / prev_n if prev_n else None, "new_members": new,
    }


def trend(orders: ir.Table, period: Period, grain: Grain) -> list[dict]:
    """Revenue, orders and active members per ``grain`` bucket of ``period``."""
    paid = _window(orders, period)
    bucket = paid.day.truncate(_TRUNC[grain]) if grain != "day" else paid.day
    paid = paid.mutate(bucket=bucket)
    agg = paid.group_by("bucket").aggregate(
        revenue=paid.amt.sum().cast("float64"), orders=paid.count(),
        active_members=paid.member_id.nunique()).order_by("bucket")
    return [{"bucket": str(r["bucket"])[:10], "revenue": round(float(r["revenue"]), 2),
             "orders": int(r["orders"]), "active_members": int(r["active_members"])}
            for r in agg.to_pyarrow().to_pylist()]


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


def overview(orders: ir.Table, members: ir.Table | None, period: Period, grain: Grain) -> Overview:
    cur = kpis(orders, members, period)
    prev_period = period.previous()
    prev = kpis(orders, members, prev_period)
    change = {}
    for key, value in cur.items():
        before = prev.get(key)
        change[key] = (None if value is None or not before
                       else round((value - before) / abs(before), 4))
    return Overview(period.start.isoformat(), period.end.isoformat(),
                    prev_period.start.isoformat(), prev_period.end.isoformat(), grain, cur, prev,
                    change, trend(orders, period, grain), trend(orders, prev_period, grain))
