"""SalesForecaster. References: a synthetic series with known festival lifts (simulate, then
recover), statsmodels' SARIMAX fitted directly on the same design, and the scikit-learn
estimator contract."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from memberlens.exceptions import ConfigError, DataError
from memberlens.forecast import DEFAULT_FESTIVALS, SalesForecaster, design_matrix

#: Log lifts of a week fully exposed to each festival, in the synthetic series.
TRUE_LIFTS = {
    "spring_festival_shopping": 0.25,
    "spring_festival_eve": -0.45,
    "spring_festival_holiday": -0.9,
    "spring_festival_return": -0.2,
    "womens_day": 0.3,
    "presale_618": 0.35,
    "day_618": 0.5,
    "golden_week": 0.1,
    "presale_double11": 0.45,
    "double11": 0.9,
    "double12": 0.4,
}


def synthetic(seed: int, *, weeks: int = 208, errors: str = "local_level") -> pd.Series:
    """Four years of weekly sales: growth, a yearly cycle, festival lifts and noise."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-01-04", periods=weeks, freq="7D")
    x = design_matrix(index, yearly_order=2, festivals=DEFAULT_FESTIVALS)
    season = 0.15 * x["sin1"] + 0.10 * x["cos1"] - 0.05 * x["sin2"]
    festivals = sum(lift * x[name] for name, lift in TRUE_LIFTS.items())
    if errors == "local_level":
        level = 8.0 + np.cumsum(rng.normal(0.004, 0.02, weeks))  # a drifting, growing level
        log_y = level + season + festivals + rng.normal(0.0, 0.05, weeks)
    else:
        u = np.zeros(weeks)
        shocks = rng.normal(0.0, 0.06, weeks)
        for t in range(1, weeks):
            u[t] = 0.5 * u[t - 1] + shocks[t]
        log_y = 8.0 + 0.2 * np.arange(weeks) / 52.18 + season + festivals + u
    return pd.Series(np.expm1(log_y.to_numpy()), index=index)


@pytest.mark.parametrize("errors", ["local_level", "ar1"])
def test_festival_lifts_are_recovered(errors):
    model = SalesForecaster(errors=errors).fit(synthetic(1, errors=errors))
    effects = model.festival_effects().set_index("festival")
    truth = pd.Series(TRUE_LIFTS)[effects.index]
    error = effects["coef"] - truth
    assert error.abs().max() < 0.12, error.round(3).to_dict()
    assert (error.abs() / effects["se"]).max() < 3.5
    assert effects["lift"].to_numpy() == pytest.approx(np.expm1(effects["coef"].to_numpy()))
    assert (effects["lift_lower"] < effects["lift"]).all()
    assert (effects["lift"] < effects["lift_upper"]).all()


def test_ar1_recovers_trend_and_season():
    model = SalesForecaster(errors="ar1").fit(synthetic(1, errors="ar1"))
    p = model.params_
    assert p["trend"] == pytest.approx(0.2, abs=0.05)
    assert p["sin1"] == pytest.approx(0.15, abs=0.04)
    assert p["cos1"] == pytest.approx(0.10, abs=0.04)
    # the AR estimate of a regression with 20 parameters on 208 weeks is biased down
    # (sampling sd about 0.06); the autocorrelation is found, not pinned
    assert 0.2 < p["ar.L1"] < 0.7


@pytest.mark.parametrize("errors, order", [("local_level", (0, 1, 1)), ("ar1", (1, 0, 0))])
def test_statsmodels_sarimax_on_the_same_design_gives_the_same_fit(errors, order):
    """SARIMAX's exact state-space MLE (a different estimator from our feasible GLS with the
    innovations MLE) on the same log series and design: same estimates, standard errors
    (numerical Hessian) and forecasts."""
    import statsmodels.api as sm

    y = synthetic(2, errors=errors)
    festivals = ("spring_festival_holiday", "double11", "double12")
    model = SalesForecaster(errors=errors, yearly_order=2, festivals=festivals).fit(y)
    x = design_matrix(y.index, yearly_order=2, festivals=festivals, trend=errors == "ar1")
    assert list(x.columns) == model.columns_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = sm.tsa.SARIMAX(np.log1p(y.to_numpy()), exog=x.to_numpy(), order=order).fit(
            disp=False, cov_type="approx", maxiter=500
        )
    assert np.asarray(direct.params) == pytest.approx(model.params_.to_numpy(), rel=2e-3, abs=2e-3)
    k = len(model.columns_)
    assert model.standard_errors().to_numpy() == pytest.approx(np.asarray(direct.bse)[:k], rel=0.1)
    future = design_matrix(
        model.future_weeks(8),
        yearly_order=2,
        festivals=festivals,
        trend=errors == "ar1",
        origin=y.index[0],
    )
    forecast = direct.get_forecast(8, exog=future.to_numpy())
    assert model.predict(8)["yhat"].to_numpy() == pytest.approx(
        np.expm1(forecast.predicted_mean), rel=5e-3
    )


