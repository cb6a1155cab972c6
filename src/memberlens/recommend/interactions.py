"""Implicit feedback from the warehouse: one weighted row per member and product, in the engine.

A purchase counts most, a cart less, a view least (:data:`DEFAULT_WEIGHTS`). Purchases come
from paid orders (``memberlens.features.purchases``: ``status == 'paid'``, a member, a day on or
before ``as_of``) joined to their lines (return lines, ``quantity <= 0``, left out); behaviour
comes from ``events`` rows with a member and a product whose ``event_type`` has a weight.
Events of type ``order`` / ``purchase`` are ignored: the orders tables are the record of what
was bought, so nothing is counted twice. Per member and product::

    weight = weights["order"] * purchase_days + sum(weights[event_type] over events)

``purchase_days`` (distinct days with a paid line of the product) is kept: the recommender uses
it for "already bought" and for the repeat-purchase rates. Only the aggregate leaves the engine
(one row per member-product pair), on DuckDB and PySpark alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from memberlens.exceptions import DataError, MissingTableError
from memberlens.features.purchases import as_day, purchases
from memberlens.recommend._weights import DEFAULT_WEIGHTS, check_weights

__all__ = [
    "DEFAULT_WEIGHTS",
    "INTERACTION_COLUMNS",
    "check_weights",
    "interaction_table",
    "interactions_from_warehouse",
    "named_tables",
    "purchase_lines",
]

INTERACTION_COLUMNS = ("member_id", "product_id", "weight", "purchase_days")
_PURCHASE_EVENTS = ("order", "purchase")


def named_tables(con_or_tables) -> dict[str, ir.Table]:
    """Named Ibis tables from a backend, a Warehouse or a mapping (pandas / Arrow welcome)."""
    if isinstance(con_or_tables, Mapping):
        out = {}
        for name, value in con_or_tables.items():
            if value is None:
                continue
            out[name] = value if isinstance(value, ir.Table) else ibis.memtable(value)
        return out
    con = con_or_tables
    if not hasattr(con, "list_tables"):  # a memberlens Warehouse holds its backend as .con
        con = getattr(con, "con", con)
    if not hasattr(con, "list_tables"):
        raise DataError(
            f"con_or_tables: expected an Ibis backend, a warehouse or a mapping of "
            f"table name -> table; got {type(con_or_tables).__name__}"
        )
    present = set(con.list_tables())
    return {
        name: con.table(name)
        for name in ("orders", "order_items", "products", "events")
        if name in present
    }


def _require(table: ir.Table, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"{name}: missing column(s) {missing}; found {list(table.columns)}. "
            "Map the source columns to the canonical names at ingest "
            "(see docs/data-contract.md)"
        )


def purchase_lines(
    orders: ir.Table, order_items: ir.Table, *, end: dt.date, start: dt.date | None = None
) -> ir.Table:
    """Paid lines of members with ``start < day <= end``: member_id, product_id, order_id, day
    (strings and a date), as an Ibis expression."""
    _require(order_items, "order_items", ("order_id", "product_id"))
    paid = purchases(orders, end=end, start=start)
    paid = paid.select(
        p_order=paid.order_id.cast("string"), member_id=paid.member_id.cast("string"), day=paid.day
    )
    lines = order_items
    if "quantity" in lines.columns:
        lines = lines.filter(lines.quantity.isnull() | (lines.quantity > 0))
    lines = lines.filter(lines.product_id.notnull())
    lines = lines.select(
        l_order=lines.order_id.cast("string"), product_id=lines.product_id.cast("string")
    )
    joined = lines.join(paid, lines.l_order == paid.p_order)
    return joined.select(
        member_id=joined.member_id,
        product_id=joined.product_id,
        order_id=joined.l_order,
        day=joined.day,
    )


def interaction_table(
    tables: Mapping[str, ir.Table],
    *,
    as_of: dt.date,
    weights: Mapping[str, float] | None = None,
    start: dt.date | None = None,
) -> ir.Table:
    """The Ibis expression of :data:`INTERACTION_COLUMNS` (see the module notes).

    ``tables`` needs ``orders`` and ``order_items``; ``events`` is used when present.
    """
    w = check_weights(weights)
    for name in ("orders", "order_items"):
        if name not in tables:
            raise MissingTableError(
                f"recommendations need the {name} table; load it with "
                f"`memberlens ingest {name} FILE`"
            )
    lines = purchase_lines(tables["orders"], tables["order_items"], end=as_of, start=start)
    bought = lines.group_by(["member_id", "product_id"]).aggregate(
        purchase_days=lines.day.nunique().cast("int64")
    )
    parts = [
        bought.select(
            "member_id",
            "product_id",
            weight=(bought.purchase_days * w["order"]).cast("float64"),
            purchase_days=bought.purchase_days,
        )
    ]
    event_weights = {k: v for k, v in w.items() if k not in _PURCHASE_EVENTS and v > 0}
    events = tables.get("events")
    if events is not None and event_weights:
        _require(events, "events", ("member_id", "product_id", "event_type", "occurred_at"))
        day = events.occurred_at.cast("timestamp").date()
        keep = (
            events.member_id.notnull()
            & events.product_id.notnull()
            & events.event_type.isin(list(event_weights))
            & (day <= ibis.date(as_of))
        )
        if start is not None:
            keep &= day > ibis.date(start)
        chosen = events.filter(keep)
        value = ibis.cases(
            *[(chosen.event_type == k, v) for k, v in event_weights.items()], else_=0.0
        )
        scored = chosen.select(
            member_id=chosen.member_id.cast("string"),
            product_id=chosen.product_id.cast("string"),
            value=value.cast("float64"),
        )
        seen = scored.group_by(["member_id", "product_id"]).aggregate(weight=scored.value.sum())
        parts.append(
            seen.select(
                "member_id",
                "product_id",
                weight=seen.weight,
                purchase_days=ibis.literal(0, "int64"),
            )
        )
    union = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    return union.group_by(["member_id", "product_id"]).aggregate(
        weight=union.weight.sum(), purchase_days=union.purchase_days.sum().cast("int64")
    )


def interactions_from_warehouse(
    con_or_tables,
    *,
    as_of: dt.date | str,
    weights: Mapping[str, float] | None = None,
    start: dt.date | str | None = None,
) -> pa.Table:
    """Member x product implicit feedback as an Arrow table: member_id, product_id, weight,
    purchase_days, sorted by member and product.

    ``con_or_tables`` is an Ibis backend or a memberlens warehouse (tables ``orders``,
    ``order_items`` and, when present, ``events``), or a mapping of those names to Ibis tables,
    pandas frames or Arrow tables. Only what happened on days ``start < day <= as_of`` counts.

    >>> import pandas as pd
    >>> orders = pd.DataFrame({"order_id": ["o1", "o2"], "member_id": ["m1", "m1"],
    ...                        "ordered_at": pd.to_datetime(["2024-01-02", "2024-03-01"]),
    ...                        "amount": [10.0, 12.0], "status": ["paid", "paid"]})
    >>> lines = pd.DataFrame({"order_id": ["o1", "o2"], "product_id": ["p1", "p1"]})
    >>> events = pd.DataFrame({"member_id": ["m1"], "product_id": ["p2"],
    ...                        "event_type": ["cart"],
    ...                        "occurred_at": pd.to_datetime(["2024-01-05 10:00"])})
    >>> interactions_from_warehouse({"orders": orders, "order_items": lines, "events": events},
    ...                             as_of="2024-06-30").to_pandas()
      member_id product_id  weight  purchase_days
    0        m1         p1    20.0              2
    1        m1         p2     4.0              0
    """
    day = as_day(as_of, name="as_of")
    first = as_day(start, name="start") if start is not None else None
    expr = interaction_table(named_tables(con_or_tables), as_of=day, weights=weights, start=first)
    table = expr.to_pyarrow()
    return table.select(list(INTERACTION_COLUMNS)).sort_by(
        [("member_id", "ascending"), ("product_id", "ascending")]
    )
