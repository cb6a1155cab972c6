"""Line-level exports: order lines that carry the order's member and time (POS, marketplaces).

When such lines are loaded, ``orders`` is derived from them: one order per order id, the amount
the sum of its line amounts, the status ``refunded`` for a cancellation (an order id prefixed
``C``, as in UK/EU POS exports, or a negative total quantity), and ``refund_of`` linking a
cancellation to the member's latest earlier order holding the same product, where there is one.
Lines without a member id are anonymous sales: they count in revenue, not in member analytics.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from memberlens.schema import TABLES


def fill_line_amount(values: dict[str, ir.Value]) -> dict[str, ir.Value]:
    """``amount`` defaults to quantity x unit price; ``quantity`` to 1."""
    out = dict(values)
    qty = values["quantity"].fill_null(1)
    out["quantity"] = qty
    # Engines disagree on the scale of a decimal product (DuckDB keeps 2, Spark gives 4) and Ibis
    # drops a cast to the type it already infers, so go through an explicit wider type.
    product = (qty * values["unit_price"]).cast("decimal(38, 4)").cast("decimal(18, 2)")
    out["amount"] = ibis.coalesce(values["amount"], product)
    return out


def is_cancellation(order_id: ir.StringValue, quantity: ir.NumericValue) -> ir.BooleanValue:
    return order_id.upper().startswith("C") | (quantity < 0)


def derive_orders(wh, load_id: str) -> int:
    """Add the orders of the lines stored by ``load_id`` that ``orders`` does not hold yet."""
    spec = TABLES["orders"]
    wh.ensure(spec)
    items = wh.table("order_items")
    new = items.filter(items._load_id == load_id)
    per_order = new.group_by("order_id").agg(
        member_id=new.member_id.max(),
        ordered_at=new.ordered_at.min(),
        amount=new.amount.sum(),
        quantity=new.quantity.sum(),
        country=new.country.max(),
        product_id=new.product_id.min(),
    )
    cancel = is_cancellation(per_order.order_id, per_order.quantity)
    per_order = per_order.mutate(status=ibis.ifelse(cancel, "refunded", "paid"))
    orders = wh.table("orders")
    per_order = per_order.anti_join(orders, per_order.order_id == orders.order_id)
    links = _refund_links(items, per_order)
    per_order = per_order.left_join(links, per_order.order_id == links.link_order)
    target = orders.schema()
    cols = [
        (per_order[f.name] if f.name in per_order.columns else ibis.null())
        .cast(target[f.name])
        .name(f.name)
        for f in spec.fields
    ]
    rows = wh.materialize(
        "__derived_orders", per_order.select(*cols, _load_id=ibis.literal(load_id))
    )
    n = int(rows.count().execute())
    wh.append("orders", rows, load_id)
    wh.drop_temp("__derived_orders")
    return n


def _refund_links(items: ir.Table, orders: ir.Table) -> ir.Table:
    """For each cancellation, the member's latest earlier paid order with one of its products."""
    cancels = orders.filter(orders.status == "refunded").select(
        c_order="order_id", c_member="member_id", c_time="ordered_at"
    )
    c_lines = items.join(cancels, items.order_id == cancels.c_order).select(
        "c_order", "c_member", "c_time", "product_id"
    )
    bought = items.filter(~is_cancellation(items.order_id, items.quantity)).select(
        o_order="order_id", o_member="member_id", o_time="ordered_at", o_product="product_id"
    )
    pairs = c_lines.join(
        bought,
        (c_lines.c_member == bought.o_member)
        & (c_lines.product_id == bought.o_product)
        & (bought.o_time <= c_lines.c_time),
    )
    ranked = pairs.mutate(
        rk=ibis.row_number().over(
            group_by="c_order", order_by=[ibis.desc("o_time"), ibis.desc("o_order")]
        )
    )
    return ranked.filter(ranked.rk == 0).select(link_order="c_order", refund_of="o_order")