def test_forecast_frame_and_intervals():
    y = synthetic(3)
    model = SalesForecaster(interval=0.8).fit(y)
    out = model.predict(13)
    assert list(out.columns) == ["week", "yhat", "yhat_lower", "yhat_upper"]
    assert out["week"].iloc[0] == y.index[-1] + pd.Timedelta(days=7)
    assert (out["week"].diff().dropna() == pd.Timedelta(days=7)).all()
    assert ((out.yhat_lower <= out.yhat) & (out.yhat <= out.yhat_upper)).all()
    width = np.log1p(out.yhat_upper) - np.log1p(out.yhat_lower)
    assert (np.diff(width) > 0).all()  # a random-walk level: wider ahead
    wider = SalesForecaster(interval=0.95).fit(y).predict(13)
    assert (wider.yhat_upper > out.yhat_upper).all()
    history = model.predict_in_sample()
    assert np.isnan(history["yhat"].iloc[0])
    assert history["actual"].to_numpy() == pytest.approx(y.to_numpy())
    assert len(history) == len(y)


def test_estimator_contract(tmp_path):
    y = synthetic(4)
    original = y.copy()
    model = SalesForecaster(yearly_order=2, festivals=("double11", "double12"))
    with pytest.raises(NotFittedError):
        model.predict(4)
    assert model.fit(y) is model
    pd.testing.assert_series_equal(y, original)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "params_")
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    loaded = pickle.loads(path.read_bytes())
    pd.testing.assert_frame_equal(loaded.predict(6), model.predict(6))
    assert model.columns_ == ["sin1", "cos1", "sin2", "cos2", "double11", "double12"]


def test_weekly_sales_frame_is_accepted(weekly_total):
    by_frame = SalesForecaster(metric="orders").fit(weekly_total)
    by_series = SalesForecaster().fit(weekly_total.set_index("week")["orders"])
    pd.testing.assert_frame_equal(by_frame.predict(4), by_series.predict(4))


def test_short_histories():
    y = synthetic(5)
    with pytest.raises(DataError, match="11 full week.*at least 12"):
        SalesForecaster().fit(y.iloc[:11])
    # 70 weeks: no yearly terms, said so; festivals seen once are still estimated
    model = SalesForecaster().fit(y.iloc[:70])
    assert model.yearly_order_ == 0
    assert not any(c.startswith(("sin", "cos")) for c in model.columns_)
    assert any("yearly seasonality terms dropped" in n for n in model.notes_)
    # 20 weeks from January: 双11 and 618 never seen, so not estimated
    model = SalesForecaster().fit(y.iloc[:20])
    assert "double11" not in model.columns_ and "presale_618" not in model.columns_
    assert any("not in the history" in n and "double11" in n for n in model.notes_)
    assert len(model.predict(52)) == 52


def test_gaps_zeros_and_leading_weeks():
    y = synthetic(6).iloc[:120]
    holes = y.drop(y.index[[30, 31, 50]])
    model = SalesForecaster().fit(holes)
    assert any("3 missing week(s) filled with 0" in n for n in model.notes_)
    assert model.n_weeks_ == 120
    leading = pd.concat([pd.Series(0.0, index=y.index[:5] - pd.Timedelta(days=35)), y])
    model = SalesForecaster().fit(leading)
    assert model.first_week_ == y.index[0] and any("5 leading week" in n for n in model.notes_)


def test_bad_input_is_refused_with_the_fix():
    y = synthetic(7).iloc[:60]
    with pytest.raises(DataError, match="negative value"):
        SalesForecaster().fit(y * np.where(np.arange(60) == 10, -1, 1))
    with pytest.raises(DataError, match="7 days apart"):
        SalesForecaster().fit(
            pd.Series(y.to_numpy(), index=pd.date_range("2024-01-01", periods=60, freq="D"))
        )
    with pytest.raises(DataError, match="missing or infinite"):
        SalesForecaster().fit(y.where(np.arange(60) != 3))
    with pytest.raises(DataError, match="several categories"):
        SalesForecaster().fit(
            pd.DataFrame(
                {"week": list(y.index) * 2, "revenue": 1.0, "category": ["a"] * 60 + ["b"] * 60}
            )
        )
    with pytest.raises(DataError, match="same value"):
        SalesForecaster().fit(pd.Series(500.0, index=y.index))
    with pytest.raises(ConfigError, match="errors: must be"):
        SalesForecaster(errors="garch").fit(y)
    with pytest.raises(ConfigError, match="interval"):
        SalesForecaster(interval=90).fit(y)
    with pytest.raises(ConfigError, match="horizon"):
        SalesForecaster().fit(y).predict(0)
