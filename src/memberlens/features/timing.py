"""Purchase timing beyond recency: the sum of log inter-purchase times per member (``litt``).

MBG/CNBD-k and the other regularity models (Platzer & Reutterer 2016; BTYDplus ``elog2cbs``)
need, besides frequency, recency and T, ``litt = sum_j log(t_j - t_{j-1})`` over a member's
purchase days (same-day orders merged, as in :func:`memberlens.features.rfm_summary`), gaps in
the time unit. One window (LAG over each member's purchase days) and one GROUP BY, in the engine.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.features.purchases import TimeUnit, as_day, as_table, purchases, unit_days

__all__ = ["interpurchase_log_times"]


def interpurchase_log_times(
    orders: ir.Table | pd.DataFrame,
    *,
    end: dt.date | str,
    time_unit: TimeUnit = "W",
) -> ir.Table:
    """member_id, ``litt`` (sum of log gaps between consecutive purchase days, in ``time_unit``;
    0 for a member with one purchase day) for every member who bought on or before ``end``.

    >>> import pandas as pd
    >>> orders = pd.DataFrame({"member_id": ["a", "a", "a", "b"],
    ...     "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-22", "2024-01-03"]),
    ...     "amount": [1.0, 1.0, 1.0, 1.0]})
    >>> t = interpurchase_log_times(orders, end="2024-01-31", time_unit="W").to_pandas()
    >>> t.sort_values("member_id")["litt"].round(6).tolist()  # log(1) + log(2), and 0
    [0.693147, 0.0]
    """
    days_per_unit = unit_days(time_unit)
    paid = purchases(as_table(orders), end=as_day(end, name="end"))
    days = paid.select("member_id", "day").distinct()
    window = ibis.window(group_by="member_id", order_by="day")
    gaps = days.mutate(previous=days.day.lag().over(window))
    gap = gaps.day.delta(gaps.previous, unit="day").cast("float64") / days_per_unit
    gaps = gaps.mutate(log_gap=ibis.ifelse(gaps.previous.notnull(), gap.log(), 0.0))
    return gaps.group_by("member_id").aggregate(litt=gaps.log_gap.sum())
