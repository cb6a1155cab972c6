"""The raw score from the trees' decisions in numpy (``memberlens.churn._trees``) against
LightGBM's own ``predict(raw_score=True)``, bit for bit: the churn model of the simulated shop,
models with NaN and zero-as-missing splits and near-zero inputs, and the models left to
LightGBM (too many splits per tree)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from tests.churn.test_model import fitted, frames  # noqa: F401  (fixtures)

from memberlens.churn._trees import MAX_SPLITS, raw_score
from memberlens.churn.model import _matrix


def test_the_churn_model_of_the_simulated_shop(fitted, frames):  # noqa: F811
    _, calib = frames
    x = _matrix(calib, fitted.feature_names_)
    np.testing.assert_array_equal(
        raw_score(fitted.booster_, x), fitted.booster_.predict(x, raw_score=True)
    )


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(20_000, 8))
    x[rng.random(x.shape) < 0.15] = np.nan
    x[:, 3] = np.where(rng.random(len(x)) < 0.3, 0.0, x[:, 3])  # many exact zeros
    x[:, 4] = np.where(rng.random(len(x)) < 0.2, 1e-40, x[:, 4])  # zeros to LightGBM
    x[:, 5] = np.round(x[:, 5])  # ties at the thresholds
    y = np.nan_to_num(x[:, 0]) - np.nan_to_num(x[:, 3]) + rng.normal(size=len(x)) > 0
    return x, y.astype(int)


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 7},
        {"num_leaves": 7, "zero_as_missing": True},
        {"num_leaves": 7, "use_missing": False},
        {"num_leaves": 13},  # 12 splits: the most this module computes itself
        {"num_leaves": 31},  # 30 splits a tree: left to LightGBM
    ],
)
def test_models_with_missing_values_and_ties(params):
    x, y = _data(3)
    booster = lgb.train(
        {"objective": "binary", "learning_rate": 0.1, "verbose": -1, "seed": 1, **params},
        lgb.Dataset(x, y),
        num_boost_round=40,
    )
    splits = max(t["num_leaves"] for t in booster.dump_model()["tree_info"]) - 1
    assert (splits > MAX_SPLITS) == (params["num_leaves"] > MAX_SPLITS + 1)
    fresh, _ = _data(4)  # rows the model has not seen, NaN and zeros included
    np.testing.assert_array_equal(raw_score(booster, fresh), booster.predict(fresh, raw_score=True))
