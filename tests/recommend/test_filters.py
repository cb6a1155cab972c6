"""The shop's filters are never violated (property checks over random shops, Hypothesis):
nothing outside the active catalogue, nothing already bought unless members rebuy it, no
opted-out category, at most ``max_per_category`` per category, and lists as long as those rules
allow. The reference is the rules themselves, recomputed here from the inputs."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memberlens.recommend import Recommender

N_MEMBERS, N_ITEMS, N_CATS = 8, 14, 3


@st.composite
def shops(draw):
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, N_MEMBERS - 1), st.integers(0, N_ITEMS - 1), st.integers(0, 3)
            ),
            min_size=3,
            max_size=60,
        )
    )
    frame = pd.DataFrame(rows, columns=["m", "p", "purchase_days"])
    frame = frame.groupby(["m", "p"], as_index=False)["purchase_days"].max()
    frame["weight"] = frame["purchase_days"] * 10.0 + 1.0
    frame["member_id"] = "m" + frame["m"].astype(str)
    frame["product_id"] = "p" + frame["p"].astype(str).str.zfill(2)
    listed = draw(st.lists(st.booleans(), min_size=N_ITEMS, max_size=N_ITEMS))
    active = draw(st.lists(st.booleans(), min_size=N_ITEMS, max_size=N_ITEMS))
    cats = draw(st.lists(st.integers(-1, N_CATS - 1), min_size=N_ITEMS, max_size=N_ITEMS))
    products = pd.DataFrame(
        {
            "product_id": [f"p{i:02d}" for i in range(N_ITEMS)],
            "name": [f"item {i}" for i in range(N_ITEMS)],
            "category": [None if c < 0 else f"c{c}" for c in cats],
            "active": active,
        }
    )[listed]
    opted = draw(
        st.dictionaries(
            st.sampled_from([f"m{i}" for i in range(N_MEMBERS)] + ["new"]),
            st.lists(st.sampled_from([f"c{c}" for c in range(N_CATS)]), max_size=2),
            max_size=4,
        )
    )
    settings_ = dict(
        kind=draw(st.sampled_from(["als", "item_knn", "popular", "hybrid"])),
        max_per_category=draw(st.sampled_from([None, 1, 2])),
        exclude_bought=draw(st.sampled_from(["non_replenishment", "all"])),
        replenishment=draw(st.sampled_from(["data", None, ["p00", "p03"]])),
        min_repeat_buyers=1,
        factors=4,
        iterations=3,
        neighbours=5,
    )
    return (
        frame[["member_id", "product_id", "weight", "purchase_days"]],
        products,
        opted,
        settings_,
        draw(st.integers(1, 8)),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shops())
def test_filters_hold_for_every_member(shop):
    interactions, products, opted, params, k = shop
    model = Recommender(num_threads=1, **params).fit(interactions, products=products)
    members = [f"m{i}" for i in range(N_MEMBERS)] + ["new"]
    recs = model.recommend(members, k=k, opted_out=opted)
    catalogue = products.set_index("product_id")
    allowed_items = set(catalogue.index[catalogue["active"]])
    category = catalogue["category"].to_dict()
    bought = (
        interactions[interactions["purchase_days"] > 0]
        .groupby("member_id")["product_id"]
        .apply(set)
        .to_dict()
    )
    rebuy = set(model.items_[model.replenishment_])
    cap = params["max_per_category"]
    for member in members:
        mine = recs[recs["member_id"] == member]
        items = list(mine["product_id"])
        assert list(mine["rank"]) == list(range(1, len(items) + 1))
        assert len(set(items)) == len(items) <= k
        assert set(items) <= allowed_items
        blocked = set(opted.get(member, []))
        assert not {category[p] for p in items} & blocked
        own = bought.get(member, set())
        kept = own & rebuy if params["exclude_bought"] == "non_replenishment" else set()
        assert not (set(items) & own) - kept
        if cap is not None:
            counts = pd.Series([category[p] for p in items]).dropna().value_counts()
            assert (counts <= cap).all()
        # as long as the rules allow: every allowed item counts, up to the cap per category
        open_items = [
            p for p in allowed_items if category[p] not in blocked and (p not in own or p in kept)
        ]
        per_cat = pd.Series([category[p] for p in open_items], dtype=object)
        room = int(per_cat.isna().sum()) + int(
            per_cat.dropna().value_counts().clip(upper=cap or k).sum()
        )
        assert len(items) == min(k, room)
        if member == "new" or member not in set(interactions["member_id"]):
            assert mine["source"].eq("popular").all()
        assert mine["reason_en"].str.len().gt(0).all() and mine["reason_zh"].str.len().gt(0).all()
