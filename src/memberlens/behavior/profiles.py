"""Descriptive purchase statistics by a member attribute (province, channel, segment, ...).

Each buyer belongs to one group, given by a ``groups`` table ``(member_id, <by>)``: the
``members`` table for ``province`` or registration ``channel``, the output of
:func:`memberlens.segmentation.assign_segments` for ``segment``, or an
:func:`~memberlens.features.rfm_summary` for ``favourite_channel``. Buyers missing from
``groups`` fall in a null group. Purchases follow :mod:`memberlens.features.purchases`; an
**interval** is the number of days between two consecutive purchase days of a member.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.features.purchase_days import purchase_days
from memberlens.features.purchases import as_day, as_table, purchases

__all__ = ["category_mix", "member_purchases", "profile_by_group", "purchase_profile"]


def _grouped(
    orders: ir.Table | pd.DataFrame, groups: ir.Table | pd.DataFrame, by: str, as_of: dt.date
) -> tuple[ir.Table, ir.Table]:
    paid = purchases(as_table(orders), end=as_of)
    return paid, _groups(groups, by)


def _groups(groups: ir.Table | pd.DataFrame, by: str) -> ir.Table:
    grp = as_table(groups, name="groups", required=("member_id", by))
    return grp.select("member_id", grp[by].cast("string").name("group"))


def purchase_profile(
    orders: ir.Table | pd.DataFrame,
    groups: ir.Table | pd.DataFrame,
    *,
    by: str,
    as_of: dt.date | str,
) -> ir.Table:
    """Per group: members (buyers), orders, orders_per_member, purchase_days_per_member,
    repeat_rate (share with two or more purchase days), spend_per_member, order_amount_mean,
    interval_days_mean (mean of all inter-purchase intervals) and members_with_interval.
    The group column is named ``by``. Lazy Ibis table, one row per group.
    """
    days = purchase_days(as_table(orders), end=as_day(as_of))
    return profile_by_group(member_purchases(days), groups, by=by)


def member_purchases(days: ir.Table) -> ir.Table:
    """Per buyer, from purchase days (:func:`memberlens.features.purchase_days.purchase_days`):
    ``orders``, ``purchase_days``, ``spend`` (exact), and the sum and number of the intervals
    between consecutive purchase days (``gap_sum``, ``gap_n``): what
    :func:`profile_by_group` adds up per group (materialise it to profile several groupings)."""
    return days.group_by("member_id").aggregate(
        orders=days.orders.sum(),
        purchase_days=days.count(),
        spend=days.amt.sum(),
        gap_sum=days.gap.sum(),
        gap_n=days.gap.count(),
    )


def profile_by_group(per_member: ir.Table, groups: ir.Table | pd.DataFrame, *, by: str) -> ir.Table:
    """:func:`purchase_profile` from :func:`member_purchases` and a ``groups`` table
    ``(member_id, <by>)``."""
    joined = per_member.left_join(_groups(groups, by), "member_id").drop("member_id_right")
    stats = joined.group_by("group").aggregate(
        members=joined.count(),
        orders=joined.orders.sum(),
        purchase_days=joined.purchase_days.sum(),
        repeaters=(joined.purchase_days >= 2).cast("int64").sum(),
        spend=joined.spend.sum(),
        gap_sum=joined.gap_sum.sum(),
        gap_n=joined.gap_n.sum(),
        members_with_interval=(joined.gap_n > 0).cast("int64").sum(),
    )
    members = stats.members.cast("float64")
    spend = stats.spend.cast("float64")
    return stats.select(
        stats.group.name(by),
        members=stats.members.cast("int64"),
        orders=stats.orders.cast("int64"),
        orders_per_member=stats.orders.cast("float64") / members,
        purchase_days_per_member=stats.purchase_days.cast("float64") / members,
        repeat_rate=stats.repeaters.cast("float64") / members,
        spend_per_member=spend / members,
        order_amount_mean=spend / stats.orders.cast("float64"),
        interval_days_mean=ibis.ifelse(
            stats.gap_n > 0,
            stats.gap_sum.cast("float64") / stats.gap_n.cast("float64"),
            ibis.null("float64"),
        ),
        members_with_interval=stats.members_with_interval.cast("int64"),
    ).order_by(by)


def category_mix(
    orders: ir.Table | pd.DataFrame,
    order_items: ir.Table | pd.DataFrame,
    products: ir.Table | pd.DataFrame,
    groups: ir.Table | pd.DataFrame,
    *,
    by: str,
    as_of: dt.date | str,
) -> ir.Table:
    """Per group and product category: revenue (line amounts of paid orders), lines, and
    share of the group's revenue. Line amount is ``amount``, else quantity x unit_price.
    """
    paid, grp = _grouped(orders, groups, by, as_day(as_of))
    items = as_table(order_items, name="order_items", required=("order_id", "product_id"))
    prods = as_table(products, name="products", required=("product_id", "category"))
    line = items.amount if "amount" in items.columns else items.quantity * items.unit_price
    items = items.select(
        items.order_id.cast("string").name("order_id"),
        items.product_id.cast("string").name("product_id"),
        line.cast("decimal(18, 2)").name("line_amount"),
    )
    prods = prods.select(prods.product_id.cast("string").name("product_id"), "category")
    orders_ = paid.select(paid.order_id.cast("string").name("order_id"), "member_id")
    lines = (
        items.join(prods, "product_id")
        .join(orders_, "order_id")
        .left_join(grp, "member_id")
        .drop("member_id_right")
    )
    mix = lines.group_by(["group", "category"]).aggregate(
        revenue=lines.line_amount.sum().cast("float64"), lines=lines.count()
    )
    total = mix.revenue.sum().over(group_by=mix.group)
    return mix.select(
        mix.group.name(by),
        "category",
        "revenue",
        lines=mix.lines.cast("int64"),
        share=ibis.ifelse(total > 0, mix.revenue / total, ibis.null("float64")),
    ).order_by([by, ibis.desc("revenue"), "category"])
