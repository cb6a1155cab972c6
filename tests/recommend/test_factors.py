"""Reusing ALS item factors (``memberlens.recommend._factors``): the members' factors solved from
fixed item factors are the closed form of Hu, Koren & Volinsky (2008), eq. 4, computed here with
numpy; a model given its own item factors recommends exactly what it recommended (a fit solves
its members the same way); drift and new items refuse the saved factors; saved factors round-trip
through their file and are refused when their settings differ or they are too old; and the top-k
of a model is the one a full sort of its scores gives."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from memberlens.recommend import Recommender, _scoring
from memberlens.recommend._factors import (
    buyer_share_shift,
    fit_settings,
    item_factor_frame,
    save_item_factors,
    saved_item_factors,
)


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


def test_reused_factors_recommend_exactly_as_the_fit(fitted):
    # the fit solves its members' factors from its final item factors as a reuse does
    frame, products, model = fitted
    again = Recommender(kind="hybrid", iterations=8, num_threads=1).fit(
        frame, products=products, item_factors=item_factor_frame(model)
    )
    np.testing.assert_array_equal(again.user_factors_, model.user_factors_)
    members = frame["member_id"].unique()[:200]
    pd.testing.assert_frame_equal(again.recommend(members), model.recommend(members))


def test_saved_factors_round_trip_and_are_refused_when_stale(fitted, tmp_path):
    frame, products, model = fitted
    day = dt.date(2025, 9, 30)
    path = save_item_factors(tmp_path, model, fitted_on=day)
    assert path == tmp_path / "item_factors.parquet"
    settings = fit_settings(model)
    saved, note = saved_item_factors(
        tmp_path, settings, as_of=day + dt.timedelta(30), retrain_days=30
    )
    assert note == "2025-09-30"
    # product ids come back as text; the refit aligns them whatever the ids' type
    pd.testing.assert_frame_equal(
        saved, item_factor_frame(model).set_axis(model.items_.astype(str)).rename_axis("product_id")
    )
    again = Recommender(kind="hybrid", iterations=8, num_threads=1).fit(
        frame, products=products, item_factors=saved
    )
    np.testing.assert_array_equal(again.item_factors_, model.item_factors_)
    np.testing.assert_array_equal(again.user_factors_, model.user_factors_)
    for as_of, retrain_days, changed, why in [
        (day + dt.timedelta(31), 30, {}, "saved factors fitted 2025-09-30, more than 30 days ago"),
        (day - dt.timedelta(1), 30, {}, "saved factors fitted 2025-09-30, after the as-of day"),
        (day, 30, {"factors": 16}, "settings changed: factors"),
        (day, 30, {"iterations": 15, "alpha": 5.0}, "settings changed: alpha, iterations"),
    ]:
        refused = saved_item_factors(
            tmp_path, settings | changed, as_of=as_of, retrain_days=retrain_days
        )
        assert refused == (None, why)
    assert saved_item_factors(tmp_path / "none", settings, as_of=day, retrain_days=30) == (
        None,
        "no saved factors",
    )
    path.write_bytes(b"not parquet")
    broken, why = saved_item_factors(tmp_path, settings, as_of=day, retrain_days=30)
    assert broken is None and why.startswith("saved factors unreadable")


def test_integer_product_ids_align_with_saved_text_ids(fitted):
    frame, products, model = fitted
    codes = {p: i for i, p in enumerate(sorted(frame["product_id"].unique()))}
    numbered = frame.assign(product_id=frame["product_id"].map(codes).astype("int64"))
    first = Recommender(kind="als", iterations=2, num_threads=1).fit(numbered)
    saved = item_factor_frame(first)
    saved.index = saved.index.astype(str)
    again = Recommender(kind="als", iterations=2, num_threads=1).fit(numbered, item_factors=saved)
    assert again.als_decision_ == "item factors reused, PSI 0.00"


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
