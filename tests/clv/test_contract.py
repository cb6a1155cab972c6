"""The scikit-learn contract, shared by every CLV model (STYLE.md): fit returns self, clone
works, unfitted use raises NotFittedError, save/load round-trips, inputs are not mutated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from memberlens.clv import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
)
from memberlens.datasets import load_donations
from memberlens.exceptions import ConfigError, DataError

MODELS = [
    BetaGeoModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    GammaGammaModel,
    BetaGeoBetaBinomModel,
]


def _data(model_class, cdnow_summary):
    if model_class is BetaGeoBetaBinomModel:
        return load_donations()
    return cdnow_summary.copy()


def _scores(model, data):
    if isinstance(model, GammaGammaModel):
        return model.conditional_expected_spend(data).to_numpy()
    return model.expected_purchases(data, horizon=4).to_numpy()


@pytest.mark.parametrize("model_class", MODELS)
def test_contract(model_class, cdnow_summary, tmp_path):
    data = _data(model_class, cdnow_summary)
    before = data.copy(deep=True)
    model = model_class(max_iter=500)
    with pytest.raises(NotFittedError):
        _scores(model, data)
    assert model.fit(data) is model
    pd.testing.assert_frame_equal(data, before)  # input not mutated
    assert not any(isinstance(v, pd.DataFrame) for v in vars(model).values())  # no data copy
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "params_")
    path = model.save(tmp_path / "model.json")
    loaded = model_class.load(path)
    pd.testing.assert_series_equal(loaded.params_, model.params_)
    pd.testing.assert_series_equal(loaded.standard_errors_, model.standard_errors_)
    assert loaded.log_likelihood_ == model.log_likelihood_
    np.testing.assert_array_equal(_scores(loaded, data), _scores(model, data))
    pd.testing.assert_frame_equal(data, before)


@pytest.mark.parametrize("model_class", [BetaGeoModel, GammaGammaModel])
def test_segment_models_round_trip(model_class, cdnow_summary, tmp_path):
    data = cdnow_summary.assign(segment=np.where(cdnow_summary["T"] > 32, 1, 2))
    model = model_class().fit(data, by="segment")
    loaded = model_class.from_json(model.to_json())
    pd.testing.assert_frame_equal(loaded.params_, model.params_)
    np.testing.assert_array_equal(_scores(loaded, data), _scores(model, data))
    with pytest.raises(DataError, match="not seen in fit"):
        _scores(model, data.assign(segment=3))


def test_loading_the_wrong_model_is_refused(cdnow_summary):
    text = BetaGeoModel().fit(cdnow_summary).to_json()
    with pytest.raises(ConfigError, match="BetaGeoModel"):
        ParetoNBDModel.from_json(text)


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"recency": 50.0}, "recency must be <= T"),
        ({"frequency": -1}, "frequency must be a whole number"),
        ({"T": np.nan}, "finite numbers"),
    ],
)
def test_bad_summaries_name_the_rule(cdnow_summary, bad, match):
    data = cdnow_summary.copy()
    column, value = next(iter(bad.items()))
    data.loc[data.index[5], column] = value
    with pytest.raises(DataError, match=match):
        BetaGeoModel().fit(data)


def test_missing_column_and_settings_are_reported(cdnow_summary):
    with pytest.raises(DataError, match="missing column"):
        BetaGeoModel().fit(cdnow_summary.drop(columns="T"))
    with pytest.raises(ConfigError, match="initial_params"):
        BetaGeoModel(initial_params={"zeta": 1.0}).fit(cdnow_summary)
