"""The forecast marts that ``memberlens run`` stores: history, forecast and back-test summary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from memberlens.exceptions import MemberlensError
from memberlens.forecast.model import SalesForecaster
from memberlens.forecast.sales import BACKTEST_COLUMNS, backtest_level, forecast_level
from memberlens.forecast.series import weekly_sales

__all__ = [
    "BACKTEST_MART_COLUMNS",
    "FORECAST_MART_COLUMNS",
    "METRICS",
    "ForecastMart",
    "forecast_mart",
]

METRICS: tuple[str, ...] = ("revenue", "orders")

#: Columns of :attr:`ForecastMart.forecast` (``mart_forecast``).
FORECAST_MART_COLUMNS: tuple[str, ...] = (
    "level",
    "category",
    "week",
    "metric",
    "actual",
    "yhat",
    "lower",
    "upper",
    "kind",
)
#: Columns of :attr:`ForecastMart.backtest` (``mart_forecast_backtest``).
BACKTEST_MART_COLUMNS: tuple[str, ...] = BACKTEST_COLUMNS


@dataclass(frozen=True)
class ForecastMart:
    """``forecast``: per level, category (null for the total), week and metric, the ``actual``
    value and the one-step-ahead fit (``kind="history"``) or the forecast with its interval
    (``kind="forecast"``, actual null); ``backtest``: MAPE / sMAPE by horizon of the model and
    the seasonal-naive and naive baselines at the total level; ``notes``: what was dropped or
    skipped, in words."""

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    as_of: dt.date
    last_week: dt.date
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "last_week": self.last_week.isoformat(),
            "notes": list(self.notes),
            "backtest": self.backtest.to_dict(orient="records"),
        }


def _mart_rows(result) -> pd.DataFrame:
    history = result.history.assign(kind="history")
    future = result.forecast.assign(actual=np.nan, kind="forecast")
    out = pd.concat([history, future], ignore_index=True)
    out = out.rename(columns={"yhat_lower": "lower", "yhat_upper": "upper"})
    return out[list(FORECAST_MART_COLUMNS)]


def forecast_mart(
    orders: ir.Table | pd.DataFrame,
    items: ir.Table | pd.DataFrame | None,
    products: ir.Table | pd.DataFrame | None,
    *,
    as_of: dt.date | str | None,
    horizon_weeks: int = 13,
    metrics: Sequence[str] = METRICS,
    forecaster: SalesForecaster | None = None,
    backtest_origins: int = 13,
    progress: Callable[[str], None] | None = None,
) -> ForecastMart:
    """Forecast revenue and orders ``horizon_weeks`` ahead, overall and (with ``items`` and
    ``products``) per category, with the total level's rolling-origin back-test.

    A category whose history is too short or whose fit fails is left out with a note; the total
    level raises (:class:`~memberlens.exceptions.DataError` for fewer than 12 full weeks).
    """
    say = progress or (lambda _m: None)
    tables = {"orders": orders, "order_items": items, "products": products}
    say("weekly sales")
    total = weekly_sales(tables, level="total", as_of=as_of)
    notes = list(total.attrs.get("notes", []))
    levels = [total]
    if items is not None and products is not None:
        levels.append(weekly_sales(tables, level="category", as_of=as_of))
    else:
        notes.append("no category forecast: it needs the order_items and products tables")
    frames, backtests = [], []
    for weekly in levels:
        weekly.attrs["notes"] = []  # the partial weeks dropped are the same: said once above
        for metric in metrics:
            say(f"forecast: {weekly['level'].iloc[0]} {metric}")
            result = forecast_level(
                weekly, metric=metric, horizon=horizon_weeks, forecaster=forecaster
            )
            notes += result.notes
            frames.append(_mart_rows(result))
    for metric in metrics:
        say(f"back-test: total {metric}")
        try:
            summary, more = backtest_level(
                total, metric=metric, origins=backtest_origins, forecaster=forecaster
            )
        except MemberlensError as exc:
            notes.append(f"total {metric}: no back-test ({exc})")
            continue
        notes += more
        backtests.append(summary)
    forecast = pd.concat(frames, ignore_index=True)
    forecast["category"] = forecast["category"].astype("string")
    backtest = (
        pd.concat(backtests, ignore_index=True)
        if backtests
        else pd.DataFrame(columns=list(BACKTEST_MART_COLUMNS))
    )
    backtest["category"] = backtest["category"].astype("string")
    return ForecastMart(
        forecast=forecast,
        backtest=backtest,
        as_of=dt.date.fromisoformat(total.attrs["as_of"]),
        last_week=pd.Timestamp(total["week"].max()).date(),
        notes=tuple(notes),
    )
