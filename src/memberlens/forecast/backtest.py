"""Rolling-origin back-test of the weekly forecast against naive baselines.

At each origin ``o`` (the last week the model may see) the forecaster is refitted on weeks up to
``o`` and forecasts ``o + h`` for every horizon ``h`` (Tashman 2000, "Out-of-sample tests of
forecasting accuracy", sec. 3; Hyndman & Athanasopoulos, *Forecasting: Principles and
Practice*, 3rd ed., sec. 5.10 "time series cross-validation"). Two baselines forecast the same
weeks from the same history:

* ``seasonal_naive``: the value of the same week last year, ``y[o + h - 52]`` (52 weeks = 364
  days back, so the weekday mix is the same; festivals drift by a day or two a year);
* ``naive``: the last value seen, ``y[o]``.

The forecast's interval is scored by its coverage, the share of actual values inside it.
Errors, in percent: ``MAPE = mean(|y - f| / |y|)`` over weeks with ``y != 0`` (Hyndman & Koehler
2006, sec. 3.2) and ``sMAPE = mean(2 |y - f| / (|y| + |f|))``, 0 when both are 0 (the M3
competition's definition, Makridakis & Hibon 2000).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone

from memberlens.exceptions import ConfigError, DataError
from memberlens.forecast.model import SalesForecaster, weekly_values

__all__ = [
    "SEASON_WEEKS",
    "BacktestResult",
    "backtest_forecast",
    "mape",
    "naive_forecast",
    "seasonal_naive_forecast",
    "smape",
]

#: Weeks in a season of the seasonal-naive baseline.
SEASON_WEEKS = 52

MODELS = ("forecast", "seasonal_naive", "naive")


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error over non-zero actuals (Hyndman & Koehler 2006, eq. 3)."""
    a, f = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    keep = a != 0
    if not keep.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs(a[keep] - f[keep]) / np.abs(a[keep])))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent, 0..200 (Makridakis & Hibon 2000, M3; 0 when both are 0)."""
    a, f = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    if a.size == 0:
        return float("nan")
    denominator = np.abs(a) + np.abs(f)
    ratio = np.divide(2.0 * np.abs(a - f), denominator, out=np.zeros_like(a), where=denominator > 0)
    return float(100.0 * np.mean(ratio))


def seasonal_naive_forecast(
    history: np.ndarray, horizon: int, *, season: int = SEASON_WEEKS
) -> np.ndarray:
    """``f[h] = y[n - 1 + h - season]`` for h = 1..horizon (NaN where that week is unknown)."""
    y = np.asarray(history, dtype=float)
    n = y.size
    out = np.full(int(horizon), np.nan)
    for h in range(1, int(horizon) + 1):
        back = n - 1 + h - season
        if 0 <= back < n:
            out[h - 1] = y[back]
    return out


def naive_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """The last value, repeated: ``f[h] = y[n - 1]``."""
    y = np.asarray(history, dtype=float)
    return np.full(int(horizon), y[-1] if y.size else np.nan)


@dataclass(frozen=True)
class BacktestResult:
    """Per-forecast errors and their summary by model and horizon."""

    #: origin, week, horizon, model, actual, yhat, yhat_lower, yhat_upper (the interval of the
    #: forecast model; NaN for the baselines): one row per origin, horizon and model
    errors: pd.DataFrame
    #: model, horizon, mape, smape, coverage (share of actuals inside the forecast's interval;
    #: NaN for the baselines), n (forecasts), n_mape (non-zero actuals)
    summary: pd.DataFrame
    horizons: tuple[int, ...]
    origins: tuple[dt.date, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        """The summary, one row per model and horizon."""
        return self.summary.copy()

    def to_dict(self) -> dict:
        return {
            "horizons": list(self.horizons),
            "origins": [o.isoformat() for o in self.origins],
            "summary": self.summary.to_dict(orient="records"),
            "notes": list(self.notes),
        }

    def skill(self, *, metric: str = "smape", baseline: str = "seasonal_naive") -> pd.Series:
        """``1 - error(forecast) / error(baseline)`` by horizon (positive: the model is better)."""
        table = self.summary.pivot(index="horizon", columns="model", values=metric)
        return (1.0 - table["forecast"] / table[baseline]).rename(f"{metric}_skill")


def _origins(
    index: pd.DatetimeIndex, origins, horizons: Sequence[int], min_weeks: int, step: int
) -> list[int]:
    n = len(index)
    if origins is None or isinstance(origins, (int, np.integer)):
        count = 13 if origins is None else int(origins)
        if count < 1:
            raise ConfigError(
                f"origins: must be a positive count or a list of weeks, got {origins!r}"
            )
        last = n - 1 - max(horizons)
        found = [o for o in range(last, last - step * count, -step) if o + 1 >= min_weeks]
        if not found:
            raise DataError(
                f"series: {n} weeks are too few to back-test {max(horizons)} weeks "
                f"ahead with at least {min_weeks} weeks of training; need "
                f"{min_weeks + max(horizons)} weeks or shorter horizons"
            )
        return sorted(found)
    positions = []
    for value in origins:
        week = pd.Timestamp(value).normalize()
        where = index.get_indexer([week])[0]
        if where < 0:
            raise DataError(
                f"origins: {week.date()} is not a week of the series (weeks are "
                f"named by their first day, {index[0].date()} .. {index[-1].date()})"
            )
        if where + 1 < min_weeks:
            raise DataError(
                f"origins: {week.date()} leaves {where + 1} training weeks, fewer "
                f"than {min_weeks}; choose a later origin"
            )
        if where >= n - 1:
            raise DataError(f"origins: {week.date()} is the last week; nothing after it to test")
        positions.append(int(where))
    return sorted(set(positions))


def backtest_forecast(
    series: pd.Series | pd.DataFrame,
    *,
    horizons: Sequence[int] = (1, 4, 8, 13),
    origins: int | Sequence[dt.date | str] | None = None,
    forecaster: SalesForecaster | None = None,
    step: int = 4,
    season: int = SEASON_WEEKS,
) -> BacktestResult:
    """Rolling-origin back-test of ``forecaster`` (default :class:`SalesForecaster`) against the
    seasonal-naive and naive baselines, MAPE and sMAPE by horizon.

    ``origins`` is a count (default 13: the latest origin leaves ``max(horizons)`` weeks to test,
    earlier ones every ``step`` weeks before it) or the weeks to use as last training weeks.
    Horizons that run past the series are skipped for that origin.
    """
    horizons = tuple(sorted({int(h) for h in horizons}))
    if not horizons or horizons[0] < 1:
        raise ConfigError(f"horizons: must be positive numbers of weeks, got {horizons!r}")
    if int(step) < 1:
        raise ConfigError(f"step: must be a positive number of weeks, got {step!r}")
    model = forecaster if forecaster is not None else SalesForecaster()
    metric = getattr(model, "metric", "revenue")
    y, notes = weekly_values(series, metric=metric)
    values = y.to_numpy()
    positions = _origins(y.index, origins, horizons, int(model.min_weeks), int(step))
    rows = []
    for o in positions:
        reach = min(max(horizons), len(values) - 1 - o)
        fitted = clone(model).fit(y.iloc[: o + 1])
        predicted = fitted.predict(reach)
        lower, upper = predicted["yhat_lower"].to_numpy(), predicted["yhat_upper"].to_numpy()
        baselines = {
            "forecast": predicted["yhat"].to_numpy(),
            "seasonal_naive": seasonal_naive_forecast(values[: o + 1], reach, season=season),
            "naive": naive_forecast(values[: o + 1], reach),
        }
        for h in horizons:
            if h > reach:
                continue
            for name in MODELS:
                bounds = (lower[h - 1], upper[h - 1]) if name == "forecast" else (np.nan, np.nan)
                rows.append(
                    (
                        y.index[o],
                        y.index[o + h],
                        h,
                        name,
                        values[o + h],
                        baselines[name][h - 1],
                        *bounds,
                    )
                )
    errors = pd.DataFrame(
        rows,
        columns=[
            "origin",
            "week",
            "horizon",
            "model",
            "actual",
            "yhat",
            "yhat_lower",
            "yhat_upper",
        ],
    )
    if errors.loc[errors.model == "seasonal_naive", "yhat"].isna().any():
        notes.append(
            f"seasonal_naive needs the week {season} weeks before each target; "
            "targets without it are left out of its errors"
        )
    summary = []
    for (name, h), part in errors.groupby(["model", "horizon"], sort=False):
        part = part.dropna(subset=["yhat"])
        inside = (part.actual >= part.yhat_lower) & (part.actual <= part.yhat_upper)
        summary.append(
            {
                "model": name,
                "horizon": int(h),
                "mape": mape(part.actual, part.yhat),
                "smape": smape(part.actual, part.yhat),
                "coverage": float(inside.mean()) if name == "forecast" and len(part) else np.nan,
                "n": len(part),
                "n_mape": int((part.actual != 0).sum()),
            }
        )
    summary = pd.DataFrame(
        summary, columns=["model", "horizon", "mape", "smape", "coverage", "n", "n_mape"]
    )
    summary["model"] = pd.Categorical(summary["model"], categories=list(MODELS))
    summary = summary.sort_values(["model", "horizon"], ignore_index=True)
    summary["model"] = summary["model"].astype(str)
    return BacktestResult(
        errors=errors,
        summary=summary,
        horizons=horizons,
        origins=tuple(y.index[o].date() for o in positions),
        notes=tuple(notes),
    )
