"""The estimator contract (scikit-learn ``base.py``): fit returns self, clone works, unfitted use
raises ``NotFittedError``, save/load round-trips, inputs are not mutated; plus validation and
the equivalence of event rows and aggregated weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from memberlens.exceptions import ConfigError, DataError
from memberlens.recommend import Recommender


@pytest.fixture(scope="module")
def small(train, products):
    """The first 600 members of the simulated shop's training interactions."""
    frame = train.to_pandas()
    members = frame["member_id"].drop_duplicates().iloc[:600]
    return frame[frame["member_id"].isin(members)].reset_index(drop=True), products


@pytest.mark.parametrize("kind", ["als", "item_knn", "popular", "hybrid"])
def test_contract(kind, small, tmp_path):
    frame, products = small
    before = frame.copy()
    model = Recommender(kind=kind, iterations=5)
    with pytest.raises(NotFittedError):
        model.recommend(["x"])
    assert model.fit(frame, products=products) is model
    pd.testing.assert_frame_equal(frame, before)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "members_")
    members = list(frame["member_id"].unique()[:25]) + ["unknown member"]
    recs = model.recommend(members, k=7)
    assert list(recs.columns) == [
        "member_id",
        "rank",
        "product_id",
        "score",
        "reason_en",
        "reason_zh",
        "source",
    ]
    assert recs.groupby("member_id").size().eq(7).all() and recs["member_id"].nunique() == 26
    loaded = Recommender.load(model.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(loaded.recommend(members, k=7), recs)
    assert loaded.get_params() == model.get_params()
    # batches give what one pass gives
    batched = pd.concat(model.recommend_batches(members, k=7, batch_size=4), ignore_index=True)
    pd.testing.assert_frame_equal(batched, recs)


def test_same_seed_same_model(small):
    frame, products = small
    first = Recommender(kind="als", iterations=5, random_state=4).fit(frame, products=products)
    again = Recommender(kind="als", iterations=5, random_state=4).fit(frame, products=products)
    np.testing.assert_allclose(first.item_factors_, again.item_factors_, rtol=1e-5, atol=1e-7)


def test_event_rows_equal_aggregated_weights():
    events = pd.DataFrame(
        {
            "member_id": ["a", "a", "a", "b", "b", "c", "c"],
            "product_id": ["x", "x", "y", "x", "z", "y", "z"],
            "event_type": ["order", "view", "cart", "order", "view", "order", "order"],
        }
    )
    weights = {"order": 10.0, "cart": 4.0, "view": 1.0}
    aggregated = pd.DataFrame(
        {
            "member_id": ["a", "a", "b", "b", "c", "c"],
            "product_id": ["x", "y", "x", "z", "y", "z"],
            "weight": [11.0, 4.0, 10.0, 1.0, 10.0, 10.0],
            "purchase_days": [1, 0, 1, 0, 1, 1],
        }
    )
    one = Recommender(kind="item_knn", event_weights=weights, neighbours=3).fit(events)
    two = Recommender(kind="item_knn", neighbours=3).fit(aggregated)
    assert (one.user_items_ != two.user_items_).nnz == 0
    assert (one.purchases_ != two.purchases_).nnz == 0
    pd.testing.assert_frame_equal(
        one.recommend(["a", "b", "c"], k=2), two.recommend(["a", "b", "c"], k=2)
    )


def test_reasons_name_the_bought_item():
    frame = pd.DataFrame(
        {
            "member_id": ["a", "a", "b", "b", "c", "d"],
            "product_id": ["tea", "cups", "tea", "cups", "tea", "milk"],
            "weight": [10.0] * 6,
        }
    )
    products = pd.DataFrame(
        {
            "product_id": ["tea", "cups", "milk"],
            "name": ["绿茶", "茶杯", "牛奶"],
            "category": ["食品", "家居", "食品"],
        }
    )
    recs = (
        Recommender(kind="item_knn", neighbours=5)
        .fit(frame, products=products)
        .recommend(["c", "zz"], k=1)
    )
    assert recs.loc[0, "product_id"] == "cups"
    assert recs.loc[0, "reason_en"] == "because you bought 绿茶"
    assert recs.loc[0, "reason_zh"] == "因为您购买了 绿茶"
    assert recs.loc[1, "reason_en"] == "popular in 食品" and recs.loc[1, "reason_zh"] == "食品热销"


@pytest.mark.parametrize(
    "params, match",
    [
        ({"kind": "svd"}, "kind"),
        ({"factors": 0}, "factors"),
        ({"hybrid_weights": (0, 0, 0)}, "hybrid_weights"),
        ({"scaling": "sqrt"}, "scaling"),
        ({"exclude_bought": "some"}, "exclude_bought"),
        ({"replenishment": "guess"}, "replenishment"),
        ({"max_per_category": 0}, "max_per_category"),
        ({"repeat_rate": 1.5}, "repeat_rate"),
        ({"event_weights": {"view": 1.0}}, "order"),
    ],
)
def test_bad_settings_are_named(params, match):
    frame = pd.DataFrame({"member_id": ["a"], "product_id": ["x"], "weight": [1.0]})
    with pytest.raises(ConfigError, match=match):
        Recommender(**params).fit(frame)


@pytest.mark.parametrize(
    "frame, match",
    [
        (pd.DataFrame({"member_id": ["a"], "weight": [1.0]}), "product_id"),
        (pd.DataFrame({"member_id": ["a"], "product_id": ["x"]}), "weight"),
        (pd.DataFrame({"member_id": ["a"], "product_id": ["x"], "weight": [-1.0]}), ">= 0"),
        (pd.DataFrame({"member_id": [None], "product_id": ["x"], "weight": [1.0]}), "empty"),
        (pd.DataFrame({"member_id": ["a"], "product_id": ["x"], "event_type": ["like"]}), "like"),
        (pd.DataFrame({"member_id": [], "product_id": [], "weight": []}), "no rows"),
    ],
)
def test_bad_data_is_named(frame, match):
    with pytest.raises(DataError, match=match):
        Recommender(kind="popular").fit(frame)


def test_als_fits_without_the_openblas_thread_warning(small, monkeypatch):
    """implicit warns when BLAS runs several threads under its own (``check_blas_config``);
    the fit holds BLAS to one thread, so the warning has no cause and is not raised."""
    import warnings

    import implicit.utils
    from threadpoolctl import threadpool_info

    if all(api["num_threads"] == 1 for api in threadpool_info() if api["user_api"] == "blas"):
        pytest.skip("BLAS runs one thread here already: nothing to hold back")
    frame, products = small
    monkeypatch.setattr(implicit.utils, "_checked_blas_config", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Recommender(kind="als", iterations=2).fit(frame, products=products)
    assert not [w for w in caught if "threads" in str(w.message)]
    # the control: implicit on its own, outside the limit, does warn here
    from implicit.cpu.als import AlternatingLeastSquares

    monkeypatch.setattr(implicit.utils, "_checked_blas_config", False)
    with pytest.warns(RuntimeWarning, match="threads"):
        AlternatingLeastSquares(factors=2)
