"""Baskets: planted co-purchase pairs and replenishment cycles are visible in order_items
(reference: ``truth/copurchase_pairs.parquet``, ``truth/replenishment.parquet``,
``truth/category_preferences.parquet``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq


def _lines(out) -> pd.DataFrame:
    items = pq.read_table(out / "order_items.parquet", columns=["order_id", "product_id"])
    orders = pq.read_table(out / "orders.parquet", columns=["order_id", "member_id", "ordered_at"])
    return items.join(orders, "order_id").to_pandas()


def test_planted_pairs_have_high_confidence_and_lift(small_shop):
    out, _ = small_shop
    lines = _lines(out)
    pairs = pq.read_table(out / "truth" / "copurchase_pairs.parquet").to_pandas()
    baskets = lines.groupby("order_id").product_id.agg(set)
    hits = total = 0
    lifts = []
    for ante, cons, prob in pairs.itertuples(index=False):  # noqa: B007 (prob: the last pair's, below)
        with_ante = baskets[baskets.map(lambda b, a=ante: a in b)]
        if len(with_ante) < 15:
            continue
        both = int(with_ante.map(lambda b, c=cons: c in b).sum())
        hits, total = hits + both, total + len(with_ante)
        lifts.append(both / len(with_ante) / baskets.map(lambda b, c=cons: c in b).mean())
    assert len(lifts) >= 10
    assert hits / total > 0.8 * prob  # confidence near the planted probability
    assert np.median(lifts) > 10


def test_replenishment_product_is_in_the_first_order_of_every_cycle(small_shop):
    out, _ = small_shop
    lines = _lines(out)
    latent = (
        pq.read_table(
            out / "truth" / "members.parquet",
            columns=["member_id", "first_purchase_at", "replenishment_product_id"],
        )
        .to_pandas()
        .dropna()
    )
    cycles = pq.read_table(out / "truth" / "replenishment.parquet").to_pandas()
    latent = latent.merge(cycles, left_on="replenishment_product_id", right_on="product_id")
    orders = lines.drop_duplicates("order_id").merge(latent, on="member_id")
    days = (orders.ordered_at - orders.first_purchase_at).dt.total_seconds() / 86400
    orders["period"] = np.floor(days / orders.cycle_days + 1e-9)
    first_of_cycle = orders.sort_values("ordered_at").drop_duplicates(["member_id", "period"])
    assert len(first_of_cycle) > 1000 and first_of_cycle.period.max() > 5
    has = set(zip(lines.order_id, lines.product_id))
    assert all(
        (o, p) in has
        for o, p in zip(first_of_cycle.order_id, first_of_cycle.replenishment_product_id)
    )
    # so the product's purchases are about a cycle apart or more (other orders add a few more)
    bought = orders[
        [(o, p) in has for o, p in zip(orders.order_id, orders.replenishment_product_id)]
    ]
    gap = bought.sort_values("ordered_at").groupby("member_id").ordered_at.diff()
    assert ((gap.dt.total_seconds() / 86400) / bought.cycle_days).median() > 1.0


def test_members_buy_the_categories_they_prefer(small_shop):
    out, _ = small_shop
    lines = _lines(out)
    products = pq.read_table(out / "products.parquet", columns=["product_id", "category"])
    lines = lines.merge(products.to_pandas(), on="product_id")
    prefs = pq.read_table(out / "truth" / "category_preferences.parquet").to_pandas()
    prefs = prefs.set_index("member_id")
    top = prefs.idxmax(axis=1)
    share_top = (lines.category == top.reindex(lines.member_id).to_numpy()).mean()
    assert share_top > 0.3  # against about 1/11 if categories were drawn at random
