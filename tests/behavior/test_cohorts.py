"""Cohort retention. Outside reference: the same table computed by hand in pandas on CDNOW
(first-purchase month cohorts, calendar-month differences), on both engines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberlens.behavior import COHORT_COLUMNS, cohort_retention, registration_cohort_retention


def _pandas_retention(orders: pd.DataFrame, as_of: str) -> pd.DataFrame:
    o = orders[orders.ordered_at <= pd.Timestamp(as_of)].copy()
    o["m"] = o.ordered_at.dt.year * 12 + o.ordered_at.dt.month - 1
    first = o.groupby("member_id").m.min().rename("c")
    o = o.join(first, on="member_id")
    o["k"] = o.m - o.c
    size = first.value_counts()
    active = o.groupby(["c", "k"]).member_id.nunique()
    revenue = o.groupby(["c", "k"]).amount.sum()
    days = o.assign(day=o.ordered_at.dt.normalize()).drop_duplicates(["member_id", "day"])
    days = days.sort_values(["member_id", "day"])
    second = days.groupby("member_id").nth(1).set_index("member_id")
    second_k = (second.m - first.reindex(second.index)).rename("k2")
    as_of_m = pd.Timestamp(as_of).year * 12 + pd.Timestamp(as_of).month - 1
    rows = []
    for c, n in size.sort_index().items():
        members = first.index[first == c]
        k2 = second_k.reindex(members).dropna()
        for k in range(as_of_m - c + 1):
            rows.append(
                (c, k, n, active.get((c, k), 0), int((k2 <= k).sum()), revenue.get((c, k), 0.0))
            )
    return pd.DataFrame(
        rows,
        columns=["c", "months_since", "cohort_size", "active_members", "repeat_members", "revenue"],
    )


def test_cdnow_retention_equals_pandas(backend, on_backend, cdnow_orders):
    orders = on_backend(cdnow_orders, "cdnow_orders")
    got = backend.to_pandas(cohort_retention(orders, as_of="1998-06-30"))
    assert list(got.columns) == list(COHORT_COLUMNS)
    ref = _pandas_retention(cdnow_orders, "1998-06-30")
    assert len(got) == len(ref) == 18 + 17 + 16  # Jan, Feb, Mar 1997 cohorts to June 1998
    for col in ("months_since", "cohort_size", "active_members", "repeat_members"):
        np.testing.assert_array_equal(got[col].to_numpy(), ref[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(got.revenue, ref.revenue, atol=1e-6)
    np.testing.assert_allclose(got.retention_rate, ref.active_members / ref.cohort_size)
    assert (
        got.cohort_size.sum() / 18 > 0
        and got.groupby("cohort_month").cohort_size.first().sum()
        == cdnow_orders.member_id.nunique()
    )
    assert (got[got.months_since == 0].retention_rate == 1.0).all()


def test_registration_cohorts_count_non_buyers():
    orders = pd.DataFrame(
        {
            "order_id": ["1", "2", "3"],
            "member_id": ["a", "a", "b"],
            "ordered_at": pd.to_datetime(["2024-01-05", "2024-03-02", "2024-02-20"]),
            "amount": [10.0, 12.0, 9.0],
            "status": "paid",
        }
    )
    members = pd.DataFrame(
        {
            "member_id": ["a", "b", "c", "d"],
            "registered_at": pd.to_datetime(
                ["2024-01-01", "2024-01-15", "2024-01-20", "2024-05-01"]
            ),
        }
    )
    got = registration_cohort_retention(orders, members, as_of="2024-03-31").to_pandas()
    assert got.cohort_month.nunique() == 1  # d registered after as-of
    assert got.cohort_size.tolist() == [3, 3, 3]
    assert got.active_members.tolist() == [1, 1, 1]
    assert got.repeat_members.tolist() == [1, 2, 2]  # converted to buyers by month k


def test_the_partial_as_of_month_is_flagged():
    orders = pd.DataFrame(
        {
            "order_id": ["1", "2", "3"],
            "member_id": ["a", "a", "b"],
            "ordered_at": pd.to_datetime(["2024-01-05", "2024-03-02", "2024-02-20"]),
            "amount": [10.0, 12.0, 9.0],
            "status": "paid",
        }
    )
    mid_march = cohort_retention(orders, as_of="2024-03-10").to_pandas()
    cohort = pd.to_datetime(mid_march.cohort_month)
    month = cohort.dt.year * 12 + cohort.dt.month - 1 + mid_march.months_since
    expected = (month == 2024 * 12 + 2).tolist()  # March 2024
    assert mid_march["partial_month"].tolist() == expected and any(expected)
    end_of_march = cohort_retention(orders, as_of="2024-03-31").to_pandas()
    assert not end_of_march["partial_month"].any()
