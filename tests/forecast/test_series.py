"""Weekly series from the engine. References: a hand-computed shop, pandas on the simulated
shop's Parquet files, and the two engines (DuckDB, PySpark) side by side."""

from __future__ import annotations

import pandas as pd
import pytest

from memberlens.exceptions import DataError, MissingTableError
from memberlens.forecast import SERIES_COLUMNS, weekly_sales


def _hand_shop():
    """Three weeks (Mon 2024-01-01 .. Sun 2024-01-21) plus a partial fourth; week 2 has no
    paid order. Orders 1, 2 paid in week 1 (order 2 by a guest), 3 refunded (a refund row of
    order 1, negative amount), 4 cancelled, 5 paid in week 3, 6 paid in the partial week 4."""
    orders = pd.DataFrame(
        {
            "order_id": ["1", "2", "3", "4", "5", "6"],
            "member_id": ["a", None, "a", "b", "b", "a"],
            "ordered_at": pd.to_datetime(
                [
                    "2024-01-01 10:00",
                    "2024-01-07 23:30",
                    "2024-01-09 12:00",
                    "2024-01-10 09:00",
                    "2024-01-15 08:00",
                    "2024-01-22 08:00",
                ]
            ),
            "amount": [90.0, 20.0, -30.0, 50.0, 40.0, 70.0],
            "status": ["paid", "paid", "refunded", "cancelled", "paid", "paid"],
        }
    )
    items = pd.DataFrame(
        {
            # order 1: 100 of goods paid 90 after a discount, 60 beauty + 40 food
            "order_id": ["1", "1", "2", "5", "5", "6"],
            "product_id": ["p1", "p2", "p2", "p1", "p9", "p1"],
            "quantity": [1, 2, 1, 1, 1, 1],
            "unit_price": [60.0, 20.0, 20.0, 30.0, 10.0, 70.0],
            "amount": [60.0, 40.0, 20.0, 30.0, 10.0, 70.0],
        }
    )
    products = pd.DataFrame({"product_id": ["p1", "p2"], "category": ["美妆", "食品"]})
    return orders, items, products


def test_total_by_hand():
    orders, items, products = _hand_shop()
    out = weekly_sales({"orders": orders}, level="total", as_of="2024-01-24")
    assert list(out.columns) == list(SERIES_COLUMNS)
    assert out["week"].dt.date.astype(str).tolist() == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert out["revenue"].tolist() == [110.0, 0.0, 40.0]  # guest order counted
    assert out["orders"].tolist() == [2, 0, 1]  # refund and cancel not orders
    assert out["refunded"].tolist() == [0.0, 30.0, 0.0]  # by the refund row's week
    notes = " ".join(out.attrs["notes"])
    assert "last week (2024-01-22) is dropped" in notes and "analysis date to 2024-01-21" in notes
    assert "1 week(s) without a paid order" in notes


def test_category_shares_by_hand():
    orders, items, products = _hand_shop()
    out = weekly_sales(
        {"orders": orders, "order_items": items, "products": products},
        level="category",
        as_of="2024-01-21",
    )
    assert not any("last week" in n for n in out.attrs["notes"])  # as_of is a Sunday
    got = out.set_index([out["week"].dt.date.astype(str), "category"])
    # order 1 paid 90 for 60 + 40 of goods: 54 beauty, 36 food; order 2: 20 food;
    # order 5 paid 40 for 30 (美妆) + 10 (p9, not in products)
    assert got.loc[("2024-01-01", "美妆"), "revenue"] == pytest.approx(54.0)
    assert got.loc[("2024-01-01", "食品"), "revenue"] == pytest.approx(56.0)
    assert got.loc[("2024-01-01", "食品"), "orders"] == 2
    assert got.loc[("2024-01-15", "美妆"), "revenue"] == pytest.approx(30.0)
    assert got.loc[("2024-01-15", "(unknown)"), "revenue"] == pytest.approx(10.0)
    assert got.loc[("2024-01-08", "美妆"), "orders"] == 0  # the gap week is kept
    assert len(out) == 3 * 3  # 3 weeks x 3 categories
    # the categories of paid orders with lines add up to the total
    total = weekly_sales({"orders": orders}, level="total", as_of="2024-01-21")
    assert out.groupby("week")["revenue"].sum().tolist() == pytest.approx(total["revenue"].tolist())


def test_first_week_is_dropped_when_the_data_start_mid_week():
    orders, _, _ = _hand_shop()
    late = orders[orders.order_id != "1"]  # first sale on Sunday 7 January
    out = weekly_sales({"orders": late}, as_of="2024-01-21")
    assert out["week"].dt.date.astype(str).tolist() == ["2024-01-08", "2024-01-15"]
    assert "first week (2024-01-01) is dropped" in out.attrs["notes"][0]


def test_bad_input_names_the_fix():
    orders, items, products = _hand_shop()
    with pytest.raises(MissingTableError, match="order_items and products"):
        weekly_sales({"orders": orders}, level="category")
    with pytest.raises(DataError, match="level: must be"):
        weekly_sales({"orders": orders}, level="brand")
    with pytest.raises(DataError, match="no full week"):
        weekly_sales({"orders": orders}, as_of="2024-01-05")
    with pytest.raises(DataError, match="no paid order on or before"):
        weekly_sales({"orders": orders}, as_of="2023-12-01")
    with pytest.raises(MissingTableError, match="needs the orders table"):
        weekly_sales({"products": products})


def test_simulated_shop_equals_pandas(shop, weekly_total):
    folder, _ = shop
    orders = pd.read_parquet(folder / "orders.parquet")
    paid = orders[orders.status == "paid"]
    day = paid["ordered_at"].dt.normalize()
    week = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    expected = (
        paid.assign(amount=paid["amount"].astype(float), week=week)
        .groupby("week")
        .agg(revenue=("amount", "sum"), orders=("order_id", "size"))
    )
    got = weekly_total.set_index("week")
    expected = expected.reindex(got.index)
    assert got["orders"].tolist() == expected["orders"].astype(int).tolist()
    assert got["revenue"].to_numpy() == pytest.approx(expected["revenue"].to_numpy(), abs=1e-6)
    # 2023-01-01 is a Sunday and 2025-12-31 a Wednesday: both partial weeks dropped
    assert got.index.min() == pd.Timestamp("2023-01-02")
    assert got.index.max() == pd.Timestamp("2025-12-22")


def test_engines_agree(backend, on_backend):
    orders, items, products = _hand_shop()
    tables = {
        "orders": on_backend(orders, "fc_orders"),
        "order_items": on_backend(items, "fc_items"),
        "products": on_backend(products, "fc_products"),
    }
    reference = {"orders": orders, "order_items": items, "products": products}
    for level in ("total", "category"):
        got = weekly_sales(tables, level=level, as_of="2024-01-21")
        want = weekly_sales(reference, level=level, as_of="2024-01-21")
        pd.testing.assert_frame_equal(got, want, check_exact=False, atol=1e-9)
