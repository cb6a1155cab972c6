"""Rolling-origin back-test. References: the error measures and baselines computed by hand,
and the simulated shop (its truth/calendar.parquet gives the festival peaks to expect)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.exceptions import ConfigError, DataError
from memberlens.forecast import (
    SalesForecaster,
    backtest_forecast,
    mape,
    naive_forecast,
    seasonal_naive_forecast,
    smape,
)


def test_error_measures_by_hand():
    actual = np.array([100.0, 0.0, 50.0])
    forecast = np.array([110.0, 0.0, 40.0])
    # MAPE skips the zero actual: (10/100 + 10/50) / 2
    assert mape(actual, forecast) == pytest.approx(15.0)
    # sMAPE: (20/210 + 0 + 20/90) / 3, in percent
    assert smape(actual, forecast) == pytest.approx(100 * (20 / 210 + 20 / 90) / 3)
    assert smape([0.0], [5.0]) == pytest.approx(200.0)
    assert np.isnan(mape([0.0], [1.0]))


def test_seasonal_naive_by_hand():
    history = np.arange(1.0, 61.0)  # weeks 0..59 hold 1..60
    # from origin week 59, h = 1..3 targets weeks 60..62; a year back: weeks 8, 9, 10
    assert seasonal_naive_forecast(history, 3).tolist() == [9.0, 10.0, 11.0]
    assert seasonal_naive_forecast(history, 2, season=4).tolist() == [57.0, 58.0]
    short = seasonal_naive_forecast(history[:40], 2)  # no week 52 back yet
    assert np.isnan(short).all()
    assert naive_forecast(history, 3).tolist() == [60.0, 60.0, 60.0]


def test_backtest_rows_use_the_right_weeks(weekly_total):
    series = weekly_total.set_index("week")["revenue"]
    result = backtest_forecast(series, horizons=(1, 4), origins=2, step=3)
    errors = result.errors
    assert set(errors["model"]) == {"forecast", "seasonal_naive", "naive"}
    assert len(errors) == 2 * 2 * 3
    for row in errors.itertuples(index=False):
        assert row.week == row.origin + pd.Timedelta(weeks=row.horizon)
        assert row.actual == series[row.week]
        if row.model == "seasonal_naive":
            assert row.yhat == series[row.week - pd.Timedelta(weeks=52)]
        elif row.model == "naive":
            assert row.yhat == series[row.origin]
    # the latest origin leaves exactly max(horizons) weeks after it
    assert max(result.origins) == (series.index[-1] - pd.Timedelta(weeks=4)).date()
    summary = result.summary.set_index(["model", "horizon"])
    naive = errors[(errors.model == "naive") & (errors.horizon == 4)]
    assert summary.loc[("naive", 4), "smape"] == pytest.approx(smape(naive.actual, naive.yhat))


def test_forecast_beats_the_seasonal_naive_on_the_simulated_shop(weekly_total):
    """Three years of a growing simulated shop with festival peaks: the model must beat the
    same-week-last-year forecast at every horizon, in revenue and in orders."""
    for metric in ("revenue", "orders"):
        result = backtest_forecast(weekly_total, forecaster=SalesForecaster(metric=metric))
        table = result.summary.pivot(index="horizon", columns="model", values="smape")
        assert (table["forecast"] < table["seasonal_naive"]).all(), table
        assert (result.skill() > 0.15).all(), result.skill()
        assert len(result.origins) == 13 and (result.summary["n"] == 13).all()
        # the 90% interval holds most actual weeks (conditional on the estimates, so it may
        # be a little narrow; on these shops it is a little wide)
        forecast = result.errors[result.errors.model == "forecast"]
        inside = (forecast.actual >= forecast.yhat_lower) & (forecast.actual <= forecast.yhat_upper)
        assert 0.8 <= inside.mean() <= 1.0


def test_forecast_peaks_where_the_simulator_calendar_peaks(weekly_total, truth_weeks):
    """From the end of September 2025, the 13-week forecast's shape follows the simulator's
    weekly demand weights (truth/calendar.parquet): peak in the 双11 weeks, a 双12 bump, and
    the 双11 week's lift over a plain October week within 25% of the truth."""
    history = weekly_total[weekly_total.week <= "2025-09-29"]
    for metric in ("revenue", "orders"):
        forecast = SalesForecaster(metric=metric).fit(history).predict(13).set_index("week")
        truth = truth_weeks.reindex(forecast.index)
        assert forecast["yhat"].idxmax() in truth.nlargest(2).index
        ours = np.log(forecast["yhat"] / forecast["yhat"].iloc[0])
        theirs = np.log(truth / truth.iloc[0])
        assert np.corrcoef(ours, theirs)[0, 1] > 0.9
        peak = truth.idxmax()
        assert np.exp(ours[peak]) == pytest.approx(np.exp(theirs[peak]), rel=0.25)


def test_bad_origins_and_horizons():
    series = pd.Series(
        np.linspace(100, 200, 30), index=pd.date_range("2024-01-01", periods=30, freq="7D")
    )
    with pytest.raises(DataError, match="too few to back-test"):
        backtest_forecast(series, horizons=(13, 26))
    with pytest.raises(DataError, match="not a week of the series"):
        backtest_forecast(series, origins=["2024-01-03"])
    with pytest.raises(DataError, match="fewer than 12"):
        backtest_forecast(series, origins=["2024-01-08"])
    with pytest.raises(ConfigError, match="horizons"):
        backtest_forecast(series, horizons=(0,))
    result = backtest_forecast(series, horizons=(1, 2), origins=["2024-05-20", "2024-07-08"])
    assert result.origins == (pd.Timestamp("2024-05-20").date(), pd.Timestamp("2024-07-08").date())
    assert "seasonal_naive" in " ".join(result.notes)  # no year of history: left out
