"""Interactions built in the engine, checked against the definition recomputed with pandas on
a hand-made warehouse, on DuckDB and on PySpark (same results on both engines)."""

from __future__ import annotations

import pandas as pd
import pytest

from memberlens.exceptions import ConfigError, MissingTableError
from memberlens.recommend import interactions_from_warehouse

ORDERS = pd.DataFrame(
    {
        "order_id": ["o1", "o2", "o3", "o4", "o5", "o6", "o7"],
        "member_id": ["m1", "m1", "m2", "m2", "m1", None, "m3"],
        "ordered_at": pd.to_datetime(
            [
                "2024-01-02 10:00",
                "2024-02-01 09:00",
                "2024-02-01 11:00",
                "2024-02-01 18:00",
                "2024-02-10 00:00",
                "2024-02-01 00:00",
                "2024-07-01 00:00",
            ]
        ),
        "amount": [10.0, 12.0, 5.0, 6.0, -12.0, 3.0, 9.0],
        "status": ["paid", "paid", "paid", "paid", "refunded", "paid", "paid"],
    }
)
LINES = pd.DataFrame(
    {
        "order_id": ["o1", "o1", "o2", "o3", "o4", "o4", "o5", "o6", "o7"],
        "product_id": ["p1", "p2", "p1", "p3", "p3", "p4", "p1", "p1", "p1"],
        "quantity": [1, 2, 1, 1, 1, -1, 1, 1, 1],
    }
)
EVENTS = pd.DataFrame(
    {
        "member_id": ["m1", "m1", "m2", "m2", None, "m2", "m4", "m1"],
        "event_type": ["view", "cart", "view", "order", "view", "search", "view", "view"],
        "occurred_at": pd.to_datetime(
            [
                "2024-01-01",
                "2024-01-03",
                "2024-03-01",
                "2024-02-01",
                "2024-03-01",
                "2024-03-01",
                "2024-06-30 23:59",
                "2024-07-01",
            ],
            format="mixed",
        ),
        "product_id": ["p5", "p1", "p3", "p3", "p1", None, "p2", "p9"],
    }
)


def expected(as_of="2024-06-30") -> pd.DataFrame:
    """The definition, by hand: paid lines (quantity > 0) of members up to as_of, purchase days
    x 10, plus event weights (view 1, cart 4; 'order' events and rows without a member or
    product are not counted)."""
    rows = [
        ("m1", "p1", 10 * 2 + 4, 2),  # days 01-02 and 02-01 (the refund o5 is not one)
        ("m1", "p2", 10, 1),
        ("m1", "p5", 1, 0),
        ("m2", "p3", 10 + 1, 1),  # o3 and o4 on the same day; one view
        ("m4", "p2", 1, 0),
    ]  # a member with events only; p4 was a return line
    return pd.DataFrame(
        rows, columns=["member_id", "product_id", "weight", "purchase_days"]
    ).astype({"weight": float})


def test_matches_the_definition_on_both_engines(on_backend):
    tables = {
        "orders": on_backend(ORDERS, "orders"),
        "order_items": on_backend(LINES, "lines"),
        "events": on_backend(EVENTS, "events"),
    }
    got = interactions_from_warehouse(tables, as_of="2024-06-30").to_pandas()
    pd.testing.assert_frame_equal(got, expected(), check_dtype=False)


def test_window_and_weights():
    tables = {"orders": ORDERS, "order_items": LINES, "events": EVENTS}
    got = interactions_from_warehouse(
        tables, as_of="2024-06-30", start="2024-01-31", weights={"order": 2.0, "view": 0.5}
    ).to_pandas()
    # after 31 Jan only: m1 bought p1 on 1 Feb (cart on 3 Jan and view on 1 Jan fall out)
    assert got.to_dict("records") == [
        {"member_id": "m1", "product_id": "p1", "weight": 2.0, "purchase_days": 1},
        {"member_id": "m2", "product_id": "p3", "weight": 2.5, "purchase_days": 1},
        {"member_id": "m4", "product_id": "p2", "weight": 0.5, "purchase_days": 0},
    ]


def test_from_a_backend_and_missing_tables():
    import ibis

    con = ibis.duckdb.connect()
    for name, frame in (("orders", ORDERS), ("order_items", LINES), ("events", EVENTS)):
        con.create_table(name, frame)
    got = interactions_from_warehouse(con, as_of="2024-06-30").to_pandas()
    pd.testing.assert_frame_equal(got, expected(), check_dtype=False)
    with pytest.raises(MissingTableError, match="order_items"):
        interactions_from_warehouse({"orders": ORDERS}, as_of="2024-06-30")
    with pytest.raises(ConfigError, match="order"):
        interactions_from_warehouse(con, as_of="2024-06-30", weights={"view": 1.0})
