"""The marts ``memberlens run`` stores. Reference: the weekly series they are built from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.forecast import BACKTEST_MART_COLUMNS, FORECAST_MART_COLUMNS, forecast_mart


@pytest.fixture(scope="module")
def mart(shop):
    _, t = shop
    return forecast_mart(
        t["orders"],
        t["order_items"],
        t["products"],
        as_of="2025-12-28",
        horizon_weeks=13,
        backtest_origins=4,
    )


def test_forecast_mart_rows(mart, weekly_total):
    frame = mart.forecast
    assert list(frame.columns) == list(FORECAST_MART_COLUMNS)
    assert set(frame["kind"]) == {"history", "forecast"}
    assert set(frame["metric"]) == {"revenue", "orders"}
    total = frame[frame.level == "total"]
    assert total["category"].isna().all()
    n_weeks = len(weekly_total)
    for metric in ("revenue", "orders"):
        rows = total[total.metric == metric]
        assert (rows.kind == "history").sum() == n_weeks
        assert (rows.kind == "forecast").sum() == 13
        history = rows[rows.kind == "history"].set_index("week")["actual"]
        assert history.to_numpy() == pytest.approx(
            weekly_total.set_index("week")[metric].astype(float).to_numpy()
        )
        future = rows[rows.kind == "forecast"]
        assert future["actual"].isna().all()
        assert future["week"].min() == pd.Timestamp("2025-12-29")
        assert (future["lower"] <= future["yhat"]).all()
        assert (future["yhat"] <= future["upper"]).all()
    categories = frame.loc[frame.level == "category", "category"].unique()
    assert {"美妆", "母婴", "数码"} <= set(categories)
    assert mart.as_of.isoformat() == "2025-12-28"
    assert mart.last_week.isoformat() == "2025-12-22"
    # as_of is a Sunday: no partial week to drop
    assert not any("last week" in note for note in mart.notes)


def test_backtest_mart(mart):
    frame = mart.backtest
    assert list(frame.columns) == list(BACKTEST_MART_COLUMNS)
    assert len(frame) == 2 * 3 * 4  # metrics x models x horizons
    assert set(frame["model"]) == {"forecast", "seasonal_naive", "naive"}
    assert (frame["origins"] == 4).all()
    assert np.isfinite(frame["smape"]).all()


def test_orders_only_gives_the_total_and_says_why(shop):
    _, t = shop
    out = forecast_mart(
        t["orders"],
        None,
        None,
        as_of=None,
        horizon_weeks=4,
        metrics=("orders",),
        backtest_origins=1,
    )
    assert set(out.forecast["level"]) == {"total"}
    assert any("needs the order_items and products" in n for n in out.notes)
    assert any("last week (2025-12-29) is dropped" in n for n in out.notes)


def test_a_kept_forecast_is_served_while_the_weekly_sales_are_the_same(shop, mart, tmp_path):
    # the forecast is a function of the full weeks' sales and the settings: a run later in the
    # same week (as_of 2025-12-30 and 2025-12-31 both end at the week of 2025-12-22) gets the
    # kept result; the reference is the fresh computation (the module's ``mart``, as of 12-28)
    _, t = shop
    args = (t["orders"], t["order_items"], t["products"])
    settings = {"horizon_weeks": 13, "backtest_origins": 4, "cache": tmp_path}
    first = forecast_mart(*args, as_of="2025-12-30", **settings)
    pd.testing.assert_frame_equal(first.forecast, mart.forecast)
    pd.testing.assert_frame_equal(first.backtest, mart.backtest)
    kept = forecast_mart(*args, as_of="2025-12-31", **settings)
    assert kept.notes[0].startswith("forecast of the run of 2025-12-30 kept")  # said first
    assert kept.as_of.isoformat() == "2025-12-31"
    assert "as_of 2025-12-31 is not a Sunday" in " ".join(kept.notes)  # this call's weeks
    pd.testing.assert_frame_equal(kept.forecast, first.forecast)
    pd.testing.assert_frame_equal(kept.backtest, first.backtest)
    assert kept.models == first.models and kept.festivals == first.festivals
    assert kept.last_week == first.last_week

    # other settings, or other weekly sales (a week earlier), are computed again
    other = forecast_mart(*args, as_of="2025-12-31", **(settings | {"backtest_origins": 3}))
    assert not any(n.startswith("forecast of the run of") for n in other.notes)
    earlier = forecast_mart(*args, as_of="2025-12-21", **settings)
    assert not any(n.startswith("forecast of the run of") for n in earlier.notes)
    assert earlier.last_week < first.last_week
    assert len(list(tmp_path.glob("forecast-*.parquet"))) == 1  # older results removed
