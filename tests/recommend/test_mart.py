"""The recommendation marts on the simulated shop: shape, columns, filters, batching, and the
bought-together list built from the same baskets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.recommend import recommendation_mart

AS_OF = "2025-12-31"


@pytest.fixture(scope="module")
def marts(shop):
    t = {name: shop.table(name) for name in ("orders", "order_items", "products", "events")}
    return recommendation_mart(
        t["orders"], t["order_items"], t["products"], t["events"], as_of=AS_OF, k=10, batch_size=500
    )


def test_recommendations_mart(marts, shop, products):
    recs, _ = marts
    assert list(recs.columns) == [
        "member_id",
        "rank",
        "product_id",
        "product_name",
        "category",
        "score",
        "reason_en",
        "reason_zh",
        "source",
    ]
    sizes = recs.groupby("member_id").size()
    assert sizes.eq(10).all()
    # every member with a paid line or a weighted event by the day, counted in plain SQL
    expected = shop.sql("""
        SELECT count(*) AS n FROM (
          SELECT o.member_id FROM orders o JOIN order_items i ON i.order_id = o.order_id
           WHERE o.status = 'paid' AND o.member_id IS NOT NULL AND i.quantity > 0
          UNION
          SELECT member_id FROM events
           WHERE member_id IS NOT NULL AND product_id IS NOT NULL
             AND event_type IN ('view', 'click', 'cart', 'favorite', 'share'))""").execute()
    assert len(sizes) == int(expected["n"].iloc[0])
    catalogue = products.to_pandas().set_index("product_id")
    assert recs["product_name"].eq(catalogue.loc[recs["product_id"], "name"].to_numpy()).all()
    assert recs["category"].eq(catalogue.loc[recs["product_id"], "category"].to_numpy()).all()
    assert recs.groupby(["member_id", "category"]).size().max() <= 4  # the default cap
    assert set(recs["source"]) <= {"als", "item_knn", "popular"}
    assert not recs.duplicated(["member_id", "product_id"]).any()


def test_batches_do_not_change_the_mart(marts, shop):
    recs, together = marts
    t = {name: shop.table(name) for name in ("orders", "order_items", "products", "events")}
    again, together_again = recommendation_mart(
        t["orders"],
        t["order_items"],
        t["products"],
        t["events"],
        as_of=AS_OF,
        k=10,
        batch_size=100_000,
    )
    pd.testing.assert_frame_equal(again, recs)
    pd.testing.assert_frame_equal(together_again, together)


def test_one_member_per_history_is_scored_and_the_others_get_the_same_rows(shop):
    # the mart scores one member of each distinct history (interactions and purchases) and
    # repeats its rows for the others; scoring every member one by one with the same fitted
    # model must give the same mart
    from memberlens.recommend._factors import history_keys

    t = {name: shop.table(name) for name in ("orders", "order_items", "products", "events")}
    models = []
    recs, _ = recommendation_mart(
        t["orders"], t["order_items"], t["products"], None,
        as_of=AS_OF, k=10, batch_size=500, fitted=models.append,
    )  # fmt: skip
    model = models[0]
    keys = history_keys(model, "")
    shared = pd.Series(keys).duplicated(keep=False)
    assert shared.sum() > 50, "the simulated shop should have members sharing a history"
    every = pd.concat(
        [
            b.to_pandas()
            for b in model.recommend_arrow_batches(model.members_, k=10, batch_size=500)
        ],
        ignore_index=True,
    )
    columns = ["member_id", "rank", "product_id", "score", "reason_en", "reason_zh", "source"]
    got = recs[columns].sort_values(["member_id", "rank"], ignore_index=True)
    want = every[columns].sort_values(["member_id", "rank"], ignore_index=True)
    # products whose scores agree to 1e-6 may trade places: a member's ALS scores round by the
    # shape of the batch it is scored in (see tests/pipeline/test_recommendations_step.py)
    assert got[["member_id", "rank"]].equals(want[["member_id", "rank"]])
    assert got["score"].to_numpy() == pytest.approx(want["score"].to_numpy(), rel=1e-6)
    same = got["product_id"].to_numpy() == want["product_id"].to_numpy()
    pd.testing.assert_frame_equal(got[same], want[same], check_dtype=False)
    key = ["member_id", "product_id", "reason_en", "source"]
    pd.testing.assert_frame_equal(
        got.loc[~same, key].sort_values(key, ignore_index=True),
        want.loc[~same, key].sort_values(key, ignore_index=True),
        check_dtype=False,
    )


def test_bought_together_mart(marts, products):
    _, together = marts
    assert list(together.columns) == [
        "product_id",
        "rank",
        "other_product_id",
        "other_product_name",
        "confidence",
        "lift",
    ]
    assert len(together) > 50 and together["rank"].max() <= 10
    names = products.to_pandas().set_index("product_id")["name"]
    assert (
        together["other_product_name"].eq(names.loc[together["other_product_id"]].to_numpy()).all()
    )
    assert np.all(together["lift"] > 1)


def test_arrow_form_holds_the_same_recommendations_in_dictionaries(marts, shop):
    # the pipeline's form (as_arrow=True, text dictionary-encoded per batch) against the
    # pandas form of the same call
    import pyarrow as pa

    t = {name: shop.table(name) for name in ("orders", "order_items", "products", "events")}
    table, _ = recommendation_mart(
        t["orders"],
        t["order_items"],
        t["products"],
        t["events"],
        as_of=AS_OF,
        k=10,
        batch_size=500,
        as_arrow=True,
    )
    assert isinstance(table, pa.Table) and table.num_rows == len(marts[0])
    assert pa.types.is_dictionary(table.schema.field("reason_en").type)
    assert table.column("reason_en").num_chunks > 1  # several batches, each its own dictionary
    plain = table.to_pandas()
    for col in plain.columns:
        if isinstance(plain[col].dtype, pd.CategoricalDtype):
            plain[col] = plain[col].astype(object)
    pd.testing.assert_frame_equal(plain, marts[0], check_dtype=False)
