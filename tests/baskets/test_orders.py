"""Baskets pulled from canonical order tables in the engine, identical on DuckDB and PySpark.

References: hand-built lines for the filtering rules (returns, unpaid orders, products without
a category), and Groceries put into ``order_items`` form, which must give arules' 5,668 rules.
"""

from __future__ import annotations

import pandas as pd
import pytest

from memberlens.baskets import association_rules, basket_pairs, baskets_from_orders
from memberlens.datasets import load_groceries_items
from memberlens.exceptions import ConfigError, MissingTableError, SchemaError

LINES = pd.DataFrame(
    {
        "order_id": ["o1", "o1", "o1", "o2", "o2", "o3", "o4"],
        "product_id": ["p1", "p2", "p2", "p1", "p3", "p2", "p4"],
        "quantity": [1.0, 2.0, 1.0, 1.0, -1.0, 1.0, 1.0],
    }
)
PRODUCTS = pd.DataFrame(
    {"product_id": ["p1", "p2", "p3", "p4"], "category": ["dairy", "bakery", "dairy", None]}
)
ORDERS = pd.DataFrame(
    {"order_id": ["o1", "o2", "o3", "o4"], "status": ["paid", "paid", "cancelled", "paid"]}
)


def _pairs(table) -> list[tuple[str, str]]:
    frame = table.to_pandas()
    return sorted(zip(frame["basket_id"], frame["item"]))


def test_product_baskets_are_distinct_and_skip_returns_and_unpaid_orders(on_backend):
    lines = on_backend(LINES, "order_items")
    assert _pairs(baskets_from_orders(lines)) == [
        ("o1", "p1"),
        ("o1", "p2"),
        ("o2", "p1"),
        ("o3", "p2"),
        ("o4", "p4"),
    ]
    orders = on_backend(ORDERS, "orders")
    assert _pairs(baskets_from_orders(lines, orders=orders)) == [
        ("o1", "p1"),
        ("o1", "p2"),
        ("o2", "p1"),
        ("o4", "p4"),
    ]


def test_category_baskets_join_products_and_skip_uncategorised(on_backend):
    lines = on_backend(LINES, "order_items")
    products = on_backend(PRODUCTS, "products")
    got = _pairs(baskets_from_orders(lines, level="category", products=products))
    assert got == [("o1", "bakery"), ("o1", "dairy"), ("o2", "dairy"), ("o3", "bakery")]


def test_groceries_as_order_lines_give_the_arules_rules(on_backend, groceries, arules_reference):
    frame = pd.DataFrame(
        [(f"t{i:05d}", item) for i, b in enumerate(groceries) for item in b],
        columns=["order_id", "product_id"],
    )
    lines = on_backend(frame, "order_items")
    case = arules_reference["rules"][0]
    rules = association_rules(baskets_from_orders(lines), **case["parameters"])
    assert len(rules) == case["n_rules"]
    items = load_groceries_items()
    products = on_backend(
        items.rename(columns={"item": "product_id", "level2": "category"})[
            ["product_id", "category"]
        ],
        "products",
    )
    by_category = baskets_from_orders(lines, level="category", products=products).to_pandas()
    to_level2 = dict(zip(items["item"], items["level2"]))
    expected = {(f"t{i:05d}", to_level2[item]) for i, b in enumerate(groceries) for item in b}
    assert set(zip(by_category["basket_id"], by_category["item"])) == expected
    assert len(by_category) == len(expected)


def test_bad_requests_name_the_fix():
    import ibis

    lines = ibis.memtable(LINES)
    with pytest.raises(MissingTableError, match="products"):
        basket_pairs(lines, level="category")
    with pytest.raises(ConfigError, match="level"):
        basket_pairs(lines, level="brand")
    with pytest.raises(SchemaError, match="product_id"):
        basket_pairs(ibis.memtable(pd.DataFrame({"order_id": ["o1"]})))
