"""Purchase days: one row per member and day of paid orders, with the gap to the previous day.
Reference: the same table worked out in pandas from the rule of memberlens.features.purchases."""

from __future__ import annotations

import pandas as pd

from memberlens.features.purchase_days import PURCHASE_DAY_COLUMNS, purchase_days


def test_purchase_days_equal_a_pandas_reference(backend, on_backend, cdnow_orders):
    orders = cdnow_orders.copy()
    orders.loc[orders.index % 17 == 0, "status"] = "refunded"  # refunds are not purchases
    end = pd.Timestamp("1997-09-30")
    got = backend.to_pandas(purchase_days(on_backend(orders, "orders"), end=end.date()))
    assert list(got.columns) == list(PURCHASE_DAY_COLUMNS)
    paid = orders[(orders.status == "paid") & (orders.ordered_at < end + pd.Timedelta(days=1))]
    paid = paid.assign(day=paid.ordered_at.dt.normalize())
    want = (
        paid.groupby(["member_id", "day"])
        .agg(orders=("order_id", "size"), amt=("amount", "sum"))
        .reset_index()
    )
    want["gap"] = want.groupby("member_id").day.diff().dt.days
    got = got.assign(day=pd.to_datetime(got.day)).sort_values(["member_id", "day"])
    got = got.reset_index(drop=True)
    assert got.orders.tolist() == want.orders.tolist()
    assert got.amt.astype(float).round(2).tolist() == want.amt.round(2).tolist()
    assert got.gap.astype("Float64").tolist() == want.gap.astype("Float64").tolist()
    assert got.member_id.tolist() == want.member_id.tolist()
