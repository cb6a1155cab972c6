"""Per-member purchase summaries (RFM and the BTYD "frequency, recency, T") in Ibis.

Definitions follow the buy-till-you-die literature (Fader, Hardie & Lee 2005, "Counting Your
Customers the Easy Way", sec. 4) and the ``lifetimes`` / ``pymc-marketing`` glossary:

* orders on the same calendar day are merged into one purchase (R BTYD
  ``dc.MergeTransactionsOnSameDate``); ``purchase_days`` counts those days;
* ``frequency`` = purchase_days - 1 (repeat purchases);
* ``recency`` = last purchase day - first purchase day, ``T`` = as-of day - first purchase day,
  both exact elapsed days divided by the time unit (floats: 216 days = 30.857143 weeks);
* ``monetary_value`` = mean value of the repeat purchase days (the first day excluded), 0 when
  ``frequency`` is 0, as ``lifetimes.utils.summary_data_from_transaction_data`` does.

What counts as a purchase or a refund is stated in :mod:`memberlens.features.purchases`.
Both functions return lazy Ibis tables (call ``.to_pandas()``); a pandas input is wrapped in
``ibis.memtable`` and runs on Ibis' default backend (DuckDB).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.exceptions import ConfigError, DataError
from memberlens.features.purchases import (
    TimeUnit,
    as_day,
    as_table,
    purchases,
    refunds,
    unit_days,
)

__all__ = ["RFM_SUMMARY_COLUMNS", "calibration_holdout_summary", "rfm_summary"]

#: Output columns of :func:`rfm_summary`, in order.
RFM_SUMMARY_COLUMNS: tuple[str, ...] = (
    "member_id", "first_purchase_at", "last_purchase_at", "purchase_days", "frequency",
    "recency", "T", "monetary_value", "total_spend", "order_count", "aov", "days_since_last",
    "refunded_amount", "refund_share", "favourite_category", "favourite_channel",
)


def _daily(paid: ir.Table) -> ir.Table:
    """One row per member and purchase day (same-day orders merged)."""
    return paid.group_by(["member_id", "day"]).aggregate(
        day_amount=paid.amt.sum(),
        day_orders=paid.count(),
        day_first_at=paid.ordered_at.min(),
        day_last_at=paid.ordered_at.max(),
    )


def _core(daily: ir.Table, *, as_of: dt.date, days_per_unit: float) -> ir.Table:
    """frequency, recency, T, monetary value and totals from the daily rows."""
    agg = daily.group_by("member_id").aggregate(
        first_purchase_at=daily.day_first_at.min(),
        last_purchase_at=daily.day_last_at.max(),
        last_day=daily.day.max(),
        purchase_days=daily.count(),
        spend=daily.day_amount.sum(),
        # days are unique per member, so the amount at the earliest day is well defined; the
        # minimum of (day, amount) pairs is a plain hash aggregate on every engine (an argmin
        # compiles to an ordered FIRST(... ORDER BY day) on DuckDB, a sort per member)
        first_day=ibis.struct({"day": daily.day, "amount": daily.day_amount}).min(),
        order_count=daily.day_orders.sum(),
    )
    agg = agg.mutate(first_day=agg.first_day["day"], first_day_amount=agg.first_day["amount"])
    as_of_lit = ibis.date(as_of)
    frequency = (agg.purchase_days - 1).cast("int64")
    repeat_spend = (agg.spend - agg.first_day_amount).cast("float64")
    total_spend = agg.spend.cast("float64")
    return agg.mutate(
        frequency=frequency,
        recency=agg.last_day.delta(agg.first_day, unit="day").cast("float64") / days_per_unit,
        T=as_of_lit.delta(agg.first_day, unit="day").cast("float64") / days_per_unit,
        monetary_value=ibis.ifelse(frequency > 0, repeat_spend / frequency.cast("float64"), 0.0),
        total_spend=total_spend,
        order_count=agg.order_count.cast("int64"),
        aov=total_spend / agg.order_count.cast("float64"),
        days_since_last=as_of_lit.delta(agg.last_day, unit="day").cast("int64"),
        purchase_days=agg.purchase_days.cast("int64"),
    )


def _top_by(table: ir.Table, key: str, weight: str | None, out: str) -> ir.Table:
    """Per member, the ``key`` value with the largest sum of column ``weight`` (None: the most
    rows); ties: more rows, then the smallest value.

    One GROUP BY (member, key) and one GROUP BY member taking the minimum of the
    (-weight, -rows, key) triples: hash aggregates only, no window (a ROW_NUMBER over members
    sorts every (member, key) row and cost several times the aggregate at 10 M orders).
    """
    table = table.filter(table[key].notnull())
    counts = table.group_by(["member_id", key]).aggregate(
        n=table.count(), **({} if weight is None else {"w": table[weight].sum()}))
    order = {} if weight is None else {"w": -counts.w}
    best = counts.group_by("member_id").aggregate(
        pick=ibis.struct({**order, "n": -counts.n, "value": counts[key]}).min())
    return best.select("member_id", best.pick["value"].cast("string").name(out))


def _favourite_channel(paid: ir.Table) -> ir.Table | None:
    if "channel" not in paid.columns:
        return None
    # most paid orders; ties broken by channel name
    return _top_by(paid, "channel", None, "favourite_channel")


def _favourite_category(paid: ir.Table, order_items: ir.Table | pd.DataFrame,
                        products: ir.Table | pd.DataFrame) -> ir.Table:
    items = as_table(order_items, name="order_items", required=("order_id", "product_id"))
    prods = as_table(products, name="products", required=("product_id", "category"))
    if "order_id" not in paid.columns:
        raise DataError("orders: missing column order_id, needed to join order_items for "
                        "favourite_category; map it at ingest or leave order_items out")
    if "amount" in items.columns:
        line = items.amount
    elif {"quantity", "unit_price"} <= set(items.columns):
        line = items.quantity * items.unit_price
    else:
        line = ibis.literal(1)
    items = items.select(items.order_id.cast("string").name("order_id"),
                         items.product_id.cast("string").name("product_id"),
                         line.cast("decimal(18, 2)").name("line_amount"))
    prods = prods.select(prods.product_id.cast("string").name("product_id"), "category")
    orders = paid.select(paid.order_id.cast("string").name("order_id"), "member_id")
    lines = items.join(prods, "product_id").join(orders, "order_id")
    # largest spend on the category; ties broken by number of lines, then category name
    return _top_by(lines, "category", "line_amount", "favourite_category")


def rfm_summary(
    orders: ir.Table | pd.DataFrame,
    *,
    as_of: dt.date | str,
    time_unit: TimeUnit = "D",
    order_items: ir.Table | pd.DataFrame | None = None,
    products: ir.Table | pd.DataFrame | None = None,
    favourites: bool = True,
) -> ir.Table:
    """One row per member who bought on or before ``as_of`` (see :data:`RFM_SUMMARY_COLUMNS`).

    ``recency`` and ``T`` are in ``time_unit`` ("D" days, "W" 7 days, "M" 30.4375 days);
    ``days_since_last`` is always in days. Money columns are float64 computed from exact
    DECIMAL(18, 2) sums: ``total_spend`` (gross paid), ``aov`` (total_spend / order_count),
    ``refunded_amount`` (money of refund rows up to ``as_of``) and ``refund_share``
    (refunded_amount / total_spend; 0 without refunds, null when total_spend is 0).
    ``favourite_category`` needs both ``order_items`` and ``products`` (null otherwise);
    ``favourite_channel`` needs an ``orders.channel`` column (null otherwise).

    ``favourites=False`` leaves both favourite columns null without computing them. Each
    favourite is one more GROUP BY over all paid orders (order lines for the category) and
    reads the channel column: with the favourite channel the summary takes ~1.7x the CPU time
    of the BTYD columns alone at 10 M orders (docs/benchmarks/rfm.md). Callers that only need
    frequency / recency / T / money (CLV fits, churn features) should pass ``favourites=False``.

    >>> import pandas as pd
    >>> orders = pd.DataFrame({
    ...     "order_id": ["1", "2", "3", "4"], "member_id": ["a", "a", "a", "b"],
    ...     "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-10"]),
    ...     "amount": [10.0, 5.0, 30.0, 8.0], "status": ["paid"] * 4})
    >>> s = rfm_summary(orders, as_of="2024-01-31").to_pandas().sort_values("member_id")
    >>> s[["member_id", "frequency", "recency", "T", "monetary_value"]].to_string(index=False)
    'member_id  frequency  recency    T  monetary_value\\n        a          1     14.0 30.0            30.0\\n        b          0      0.0 21.0             0.0'
    """
    as_of_day = as_day(as_of)
    days_per_unit = unit_days(time_unit)
    table = as_table(orders)
    paid = purchases(table, end=as_of_day)
    summary = _core(_daily(paid), as_of=as_of_day, days_per_unit=days_per_unit)

    refund_rows = refunds(table, end=as_of_day)
    refunded = refund_rows.group_by("member_id").aggregate(refunded_dec=refund_rows.amt.sum())
    summary = summary.left_join(refunded, "member_id").drop("member_id_right")
    refunded_amount = summary.refunded_dec.cast("float64").fill_null(0.0)
    summary = summary.mutate(
        refunded_amount=refunded_amount,
        refund_share=ibis.cases(
            (refunded_amount == 0.0, 0.0),
            (summary.total_spend > 0.0, refunded_amount / summary.total_spend),
            else_=ibis.null("float64"),
        ),
    )

    if not favourites and (order_items is not None or products is not None):
        raise ConfigError("rfm_summary: order_items and products are read only for "
                          "favourite_category, which favourites=False leaves out; fix: pass "
                          "favourites=True or leave order_items and products out")
    for column, part in (
        ("favourite_channel", _favourite_channel(paid) if favourites else None),
        ("favourite_category", None if not favourites or order_items is None or products is None
         else _favourite_category(paid, order_items, products)),
    ):
        if part is None:
            summary = summary.mutate(**{column: ibis.null("string")})
        else:
            summary = summary.left_join(part, "member_id").drop("member_id_right")
    return summary.select(*RFM_SUMMARY_COLUMNS)


def calibration_holdout_summary(
    orders: ir.Table | pd.DataFrame,
    *,
    calibration_end: dt.date | str,
    holdout_end: dt.date | str,
    time_unit: TimeUnit = "D",
) -> ir.Table:
    """The calibration / holdout split of the BTYD literature, one row per calibration member.

    Columns (named as ``lifetimes.utils.calibration_and_holdout_data`` names them): member_id,
    frequency_cal, recency_cal, T_cal, monetary_value_cal (the :func:`rfm_summary` values at
    ``calibration_end``), frequency_holdout (purchase days in ``(calibration_end,
    holdout_end]``: every holdout day is a repeat purchase), monetary_value_holdout (mean value of
    those days, 0 when none) and duration_holdout ((holdout_end - calibration_end) in time units).
    Members whose first purchase falls in the holdout are not included (they have no calibration).
    """
    cal_end = as_day(calibration_end, name="calibration_end")
    hold_end = as_day(holdout_end, name="holdout_end")
    if hold_end <= cal_end:
        raise DataError(f"holdout_end: must be after calibration_end ({cal_end}), got {hold_end}; "
                        "pass a later holdout_end")
    days_per_unit = unit_days(time_unit)
    table = as_table(orders)
    paid_cal = purchases(table, end=cal_end)
    cal = _core(_daily(paid_cal), as_of=cal_end, days_per_unit=days_per_unit).select(
        "member_id",
        frequency_cal=ibis._.frequency,
        recency_cal=ibis._.recency,
        T_cal=ibis._.T,
        monetary_value_cal=ibis._.monetary_value,
    )
    held = _daily(purchases(table, start=cal_end, end=hold_end))
    hold = held.group_by("member_id").aggregate(
        frequency_holdout=held.count().cast("int64"),
        spend_holdout=held.day_amount.sum().cast("float64"),
    )
    joined = cal.left_join(hold, "member_id").drop("member_id_right")
    frequency_holdout = joined.frequency_holdout.fill_null(0)
    duration = (hold_end - cal_end).days / days_per_unit
    return joined.select(
        "member_id", "frequency_cal", "recency_cal", "T_cal", "monetary_value_cal",
        frequency_holdout=frequency_holdout,
        monetary_value_holdout=ibis.ifelse(
            frequency_holdout > 0,
            joined.spend_holdout / frequency_holdout.cast("float64"),
            0.0,
        ),
        duration_holdout=ibis.literal(duration, type="float64"),
    )
