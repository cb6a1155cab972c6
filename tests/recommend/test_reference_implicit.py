"""Our ALS and item-kNN scores equal ``implicit`` called directly on the same matrix with the
same seed and settings (reference: implicit 0.7.3, ``AlternatingLeastSquares.recommend`` and
``CosineRecommender.recommend``; the members' ALS factors are solved again from the fitted
item factors with ``AlternatingLeastSquares.recalculate_user``, as ``Recommender.fit`` does)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from memberlens.recommend import Recommender


def _matrix(frame: pd.DataFrame):
    """The user x item matrix a user of implicit would build: ids in sorted order."""
    members = np.sort(frame["member_id"].unique())
    items = np.sort(frame["product_id"].unique())
    rows = np.searchsorted(members, frame["member_id"])
    cols = np.searchsorted(items, frame["product_id"])
    matrix = sp.csr_matrix(
        (frame["weight"].to_numpy(np.float32), (rows, cols)), shape=(len(members), len(items))
    )
    return members, items, matrix


@pytest.fixture(scope="module")
def purchases(train):
    """Purchased pairs only (weight = purchase days), so 'already bought' is what implicit's
    ``filter_already_liked_items`` removes."""
    frame = train.to_pandas()
    frame = frame[frame["purchase_days"] > 0]
    return frame.assign(weight=frame["purchase_days"].astype(float))[
        ["member_id", "product_id", "weight"]
    ].reset_index(drop=True)


SETTINGS = dict(factors=16, regularization=0.05, alpha=5.0, iterations=8, random_state=3)


def test_als_scores_equal_implicit(purchases):
    from implicit.cpu.als import AlternatingLeastSquares

    ours = Recommender(
        kind="als",
        scaling="none",
        exclude_bought="all",
        max_per_category=None,
        num_threads=1,
        **SETTINGS,
    ).fit(purchases)
    members, items, matrix = _matrix(purchases)
    with threadpool_limits(1, "blas"):
        bare = AlternatingLeastSquares(num_threads=1, **SETTINGS)
        bare.fit(matrix, show_progress=False)
        bare.user_factors = bare.recalculate_user(np.arange(matrix.shape[0]), matrix)
    np.testing.assert_allclose(ours.item_factors_, bare.item_factors, rtol=1e-5, atol=1e-6)
    chosen = np.arange(0, len(members), 97)
    ids, scores = bare.recommend(chosen, matrix[chosen], N=10)
    recs = ours.recommend(members[chosen], k=10)
    assert len(recs) == ids.size
    np.testing.assert_array_equal(recs["product_id"].to_numpy().reshape(ids.shape), items[ids])
    np.testing.assert_allclose(
        recs["score"].to_numpy().reshape(ids.shape), scores, rtol=1e-5, atol=1e-6
    )


@pytest.mark.filterwarnings("ignore:Method expects CSR input")
def test_item_knn_scores_equal_implicit(purchases):
    from implicit.nearest_neighbours import CosineRecommender

    ours = Recommender(
        kind="item_knn",
        neighbours=30,
        scaling="none",
        exclude_bought="all",
        max_per_category=None,
        num_threads=1,
    ).fit(purchases)
    members, items, matrix = _matrix(purchases)
    bare = CosineRecommender(K=30, num_threads=1)
    bare.fit(matrix, show_progress=False)
    chosen = np.arange(0, len(members), 53)
    recs = ours.recommend(members[chosen], k=5)
    compared = 0
    for position, member in zip(chosen, members[chosen]):
        ids, scores = bare.recommend(position, matrix[position], N=len(items))
        theirs = dict(zip(items[ids], scores))
        top = scores[scores > 0][:5]  # ours fills items without evidence from popularity
        mine = recs[recs["member_id"] == member].head(len(top))
        assert mine["source"].eq("item_knn").all()
        # the same scores in the same order, and each item has implicit's score for it (items
        # with equal scores may swap places)
        np.testing.assert_allclose(mine["score"].to_numpy(), top, rtol=1e-5)
        np.testing.assert_allclose(
            mine["score"].to_numpy(), [theirs[p] for p in mine["product_id"]], rtol=1e-5
        )
        compared += len(top)
    assert compared > 50
