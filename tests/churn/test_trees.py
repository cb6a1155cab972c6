"""The raw score from the trees' decisions in numpy (``memberlens.churn._trees``) against
LightGBM's own ``predict(raw_score=True)``, bit for bit: the churn model of the simulated shop,
and the models of ``tests/churn/test_shap.py`` (NaN and zero-as-missing splits, near-zero
inputs, ties at the thresholds, trees left to LightGBM)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.churn.test_model import fitted, frames  # noqa: F401  (fixtures)
from tests.churn.test_shap import MODELS, _data, trained

from memberlens.churn._trees import raw_score
from memberlens.churn.model import _matrix


def test_the_churn_model_of_the_simulated_shop(fitted, frames):  # noqa: F811
    _, calib = frames
    x = _matrix(calib, fitted.feature_names_)
    np.testing.assert_array_equal(
        raw_score(fitted.booster_, x), fitted.booster_.predict(x, raw_score=True)
    )


@pytest.mark.parametrize("params", MODELS)
def test_models_with_missing_values_and_ties(params):
    booster = trained(params)
    fresh, _ = _data(4)  # rows the model has not seen, NaN and zeros included
    np.testing.assert_array_equal(raw_score(booster, fresh), booster.predict(fresh, raw_score=True))
