"""Reusing ALS item factors (``memberlens.recommend._factors``): the members' factors solved from
fixed item factors are the closed form of Hu, Koren & Volinsky (2008), eq. 4, computed here with
numpy; a model given its own item factors recommends what it recommended; drift and new items
refuse the saved factors; and the top-k of a model is the one a full sort of its scores gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.recommend import Recommender, _scoring
from memberlens.recommend._factors import buyer_share_shift, item_factor_frame


@pytest.fixture(scope="module")
def fitted(train, products):
    frame = train.to_pandas()
    members = frame["member_id"].drop_duplicates().iloc[:800]
    frame = frame[frame["member_id"].isin(members)].reset_index(drop=True)
    model = Recommender(kind="hybrid", iterations=8, num_threads=1).fit(frame, products=products)
    return frame, products, model


def test_members_factors_are_the_closed_form_of_hu_koren_volinsky(fitted):
    frame, products, model = fitted
    again = Recommender(kind="hybrid", iterations=8, num_threads=1).fit(
        frame, products=products, item_factors=item_factor_frame(model)
    )
    assert again.als_decision_.startswith("item factors reused, PSI 0.00")
    np.testing.assert_array_equal(again.item_factors_, model.item_factors_)
    y = model.item_factors_.astype(np.float64)
    lam, alpha = model.regularization, model.alpha
    confidence = model.user_items_.tocsr()
    for u in (0, 1, 17, 250, 799):
        row = confidence[u]
        c_u = alpha * row.data  # C_ui = alpha * r_ui on the member's items (implicit >= 0.5)
        y_u = y[row.indices]  # p_ui = 1 there, 0 (C_ui = 1) elsewhere
        a = y.T @ y + (y_u.T * (c_u - 1.0)) @ y_u + lam * np.eye(y.shape[1])
        b = y_u.T @ c_u
        solved = np.linalg.solve(a, b)
        np.testing.assert_allclose(again.user_factors_[u], solved, rtol=2e-3, atol=2e-4)


def test_reused_factors_recommend_as_the_fit_with_refitted_members(fitted):
    frame, products, model = fitted
    again = Recommender(kind="hybrid", iterations=8, num_threads=1).fit(
        frame, products=products, item_factors=item_factor_frame(model)
    )
    members = frame["member_id"].unique()[:200]
    first, second = model.recommend(members), again.recommend(members)
    # same items, members re-solved exactly instead of by the fit's conjugate-gradient steps:
    # most of the top ten stays (same model); the kNN and popularity parts are unchanged
    overlap = first.merge(second, on=["member_id", "product_id"]).shape[0] / len(first)
    assert overlap > 0.8


def test_new_items_or_drift_refit(fitted):
    frame, products, model = fitted
    saved = item_factor_frame(model)
    fewer = Recommender(kind="als", iterations=2, num_threads=1).fit(
        frame, products=products, item_factors=saved.iloc[1:]
    )
    assert fewer.als_decision_ == "ALS fitted (1 item(s) without saved factors)"
    moved = saved.assign(buyer_share=saved["buyer_share"].to_numpy()[::-1])
    refit = Recommender(kind="als", iterations=2, num_threads=1).fit(
        frame, products=products, item_factors=moved
    )
    assert refit.als_decision_.startswith("ALS fitted (item buyer shares shifted: PSI")
    wrong = Recommender(kind="als", factors=8, iterations=2, num_threads=1).fit(
        frame, products=products, item_factors=saved
    )
    assert wrong.als_decision_ == "ALS fitted (saved factors have 32 factors, not 8)"
    assert buyer_share_shift(np.array([1.0, 1.0]), np.array([1.0, 1.0])) == 0.0


def test_top_ten_is_the_full_sort_of_the_models_scores(fitted):
    """The partial top-k pass picks what a full sort of the model's own ranking key picks."""
    from tests.recommend.test_selection import reference_top_k

    frame, _products, model = fitted
    rows = np.arange(300)
    key = _scoring.score_batch(model, rows, model.kind).key
    key[:, ~model.recommendable_] = -np.inf
    bought = model.purchases_[rows].tocoo()
    drop = ~model.replenishment_[bought.col]
    key[bought.row[drop], bought.col[drop]] = -np.inf
    expected = reference_top_k(key, 10, model.item_category_, model.max_per_category)
    recs = model.recommend(model.members_[rows], k=10)
    got = recs.pivot(index="member_id", columns="rank", values="product_id")
    got = got.reindex(pd.Index(model.members_[rows])).to_numpy()
    names = np.asarray(model.items_)[np.maximum(expected, 0)]
    np.testing.assert_array_equal(got.astype(str), np.where(expected >= 0, names, None).astype(str))
