"""Baskets from the warehouse: distinct (order, product or category) pairs, computed in the engine.

Only the pairs leave the engine (``SELECT DISTINCT order_id, item``), so a million orders cost
a few tens of megabytes in Python whatever the size of the line table. The same Ibis
expression runs on DuckDB and on PySpark.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import ibis
import pyarrow as pa

from memberlens.baskets.non_products import NON_PRODUCT_CODES, is_non_product
from memberlens.baskets.transactions import BASKET_COLUMNS
from memberlens.exceptions import ConfigError, MissingTableError, SchemaError

__all__ = ["basket_lines", "basket_pairs", "baskets_from_orders"]

BasketLevel = Literal["product", "category"]


def _require(table: ibis.Table, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SchemaError(
            f"{name}: missing column(s) {missing}; found {list(table.columns)}. Map the source "
            f"columns to the canonical names at ingest (see docs/data-contract.md)"
        )


def basket_lines(
    order_items: ibis.Table,
    *,
    level: BasketLevel = "product",
    products: ibis.Table | None = None,
    orders: ibis.Table | None = None,
    exclude_products: Iterable[str] | None = NON_PRODUCT_CODES,
) -> ibis.Table:
    """The Ibis expression of ``(basket_id, item)`` per line, as strings, **not** made distinct:
    a basket that lists an item twice gives two rows. Encoding the baskets
    (:func:`memberlens.baskets.transactions.encode_baskets`) drops such repeats itself, so
    mining reads these rows and the engine is spared a DISTINCT over every line.

    ``level="product"`` uses ``product_id``; ``level="category"`` joins ``products`` and uses
    its ``category`` (lines whose product has no category are left out). Return lines
    (``quantity <= 0``) are left out when ``order_items`` has a ``quantity`` column. With
    ``orders``, only lines of orders with ``status == 'paid'`` count (DESIGN.md data contract).
    Lines whose product is a non-product code (postage, fees, discounts: ``exclude_products``,
    by default :data:`memberlens.baskets.non_products.NON_PRODUCT_CODES`; ``None`` keeps every
    line) are left out: the codes are recognised among the distinct product ids, and the lines
    of those ids dropped by an anti-join, rather than every line's code normalised and matched.
    """
    _require(order_items, "order_items", ("order_id", "product_id"))
    lines = order_items
    if exclude_products is not None:
        ids = order_items.select("product_id").distinct()
        ids = ids.filter(is_non_product(ids.product_id, exclude_products))
        lines = lines.anti_join(ids, "product_id")
    if "quantity" in lines.columns:
        lines = lines.filter(lines.quantity.isnull() | (lines.quantity > 0))
    if orders is not None:
        _require(orders, "orders", ("order_id", "status"))
        # a semi-join keeps each line once however often its order id is repeated
        paid = orders.filter(orders.status == "paid").select("order_id")
        lines = lines.semi_join(paid, "order_id")
    if level == "product":
        pairs = lines.select(
            basket_id=lines.order_id.cast("string"), item=lines.product_id.cast("string")
        )
    elif level == "category":
        if products is None:
            raise MissingTableError(
                "level='category' needs the products table (product_id, category); pass "
                "products=... or use level='product'"
            )
        _require(products, "products", ("product_id", "category"))
        catalogue = products.select(
            cat_product=products.product_id.cast("string"),
            category=products.category.cast("string"),
        )
        joined = lines.join(catalogue, lines.product_id.cast("string") == catalogue.cat_product)
        joined = joined.filter(joined.category.notnull())
        pairs = joined.select(basket_id=joined.order_id.cast("string"), item=joined.category)
    else:
        raise ConfigError(f"level must be 'product' or 'category'; got {level!r}")
    pairs = pairs.filter(pairs.basket_id.notnull() & pairs.item.notnull())
    return pairs.select(*BASKET_COLUMNS)


def basket_pairs(order_items: ibis.Table, **options: Any) -> ibis.Table:
    """The Ibis expression of distinct ``(basket_id, item)`` pairs, as strings: the rows of
    :func:`basket_lines` (same keyword arguments: ``level``, ``products``, ``orders``,
    ``exclude_products``) made distinct."""
    return basket_lines(order_items, **options).distinct()


def baskets_from_orders(
    order_items: ibis.Table,
    *,
    level: BasketLevel = "product",
    products: ibis.Table | None = None,
    orders: ibis.Table | None = None,
    exclude_products: Iterable[str] | None = NON_PRODUCT_CODES,
) -> pa.Table:
    """Run :func:`basket_pairs` in the engine and return the pairs as an Arrow table
    (columns ``basket_id``, ``item``), ready for :func:`frequent_itemsets` and
    :func:`association_rules`. Row order is the engine's; mining does not depend on it.

    >>> import ibis, pandas as pd
    >>> con = ibis.duckdb.connect()
    >>> lines = con.create_table("order_items", pd.DataFrame(
    ...     {"order_id": ["o1", "o1", "o1", "o2"], "product_id": ["p1", "p2", "p2", "p1"]}))
    >>> baskets_from_orders(lines).to_pandas().sort_values(["basket_id", "item"]).values.tolist()
    [['o1', 'p1'], ['o1', 'p2'], ['o2', 'p1']]
    """
    return basket_pairs(
        order_items,
        level=level,
        products=products,
        orders=orders,
        exclude_products=exclude_products,
    ).to_pyarrow()
