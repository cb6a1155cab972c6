"""Purchase profiles and category mix. Outside reference: pandas groupby by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.behavior import category_mix, purchase_profile


def test_profile_equals_pandas_on_cdnow(backend, on_backend, cdnow_orders):
    members = pd.Series(cdnow_orders.member_id.unique())
    rng = np.random.default_rng(11)
    groups = pd.DataFrame(
        {"member_id": members, "province": rng.choice(["浙江", "广东", "四川"], size=len(members))}
    )
    got = backend.to_pandas(
        purchase_profile(
            on_backend(cdnow_orders, "o"),
            on_backend(groups, "g"),
            by="province",
            as_of="1998-06-30",
        )
    )
    got = got.set_index("province")
    o = cdnow_orders.merge(groups, on="member_id")
    o["day"] = o.ordered_at.dt.normalize()
    d = o.groupby(["province", "member_id", "day"], as_index=False).amount.sum()
    d["gap"] = d.groupby("member_id").day.diff().dt.days
    per = d.groupby(["province", "member_id"]).agg(days=("day", "size"), spend=("amount", "sum"))
    ref = pd.DataFrame(
        {
            "members": per.groupby("province").size(),
            "orders": o.groupby("province").size(),
            "purchase_days_per_member": per.groupby("province").days.mean(),
            "repeat_rate": per.groupby("province").days.apply(lambda s: (s >= 2).mean()),
            "spend_per_member": per.groupby("province").spend.mean(),
            "interval_days_mean": d.groupby("province").gap.mean(),
        }
    )
    for col in ref.columns:
        np.testing.assert_allclose(got.loc[ref.index, col], ref[col], rtol=1e-12, err_msg=col)


def test_category_mix_by_hand():
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "member_id": ["a", "b", "c"],
            "ordered_at": pd.to_datetime(["2024-01-01"] * 3),
            "amount": [30.0, 40.0, 5.0],
            "status": ["paid", "paid", "cancelled"],
        }
    )
    items = pd.DataFrame(
        {
            "order_id": ["o1", "o1", "o2", "o3"],
            "product_id": ["p1", "p2", "p1", "p2"],
            "quantity": [1, 2, 4, 1],
            "unit_price": [10.0, 10.0, 10.0, 5.0],
        }
    )
    products = pd.DataFrame({"product_id": ["p1", "p2"], "category": ["shoes", "bags"]})
    groups = pd.DataFrame({"member_id": ["a", "b", "c"], "segment": ["vip", "vip", "vip"]})
    got = category_mix(orders, items, products, groups, by="segment", as_of="2024-01-31")
    got = got.to_pandas()
    assert got.category.tolist() == ["shoes", "bags"]  # the cancelled order's bag is excluded
    assert got.revenue.tolist() == [50.0, 20.0]
    assert got.share.tolist() == pytest.approx([50 / 70, 20 / 70])
