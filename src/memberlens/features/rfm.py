"""Per-member purchase summaries (RFM and the BTYD "frequency, recency, T") in Ibis.

Definitions follow the buy-till-you-die literature (Fader, Hardie & Lee 2005, "Counting Your
Customers the Easy Way", sec. 4) and the ``lifetimes`` / ``pymc-marketing`` glossary:

* orders on the same calendar day are merged into one purchase (R BTYD
  ``dc.MergeTransactionsOnSameDate``); ``purchase_days`` counts those days;
* ``frequency`` = purchase_days - 1 (repeat purchases);
* ``recency`` = last purchase day - first purchase day, ``T`` = as-of day - first purchase day,
  both exact elapsed days divided by the time unit (floats: 216 days = 30.857143 weeks);
* ``monetary_value`` = mean value of the repeat purchase days (the first day excluded), 0 when
  ``frequency`` is 0, as ``lifetimes.utils.summary_data_from_transaction_data`` does, net of
  refunds: each purchase day keeps the share of its value the member kept overall
  (``total_spend / gross_spend``, clipped to [0, 1]); without refunds it is the lifetimes value.

Value is **net paid value** (docs/glossary.md): ``total_spend`` = paid minus refunded money,
``gross_spend`` and ``refunded_amount`` are kept beside it, and ``refunder`` flags members whose
refunds brought net value to zero or below (value models leave out every member whose net value
is zero or below).

What counts as a purchase or a refund is stated in :mod:`memberlens.features.purchases`.
Both functions return lazy Ibis tables (call ``.to_pandas()``); a pandas input is wrapped in
``ibis.memtable`` and runs on Ibis' default backend (DuckDB).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import ibis
import ibis.expr.datatypes as dt_
import ibis.expr.types as ir
import pandas as pd

from memberlens.baskets.non_products import NON_PRODUCT_CODES, is_non_product
from memberlens.exceptions import ConfigError, DataError
from memberlens.features.purchases import (
    TimeUnit,
    as_day,
    as_table,
    purchases,
    purchases_and_refunds,
    unit_days,
)

__all__ = ["RFM_SUMMARY_COLUMNS", "calibration_holdout_summary", "rfm_summary"]

#: Output columns of :func:`rfm_summary`, in order.
RFM_SUMMARY_COLUMNS: tuple[str, ...] = (
    "member_id",
    "first_purchase_at",
    "last_purchase_at",
    "purchase_days",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "total_spend",
    "gross_spend",
    "order_count",
    "aov",
    "days_since_last",
    "refunded_amount",
    "refund_share",
    "refunder",
    "favourite_category",
    "favourite_channel",
)


@ibis.udf.agg.builtin(name="min_by")
def _amount_at_min(arg: dt_.Decimal(38, 2), key: dt_.date) -> dt_.Decimal(38, 2):
    """``arg`` (a sum of DECIMAL(18, 2) amounts) at the row with the smallest ``key``:
    ``min_by`` on Spark, ``arg_min`` on DuckDB. Ibis' own ``argmin`` compiles to an ordered
    ``FIRST(... ORDER BY)`` on DuckDB, a sort per group that cost ~0.4 s more than this hash
    aggregate at 10 M orders."""


@ibis.udf.agg.builtin(name="min_by")
def _amount_at_first(arg: dt_.Decimal(38, 2), key: dt_.timestamp) -> dt_.Decimal(38, 2):
    """:func:`_amount_at_min` keyed by a timestamp (a paid day's first purchase time)."""


@ibis.udf.agg.builtin(name="max_by")
def _text_at_max(arg: str, key: dt_.int64) -> str:
    """``arg`` at the row with the largest ``key`` (``max_by`` / DuckDB ``arg_max``)."""


def _daily(paid: ir.Table) -> ir.Table:
    """One row per member and purchase day (same-day orders merged)."""
    return paid.group_by(["member_id", "day"]).aggregate(
        day_amount=paid.amt.sum(),
        day_orders=paid.count(),
    )


def _core(daily: ir.Table, *, as_of: dt.date, days_per_unit: float) -> ir.Table:
    """frequency, recency, T, monetary value and totals from the daily rows."""
    agg = daily.group_by("member_id").aggregate(
        first_day=daily.day.min(),
        last_day=daily.day.max(),
        purchase_days=daily.count(),
        spend=daily.day_amount.sum(),
        # days are unique per member, so the amount at the earliest day is well defined
        first_day_amount=_amount_at_min(daily.day_amount, daily.day),
        order_count=daily.day_orders.sum(),
    )
    return _measures(agg, as_of=as_of, days_per_unit=days_per_unit)


def _measures(agg: ir.Table, *, as_of: dt.date, days_per_unit: float) -> ir.Table:
    """frequency, recency, T, monetary value and totals from one row per member with first_day,
    last_day, purchase_days, spend, first_day_amount and order_count."""
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


#: Channel names whose paid-order counts :func:`_one_pass` carries through its two GROUP BYs
#: (packed two to an int64); a shop with more names takes the favourite channel from one more
#: GROUP BY (member, channel) (:func:`_favourite_channel`).
PACKED_CHANNELS = 8
_PER_PACK = 2
_FIELD_BITS = 31  # a field holds up to 2**31 - 1 paid orders (_channel_names checks the bound)
_FIELD_MASK = (1 << _FIELD_BITS) - 1


def _channel_names(table: ir.Table) -> list[str] | None:
    """The channel names of ``orders`` in name order (code point order, as the engines compare
    text), or None when the packed counts could not hold them: more than
    :data:`PACKED_CHANNELS` names, or a name on 2**31 rows or more (a member's paid orders on
    a channel are at most the channel's rows, so below that every field is exact)."""
    channel = (
        table.channel.cast("string") if not table.channel.type().is_string() else table.channel
    )
    named = table.select(channel=channel).filter(ibis._.channel.notnull())
    rows = named.group_by("channel").aggregate(n=ibis._.count())
    found = rows.limit(PACKED_CHANNELS + 1).to_pyarrow().to_pydict()
    if len(found["channel"]) > PACKED_CHANNELS or any(n > _FIELD_MASK for n in found["n"]):
        return None
    return sorted(found["channel"])


def _one_pass(
    rows: ir.Table, *, as_of: dt.date, days_per_unit: float, channels: list[str] | None
) -> ir.Table:
    """The summary's aggregates in one pass over the purchases and refunds (``rows`` from
    :func:`purchases_and_refunds`): one GROUP BY (member, day, paid or refund) and one GROUP BY
    member, the paid and refund rows told apart by the key rather than by FILTER clauses.

    Refund rows sum their absolute money (refunded_dec) and never make a purchase day;
    members with refunds only drop out. With ``channels`` (the names in name order, at most
    :data:`PACKED_CHANNELS`), the paid orders per channel ride along packed two to an
    int64 (31 bits each) and the favourite is decoded from them: most paid orders, ties to the
    smaller name, null without a paid order on a named channel. This replaces a GROUP BY
    (member, channel) and a second scan of the orders joined back (docs/benchmarks/rfm.md).
    The first and last purchase days are the dates of the first and last purchase times.
    """
    packs: dict[str, ir.IntegerValue] = {}
    if channels:
        channel = rows.channel if rows.channel.type().is_string() else rows.channel.cast("string")
        for j in range(0, len(channels), _PER_PACK):
            names = channels[j : j + _PER_PACK]
            packs[f"pack{j // _PER_PACK}"] = ibis.cases(
                *((channel == name, 1 << (_FIELD_BITS * i)) for i, name in enumerate(names)),
                else_=0,
            ).cast("int64")
    money = ibis.ifelse(rows.is_paid, rows.amt, rows.amt.abs())
    daily = rows.group_by(["member_id", "day", "is_paid"]).aggregate(
        amount=money.sum(),
        orders=rows.count(),
        first_at=rows.ordered_at.min(),
        last_at=rows.ordered_at.max(),
        **{name: value.sum() for name, value in packs.items()},
    )
    paid = daily.is_paid
    # a paid day's first purchase time stands for the day (first_day is its date): two
    # aggregates fewer (no MIN and MAX of the day beside those of the times), same values
    first_at = ibis.ifelse(paid, daily.first_at, ibis.null("timestamp"))
    amount = ibis.ifelse(paid, daily.amount, ibis.null(daily.amount.type()))
    agg = daily.group_by("member_id").aggregate(
        first_at=first_at.min(),
        last_at=ibis.ifelse(paid, daily.last_at, ibis.null("timestamp")).max(),
        purchase_days=first_at.count(),
        spend=amount.sum(),
        # paid days are unique per member, so the amount at the earliest one is well defined
        first_day_amount=_amount_at_first(amount, first_at),
        order_count=ibis.ifelse(paid, daily.orders, 0).sum(),
        refunded_dec=ibis.ifelse(paid, ibis.null(daily.amount.type()), daily.amount).sum(),
        **{name: ibis.ifelse(paid, daily[name], 0).sum() for name in packs},
    )
    agg = agg.mutate(first_day=agg.first_at.date(), last_day=agg.last_at.date())
    agg = agg.filter(agg.purchase_days > 0)
    if channels:
        agg = agg.mutate(favourite_channel=_decode_favourite(agg, channels)).drop(*packs)
    return _measures(agg, as_of=as_of, days_per_unit=days_per_unit)


def _decode_favourite(agg: ir.Table, channels: list[str]) -> ir.StringValue:
    """The channel with the most paid orders from the packed counts (ties: the smaller name)."""
    m = len(channels)
    counts = [
        (agg[f"pack{k // _PER_PACK}"] >> (_FIELD_BITS * (k % _PER_PACK))) & _FIELD_MASK
        for k in range(m)
    ]
    # unique per member: more orders first, then the earlier name (k smaller)
    keys = [count * m + (m - k) for k, count in enumerate(counts)]
    best = ibis.greatest(*keys) if m > 1 else keys[0]
    return ibis.cases(
        *(((best == key) & (count > 0), name) for key, count, name in zip(keys, counts, channels)),
        else_=ibis.null("string"),
    )


def _favourite_channel(rows: ir.Table) -> ir.Table:
    """Per member, the channel with the most paid orders (ties: the smaller name), for shops
    with more channel names than :data:`PACKED_CHANNELS`: one GROUP BY (member, channel) and
    one GROUP BY member picking the channel with ``max_by`` on an integer key that orders by
    paid orders, then by channel name (orders * M + (M - rank of the name), M the number of
    names; 0, and the name nulled, for a channel without paid orders). Hash aggregates only.
    """
    paid = rows.filter(rows.is_paid & rows.channel.notnull())
    per_channel = paid.group_by(["member_id", "channel"]).aggregate(n=paid.count())
    names = per_channel.select("channel").distinct()
    names = names.mutate(
        rank=ibis.dense_rank().over(order_by=names.channel), m=ibis._.count().over()
    )
    keyed = per_channel.left_join(names, "channel").drop("channel_right")
    key = (keyed.n * keyed.m + (keyed.m - keyed.rank)).cast("int64")
    return keyed.group_by("member_id").aggregate(
        favourite_channel=_text_at_max(keyed.channel.cast("string"), key)
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
        n=table.count(), **({} if weight is None else {"w": table[weight].sum()})
    )
    order = {} if weight is None else {"w": -counts.w}
    best = counts.group_by("member_id").aggregate(
        pick=ibis.struct({**order, "n": -counts.n, "value": counts[key]}).min()
    )
    return best.select("member_id", best.pick["value"].cast("string").name(out))


def _favourite_category(
    paid: ir.Table,
    order_items: ir.Table | pd.DataFrame,
    products: ir.Table | pd.DataFrame,
    exclude_products: Iterable[str] | None,
) -> ir.Table:
    items = as_table(order_items, name="order_items", required=("order_id", "product_id"))
    if exclude_products is not None:  # postage, fees, discounts: lines, not products
        items = items.filter(~is_non_product(items.product_id, exclude_products))
    prods = as_table(products, name="products", required=("product_id", "category"))
    if "order_id" not in paid.columns:
        raise DataError(
            "orders: missing column order_id, needed to join order_items for "
            "favourite_category; map it at ingest or leave order_items out"
        )
    if "amount" in items.columns:
        line = items.amount
    elif {"quantity", "unit_price"} <= set(items.columns):
        line = items.quantity * items.unit_price
    else:
        line = ibis.literal(1)
    items = items.select(
        items.order_id.cast("string").name("order_id"),
        items.product_id.cast("string").name("product_id"),
        line.cast("decimal(18, 2)").name("line_amount"),
    )
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
    favourites: bool = False,
    exclude_products: Iterable[str] | None = NON_PRODUCT_CODES,
) -> ir.Table:
    """One row per member who bought on or before ``as_of`` (see :data:`RFM_SUMMARY_COLUMNS`).

    ``recency`` and ``T`` are in ``time_unit`` ("D" days, "W" 7 days, "M" 30.4375 days);
    ``days_since_last`` is always in days. Money columns are float64 computed from exact
    DECIMAL(18, 2) sums: ``gross_spend`` (paid orders), ``refunded_amount`` (money of refund rows
    up to ``as_of``), ``total_spend`` (net paid value: gross_spend - refunded_amount, may be
    <= 0), ``aov`` (total_spend / order_count), ``refund_share`` (refunded_amount /
    gross_spend; 0 without refunds, null when gross_spend is 0) and ``refunder`` (True when
    refunds brought total_spend to 0 or below: the member kept nothing).
    ``favourites=True`` adds the two favourite columns (null by default, without a query for
    them): ``favourite_category`` needs both ``order_items`` and ``products`` (null otherwise); it
    leaves out lines that are not products (postage, fees, discounts, manual adjustments:
    ``exclude_products``, by default the common codes of
    :data:`memberlens.baskets.non_products.NON_PRODUCT_CODES` and their numbered prefixes, the
    recognition basket mining uses; the pipeline adds ``[baskets] exclude_products``; None keeps
    every line), so a member whose most frequent line is ``POST`` gets the category they buy;
    ``favourite_channel`` needs an ``orders.channel`` column (null otherwise).

    The favourites are opt-in because they cost as much as a third of the summary: the
    favourite channel reads the channel column and carries paid-order counts per channel
    through the summary's two GROUP BYs, and the favourite category is one more GROUP BY over
    the order lines. At 10 M orders the summary with ``favourites=True`` takes about 1.3x the
    CPU time of the default, and the default about 1.2-1.3x that of a bare DuckDB GROUP BY of
    the BTYD core (docs/benchmarks/rfm.md). Most callers need only frequency / recency / T /
    money (CLV fits, churn and uplift features); the member list and ``mart_members`` ask for
    the favourites.

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
    if not favourites and (order_items is not None or products is not None):
        raise ConfigError(
            "rfm_summary: order_items and products are read only for "
            "favourite_category, which favourites=False (the default) leaves out; fix: pass "
            "favourites=True or leave order_items and products out"
        )
    paid = purchases(table, end=as_of_day)
    rows = purchases_and_refunds(table, end=as_of_day)
    by_channel = favourites and "channel" in table.columns
    channels = _channel_names(table) if by_channel else None
    summary = _one_pass(rows, as_of=as_of_day, days_per_unit=days_per_unit, channels=channels)
    if by_channel and channels is None:  # more names than fit the packed counts
        summary = summary.left_join(_favourite_channel(rows), "member_id").drop("member_id_right")
    refunded_amount = summary.refunded_dec.cast("float64").fill_null(0.0)
    gross = summary.total_spend
    # net from the exact DECIMAL sums, so that a fully refunded member is exactly 0 on every engine
    net = (summary.spend - summary.refunded_dec.fill_null(0)).cast("float64")
    kept = ibis.greatest(ibis.least(net / gross, 1.0), 0.0)
    summary = summary.mutate(
        first_purchase_at=summary.first_at,
        last_purchase_at=summary.last_at,
        gross_spend=gross,
        total_spend=net,
        aov=net / summary.order_count.cast("float64"),
        monetary_value=ibis.ifelse(
            refunded_amount == 0.0,
            summary.monetary_value,
            ibis.ifelse(gross > 0.0, summary.monetary_value * kept, 0.0),
        ),
        refunded_amount=refunded_amount,
        refund_share=ibis.cases(
            (refunded_amount == 0.0, 0.0),
            (gross > 0.0, refunded_amount / gross),
            else_=ibis.null("float64"),
        ),
        refunder=(net <= 0.0) & (refunded_amount > 0.0),
    )
    if "favourite_channel" not in summary.columns:  # favourites=False, no channel or no names
        summary = summary.mutate(favourite_channel=ibis.null("string"))
    if not favourites or order_items is None or products is None:
        summary = summary.mutate(favourite_category=ibis.null("string"))
    else:
        summary = summary.left_join(
            _favourite_category(paid, order_items, products, exclude_products), "member_id"
        ).drop("member_id_right")
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
        raise DataError(
            f"holdout_end: must be after calibration_end ({cal_end}), got {hold_end}; "
            "pass a later holdout_end"
        )
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
        "member_id",
        "frequency_cal",
        "recency_cal",
        "T_cal",
        "monetary_value_cal",
        frequency_holdout=frequency_holdout,
        monetary_value_holdout=ibis.ifelse(
            frequency_holdout > 0,
            joined.spend_holdout / frequency_holdout.cast("float64"),
            0.0,
        ),
        duration_holdout=ibis.literal(duration, type="float64"),
    )
