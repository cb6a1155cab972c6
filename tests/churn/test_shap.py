"""SHAP contributions once per decision pattern (``memberlens.churn._shap``) against LightGBM's
own ``predict(pred_contrib=True)`` (path-dependent TreeSHAP, Lundberg et al. 2020): the churn
model of the simulated shop, models with NaN and zero-as-missing splits, and the models left to
``pred_contrib`` (too many splits per tree)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from tests.churn.test_model import fitted, frames  # noqa: F401  (fixtures)

from memberlens.churn._shap import MAX_SPLITS, contributions
from memberlens.churn.model import _matrix


def test_the_churn_model_of_the_simulated_shop(fitted, frames):  # noqa: F811
    train, calib = frames
    x = _matrix(calib, fitted.feature_names_)
    ours = contributions(fitted.booster_, x)
    theirs = fitted.booster_.predict(x, pred_contrib=True)
    assert ours.shape == theirs.shape == (len(calib), len(fitted.feature_names_) + 1)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    # the contributions add up to the raw score, as TreeSHAP's do
    np.testing.assert_allclose(ours.sum(axis=1), fitted.booster_.predict(x, raw_score=True))


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(20_000, 8))
    x[rng.random(x.shape) < 0.15] = np.nan
    x[:, 3] = np.where(rng.random(len(x)) < 0.3, 0.0, x[:, 3])  # many exact zeros
    x[:, 4] = np.where(rng.random(len(x)) < 0.2, 1e-40, x[:, 4])  # zeros to LightGBM
    x[:, 5] = np.round(x[:, 5])  # ties at the thresholds
    y = np.nan_to_num(x[:, 0]) - np.nan_to_num(x[:, 3]) + rng.normal(size=len(x)) > 0
    return x, y.astype(int)


#: LightGBM settings of the test models: missing values either way, and trees with the most
#: splits computed here (12) and more (left to LightGBM)
MODELS = [
    {"num_leaves": 7},
    {"num_leaves": 7, "zero_as_missing": True},
    {"num_leaves": 7, "use_missing": False},
    {"num_leaves": 13},
    {"num_leaves": 31},
]


def trained(params: dict) -> lgb.Booster:
    """A 40-tree binary model of :func:`_data` with ``params``."""
    x, y = _data(3)
    booster = lgb.train(
        {"objective": "binary", "learning_rate": 0.1, "verbose": -1, "seed": 1, **params},
        lgb.Dataset(x, y),
        num_boost_round=40,
    )
    splits = max(t["num_leaves"] for t in booster.dump_model()["tree_info"]) - 1
    assert (splits > MAX_SPLITS) == (params["num_leaves"] > MAX_SPLITS + 1)
    return booster


@pytest.mark.parametrize("params", MODELS)
def test_models_with_missing_values_and_ties(params):
    booster = trained(params)
    fresh, _ = _data(4)  # rows the model has not seen, NaN and zeros included
    np.testing.assert_allclose(
        contributions(booster, fresh), booster.predict(fresh, pred_contrib=True), rtol=0, atol=1e-12
    )
