"""Forecasts and back-tests for every series of a level: the total, or each category."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone

from memberlens.exceptions import DataError, MemberlensError
from memberlens.forecast.backtest import backtest_forecast
from memberlens.forecast.model import SalesForecaster

__all__ = ["BACKTEST_COLUMNS", "SalesForecast", "backtest_level", "forecast_level"]

#: Columns of :func:`backtest_level`.
BACKTEST_COLUMNS: tuple[str, ...] = (
    "level",
    "category",
    "metric",
    "model",
    "horizon",
    "mape",
    "smape",
    "coverage",
    "n",
    "origins",
)


@dataclass(frozen=True)
class SalesForecast:
    """The forecasts of one metric for every series of a level.

    ``forecast``: level, category, metric, week, yhat, yhat_lower, yhat_upper;
    ``history``: level, category, metric, week, actual, yhat, yhat_lower, yhat_upper (one-step-
    ahead fit); ``models``: the fitted :class:`SalesForecaster` by category (None for the
    total); ``notes``: what was dropped or skipped.
    """

    forecast: pd.DataFrame
    history: pd.DataFrame
    models: dict
    metric: str
    last_week: dt.date
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        rows = self.forecast.assign(week=self.forecast["week"].dt.strftime("%Y-%m-%d"))
        rows = rows.astype(object).where(rows.notna(), None)
        return {
            "metric": self.metric,
            "last_week": self.last_week.isoformat(),
            "notes": list(self.notes),
            "forecast": rows.to_dict(orient="records"),
        }


def _series(weekly: pd.DataFrame) -> Iterator[tuple[str, str | None, pd.DataFrame]]:
    """(level, category, frame) for each series of a :func:`weekly_sales` frame."""
    if weekly.empty:
        raise DataError("weekly: no weeks of sales; build it with weekly_sales")
    level = str(weekly["level"].iloc[0])
    if level == "total":
        yield level, None, weekly
        return
    for category, part in weekly.groupby("category", sort=True):
        yield level, str(category), part


def _label(level: str, category: str | None, metric: str) -> str:
    return f"total {metric}" if category is None else f"category {category} {metric}"


def _tag(frame: pd.DataFrame, level: str, category: str | None, metric: str) -> pd.DataFrame:
    frame.insert(0, "level", level)
    frame.insert(1, "category", category)
    frame.insert(2, "metric", metric)
    return frame


def forecast_level(
    weekly: pd.DataFrame,
    *,
    metric: str = "revenue",
    horizon: int = 13,
    forecaster: SalesForecaster | None = None,
) -> SalesForecast:
    """Fit and forecast each series of a :func:`weekly_sales` frame (one level).

    A category that cannot be fitted (too short, a failed fit) is skipped with a note; at the
    total level the error is raised, as there is nothing else to show.
    """
    base = clone(forecaster if forecaster is not None else SalesForecaster())
    base.set_params(metric=metric)
    notes = list(weekly.attrs.get("notes", []))
    forecasts, histories, models = [], [], {}
    for level, category, part in _series(weekly):
        label = _label(level, category, metric)
        try:
            model = clone(base).fit(part)
        except MemberlensError as exc:
            if category is None:
                raise
            notes.append(f"{label}: skipped ({exc})")
            continue
        notes += [f"{label}: {note}" for note in model.notes_]
        models[category] = model
        forecasts.append(_tag(model.predict(horizon), level, category, metric))
        histories.append(_tag(model.predict_in_sample(), level, category, metric))
    if not forecasts:
        raise DataError(f"weekly: no series could be fitted ({'; '.join(notes)})")
    last = pd.Timestamp(weekly["week"].max()).date()
    forecast = pd.concat(forecasts, ignore_index=True)
    history = pd.concat(histories, ignore_index=True)
    for frame in (forecast, history):
        frame["category"] = frame["category"].astype("string")
    return SalesForecast(
        forecast=forecast,
        history=history,
        models=models,
        metric=metric,
        last_week=last,
        notes=tuple(notes),
    )


def backtest_level(
    weekly: pd.DataFrame,
    *,
    metric: str = "revenue",
    horizons: Sequence[int] = (1, 4, 8, 13),
    origins: int | None = None,
    forecaster: SalesForecaster | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Rolling-origin back-test of each series of a :func:`weekly_sales` frame: one row per
    series, model and horizon (:data:`BACKTEST_COLUMNS`), and notes on series left out."""
    base = clone(forecaster if forecaster is not None else SalesForecaster())
    base.set_params(metric=metric)
    notes: list[str] = []
    parts = []
    for level, category, part in _series(weekly):
        label = _label(level, category, metric)
        try:
            result = backtest_forecast(part, horizons=horizons, origins=origins, forecaster=base)
        except MemberlensError as exc:
            if category is None:
                raise
            notes.append(f"{label}: no back-test ({exc})")
            continue
        notes += [f"{label}: {note}" for note in result.notes]
        parts.append(
            result.summary.assign(
                level=level, category=category, metric=metric, origins=len(result.origins)
            )
        )
    if not parts:
        return pd.DataFrame(columns=list(BACKTEST_COLUMNS)), notes
    out = pd.concat(parts, ignore_index=True)[list(BACKTEST_COLUMNS)]
    out["category"] = out["category"].astype("string")
    out["n"] = out["n"].astype(np.int64)
    return out, notes
