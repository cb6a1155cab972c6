"""Churn and purchase-propensity labels from a cutoff day, without leakage.

A member is *in the population* at a cutoff when they made at least one purchase (a paid order,
see :mod:`memberlens.features.purchases`) on or before the cutoff. Their labels look only at the
window that follows it:

* ``churned`` = 1 when they make **no** purchase in ``(cutoff, cutoff + horizon_days]``;
* ``purchased`` = 1 when they make at least one purchase in ``(cutoff, cutoff + 30 days]``
  (the propensity label; its window is ``PROPENSITY_DAYS``).

Features are computed from data on or before the cutoff only (:mod:`memberlens.churn.features`),
so the two never share a day. The default horizon comes from the shop's own rhythm: the
``quantile`` (default 0.8) of the gaps, in days, between consecutive purchase days of the same
member up to the cutoff. A member who has not bought for longer than 80 % of the shop's repeat
gaps is, by the shop's own standard, overdue (the "inter-purchase time" rule of thumb used in
non-contractual churn definitions, e.g. Buckinx & Van den Poel 2005, sec. 3.1).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.exceptions import DataError
from memberlens.features.purchases import as_day, as_table, purchases

__all__ = ["PROPENSITY_DAYS", "churn_labels", "default_horizon_days", "last_purchase_day"]

#: Days of the purchase-propensity window.
PROPENSITY_DAYS = 30
#: Shortest and longest default horizon (a shop with very few repeat gaps falls back to these).
MIN_HORIZON_DAYS, MAX_HORIZON_DAYS = PROPENSITY_DAYS, 365


def _purchase_days(orders: ir.Table, *, end: dt.date, start: dt.date | None = None) -> ir.Table:
    paid = purchases(orders, end=end, start=start)
    return paid.select("member_id", "day").distinct()


def last_purchase_day(orders: ir.Table | pd.DataFrame) -> dt.date:
    """The last day with a member purchase in ``orders`` (the latest possible label end)."""
    table = as_table(orders)
    paid = purchases(table, end=dt.date(9999, 12, 31))
    value = paid.day.max().execute()
    if value is None or pd.isna(value):
        raise DataError(
            "orders: no paid orders with a member_id; churn needs purchases of "
            "members (status 'paid', member_id set)"
        )
    return pd.Timestamp(value).date()


def default_horizon_days(
    orders: ir.Table | pd.DataFrame, *, cutoff: dt.date | str, quantile: float = 0.8
) -> int:
    """The ``quantile`` of gaps (days) between a member's consecutive purchase days up to
    ``cutoff``, rounded up and kept within [30, 365] days."""
    if not 0.0 < quantile < 1.0:
        raise DataError(
            f"quantile: must be between 0 and 1 (exclusive), got {quantile!r}; pass e.g. 0.8"
        )
    end = as_day(cutoff, name="cutoff")
    days = _purchase_days(as_table(orders), end=end)
    previous = days.day.lag().over(group_by=days.member_id, order_by=days.day)
    gaps = days.mutate(gap=days.day.delta(previous, unit="day")).filter(ibis._.gap.notnull())
    value = gaps.gap.quantile(quantile).execute()
    if value is None or pd.isna(value):
        return MIN_HORIZON_DAYS
    return int(min(max(int(-(-float(value) // 1)), MIN_HORIZON_DAYS), MAX_HORIZON_DAYS))


def churn_labels(
    orders: ir.Table | pd.DataFrame,
    *,
    cutoff: dt.date | str,
    horizon_days: int,
    last_day: dt.date | None = None,
) -> ir.Table:
    """Per member who bought on or before ``cutoff``: member_id, churned (0/1), purchased (0/1).

    The windows must lie inside the data: a label end after the last purchase day would call
    everyone a churner, so it is refused. ``last_day``: :func:`last_purchase_day` of
    ``orders`` when the caller knows it (a training labels a dozen cutoffs of the same orders).
    """
    end = as_day(cutoff, name="cutoff")
    if int(horizon_days) < 1:
        raise DataError(f"horizon_days: must be >= 1, got {horizon_days!r}; pass e.g. 90")
    table = as_table(orders)
    last = last_day if last_day is not None else last_purchase_day(table)
    label_end = end + dt.timedelta(days=max(int(horizon_days), PROPENSITY_DAYS))
    if label_end > last:
        raise DataError(
            f"cutoff: {end} + {max(int(horizon_days), PROPENSITY_DAYS)} days ends on {label_end}, "
            f"after the last purchase day in the data ({last}); pass a cutoff on or before "
            f"{last - dt.timedelta(days=max(int(horizon_days), PROPENSITY_DAYS))}"
        )
    base = _purchase_days(table, end=end).select("member_id").distinct()
    after = _purchase_days(table, start=end, end=end + dt.timedelta(days=int(horizon_days)))
    soon = _purchase_days(table, start=end, end=end + dt.timedelta(days=PROPENSITY_DAYS))
    came_back = after.select("member_id").distinct().mutate(back=ibis.literal(1))
    bought = soon.select("member_id").distinct().mutate(soon=ibis.literal(1))
    out = (
        base.left_join(came_back, "member_id")
        .drop("member_id_right")
        .left_join(bought, "member_id")
        .drop("member_id_right")
    )
    return out.select(
        "member_id",
        churned=(1 - out.back.fill_null(0)).cast("int8"),
        purchased=out.soon.fill_null(0).cast("int8"),
    )
