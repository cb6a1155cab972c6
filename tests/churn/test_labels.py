"""Labels from a cutoff: hand-counted cases, the default horizon against numpy's quantile."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from memberlens.churn import churn_labels, default_horizon_days
from memberlens.exceptions import DataError


def _orders(rows):
    frame = pd.DataFrame(rows, columns=["member_id", "ordered_at", "status"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    frame["order_id"] = [str(i) for i in range(len(frame))]
    frame["amount"] = 10.0
    return frame


ORDERS = _orders(
    [
        ("a", "2024-01-01", "paid"),
        ("a", "2024-02-10", "paid"),  # returns in 40 days
        ("b", "2024-01-05", "paid"),
        ("b", "2024-04-20", "paid"),  # returns after 60 days
        ("c", "2024-01-20", "paid"),
        ("c", "2024-02-05", "refunded"),  # refund is no purchase
        ("d", "2024-02-15", "paid"),  # first buys after cutoff
        ("e", "2024-01-31", "paid"),
        ("e", "2024-01-31", "cancelled"),
        ("f", "2024-06-30", "paid"),  # makes the data long enough
    ]
)


def test_labels_count_only_paid_purchases_inside_the_window():
    # reference: counted by hand from ORDERS (cutoff 31 Jan, horizon 60 days -> to 31 Mar)
    got = churn_labels(ORDERS, cutoff="2024-01-31", horizon_days=60).to_pandas()
    got = got.set_index("member_id").sort_index()
    assert list(got.index) == ["a", "b", "c", "e"]  # d and f had not bought yet
    assert got["churned"].tolist() == [0, 1, 1, 1]
    assert got["purchased"].tolist() == [1, 0, 0, 0]  # a's 10 Feb is within 30 days
    # a purchase on the cutoff day belongs to the features, not to the label
    on_cutoff = churn_labels(ORDERS, cutoff="2024-02-10", horizon_days=60).to_pandas()
    on_cutoff = on_cutoff.set_index("member_id").sort_index()
    assert on_cutoff.loc["a", "churned"] == 1 and on_cutoff.loc["a", "purchased"] == 0


def test_label_window_past_the_data_is_refused():
    with pytest.raises(DataError, match="after the last purchase day"):
        churn_labels(ORDERS, cutoff="2024-06-01", horizon_days=60)


def test_default_horizon_is_the_quantile_of_purchase_gaps():
    rng = np.random.default_rng(5)
    rows = []
    for m in range(200):
        days = np.cumsum(rng.integers(1, 120, size=4))
        rows += [(f"m{m}", dt.date(2023, 1, 1) + dt.timedelta(days=int(d)), "paid") for d in days]
    orders = _orders(rows)
    gaps = orders.groupby("member_id")["ordered_at"].diff().dropna().dt.days.to_numpy()
    # reference: numpy's linear-interpolation quantile, rounded up
    expected = int(np.ceil(np.quantile(gaps, 0.8)))
    assert default_horizon_days(orders, cutoff="2024-12-31") == expected


def test_features_work_on_orders_alone():
    # the data contract requires only member_id, ordered_at, amount (no coupon, no events)
    from memberlens.churn import FEATURE_COLUMNS, feature_table

    got = feature_table(ORDERS, cutoff="2024-01-31").to_pandas().set_index("member_id")
    assert sorted(got.index) == ["a", "b", "c", "e"]
    assert (got["coupon_share"] == 0).all() and (got["events_30d"] == 0).all()
    assert got.loc["a", "days_since_last"] == 30 and got.loc["e", "orders_30d"] == 1
    assert set(FEATURE_COLUMNS) - set(got.columns) == {"p_alive", "expected_purchases"}
