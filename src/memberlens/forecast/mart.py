"""The forecast marts that ``memberlens run`` stores: history, forecast and back-test summary."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from sklearn.base import clone

from memberlens.exceptions import MemberlensError
from memberlens.forecast.backtest import SEASON_WEEKS
from memberlens.forecast.calendar import choose_calendar, festival_table, festivals_for_locale
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
    "model",
)
#: Columns of :attr:`ForecastMart.backtest` (``mart_forecast_backtest``).
BACKTEST_MART_COLUMNS: tuple[str, ...] = BACKTEST_COLUMNS


@dataclass(frozen=True)
class ForecastMart:
    """``forecast``: per level, category (null for the total), week and metric, the ``actual``
    value and the one-step-ahead fit (``kind="history"``) or the forecast with its interval
    (``kind="forecast"``, actual null); ``backtest``: MAPE / sMAPE by horizon of the model and
    the seasonal-naive and naive baselines at the total level; ``notes``: what was dropped or
    skipped, in words; ``festivals``: the calendar considered (:func:`festival_table` entries:
    name, dates, estimated lift, kept); ``models``: per metric, the model behind the total
    level's forecast rows (``"forecast"``, or ``"seasonal_naive"`` when the back-test says the
    model loses to it); ``category_seconds``: time spent on per-category forecasts."""

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    as_of: dt.date
    last_week: dt.date
    notes: tuple[str, ...] = field(default_factory=tuple)
    festivals: tuple[dict, ...] = field(default_factory=tuple)
    models: dict[str, str] = field(default_factory=dict)
    category_seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "last_week": self.last_week.isoformat(),
            "notes": list(self.notes),
            "festivals": list(self.festivals),
            "models": dict(self.models),
            "category_seconds": round(self.category_seconds, 3),
            "backtest": self.backtest.to_dict(orient="records"),
        }


def _mart_rows(result) -> pd.DataFrame:
    history = result.history.assign(kind="history")
    future = result.forecast.assign(actual=np.nan, kind="forecast")
    out = pd.concat([history, future], ignore_index=True)
    out = out.rename(columns={"yhat_lower": "lower", "yhat_upper": "upper"})
    out["model"] = "forecast"
    return out[list(FORECAST_MART_COLUMNS)]


def _categories(weekly: pd.DataFrame, *, max_categories: int, min_weeks: int) -> pd.DataFrame:
    """The categories worth a forecast: at least ``min_weeks`` weeks with sales, the
    ``max_categories`` largest by revenue."""
    with_sales = weekly[weekly["revenue"] > 0].groupby("category")["week"].nunique()
    revenue = weekly.groupby("category")["revenue"].sum()
    eligible = revenue[with_sales.reindex(revenue.index, fill_value=0) >= min_weeks]
    top = eligible.sort_values(ascending=False, kind="stable").head(max_categories).index
    out = weekly[weekly["category"].isin(top)]
    out.attrs = dict(weekly.attrs)
    out.attrs["eligible"] = (len(top), len(eligible), len(revenue))
    return out


def _loses_to_seasonal_naive(summary: pd.DataFrame) -> list[int]:
    """Horizons at which seasonal-naive has the lower sMAPE than the forecast model."""
    table = summary.pivot_table(index="horizon", columns="model", values="smape")
    if "seasonal_naive" not in table or "forecast" not in table:
        return []
    both = table.dropna(subset=["forecast", "seasonal_naive"])
    return [int(h) for h in both.index[both["seasonal_naive"] < both["forecast"]]]


def _seasonal_naive_rows(total: pd.DataFrame, frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The total level's forecast rows of ``metric`` replaced by the same week a year earlier."""
    history = total.set_index(pd.to_datetime(total["week"]))[metric].astype(float)
    rows = (frame["kind"] == "forecast") & frame["category"].isna()
    back = pd.to_datetime(frame.loc[rows, "week"]) - pd.Timedelta(weeks=SEASON_WEEKS)
    frame = frame.copy()
    frame.loc[rows, "yhat"] = history.reindex(back).to_numpy()
    frame.loc[rows, ["lower", "upper"]] = np.nan
    frame.loc[rows, "model"] = "seasonal_naive"
    return frame


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
    locale: str | None = "zh-CN",
    festivals: Sequence[str] | None = None,
    max_categories: int = 20,
    min_category_weeks: int = 26,
    cache: Path | None = None,
) -> ForecastMart:
    """Forecast revenue and orders ``horizon_weeks`` ahead, overall and (with ``items`` and
    ``products``) per category, with the total level's rolling-origin back-test.

    The festival calendar follows ``locale`` (or the ``festivals`` names given; see
    :mod:`memberlens.forecast.calendar`; a ``forecaster`` passed in brings its own) and is kept
    only if the back-test of total revenue supports it. When seasonal-naive beats the model in
    the back-test of a metric (mean sMAPE over the horizons), the total level's forecast of that
    metric is seasonal-naive's (``model`` column) and the notes say so. Categories: only those
    with at least ``min_category_weeks`` weeks of sales, the ``max_categories`` largest by
    revenue, their cost reported in the notes. A category whose fit fails is left out with a
    note; the total level raises (:class:`~memberlens.exceptions.DataError` for fewer than 12
    full weeks).

    ``cache``: a folder where the result is kept with a digest of what it was computed from
    (the weekly sales of every level, the settings and the memberlens version). A later call
    whose digest is the same (a run later in the same week, before the week is complete and
    with no change to earlier weeks) returns the kept result, with a note saying so, instead
    of fitting and back-testing again: the forecast is a function of those inputs only.
    """
    say = progress or (lambda _m: None)
    tables = {"orders": orders, "order_items": items, "products": products}
    say("weekly sales")
    total = weekly_sales(tables, level="total", as_of=as_of)
    notes = list(total.attrs.get("notes", []))
    base = forecaster if forecaster is not None else SalesForecaster()
    no_amounts = not (total["revenue"].fillna(0) > 0).any() and (total["orders"] > 0).any()
    if "revenue" in metrics and no_amounts:  # a purchase log without amounts: orders only
        metrics = tuple(m for m in metrics if m != "revenue")
        notes.append("no revenue forecast: the orders have no amounts; orders only")
        base = clone(base).set_params(metric="orders")
    candidates = (
        tuple(base.festivals) if forecaster is not None else festivals_for_locale(locale, festivals)
    )
    by_category = (
        weekly_sales(tables, level="category", as_of=as_of)
        if items is not None and products is not None
        else None
    )
    key = _inputs_key(
        [total, by_category],
        [horizon_weeks, list(metrics), backtest_origins, list(candidates), max_categories,
         min_category_weeks, repr(sorted(base.get_params().items()))],
    )  # fmt: skip
    kept = _kept(cache, key, total) if cache is not None else None
    if kept is not None:
        return kept
    week_notes = len(notes)
    say("festival calendar")
    calendar = choose_calendar(total, candidates, forecaster=base, origins=min(backtest_origins, 8))
    notes.append(calendar.note)
    base = clone(base).set_params(festivals=calendar.kept)
    levels = [total]
    if by_category is not None:
        levels.append(
            _categories(by_category, max_categories=max_categories, min_weeks=min_category_weeks)
        )
    else:
        notes.append("no category forecast: it needs the order_items and products tables")
    frames, backtests = [], []
    category_seconds = 0.0
    effects = None
    for weekly in levels:
        weekly.attrs["notes"] = []  # the partial weeks dropped are the same: said once above
        started = time.perf_counter()
        if weekly.empty:
            continue
        for metric in metrics:
            say(f"forecast: {weekly['level'].iloc[0]} {metric}")
            result = forecast_level(weekly, metric=metric, horizon=horizon_weeks, forecaster=base)
            notes += result.notes
            frames.append(_mart_rows(result))
            if weekly is total and metric == "revenue" and None in result.models:
                effects = result.models[None].festival_effects()
        if weekly is not total:
            category_seconds = time.perf_counter() - started
            kept, eligible, found = weekly.attrs["eligible"]
            notes.append(
                f"category forecasts: {kept} of {found} categories (at least "
                f"{min_category_weeks} weeks of sales: {eligible}; the {max_categories} largest "
                f"by revenue kept), {category_seconds:.1f} s"
            )
    if len(levels) > 1 and levels[1].empty:
        _, eligible, found = levels[1].attrs["eligible"]
        notes.append(
            f"no category forecast: none of {found} categories has {min_category_weeks} weeks "
            "of sales"
        )
    models = dict.fromkeys(metrics, "forecast")
    for metric in metrics:
        say(f"back-test: total {metric}")
        try:
            summary, more = backtest_level(
                total, metric=metric, origins=backtest_origins, forecaster=base
            )
        except MemberlensError as exc:
            notes.append(f"total {metric}: no back-test ({exc})")
            continue
        notes += more
        backtests.append(summary)
        losing = _loses_to_seasonal_naive(summary)
        if losing:
            notes.append(
                f"total {metric}: the model loses to seasonal-naive (same week last year) at "
                f"horizon(s) {losing} weeks in the back-test"
            )
        table = summary.groupby("model")["smape"].mean()
        if {"forecast", "seasonal_naive"} <= set(table.index) and (
            table["seasonal_naive"] < table["forecast"]
        ):
            models[metric] = "seasonal_naive"
            notes.append(
                f"total {metric}: forecast rows are seasonal-naive's (mean back-test sMAPE "
                f"{table['seasonal_naive']:.1f}% against the model's {table['forecast']:.1f}%)"
            )
    forecast = pd.concat(frames, ignore_index=True)
    for metric, model_name in models.items():
        if model_name == "seasonal_naive":
            part = forecast["metric"] == metric
            forecast.loc[part] = _seasonal_naive_rows(total, forecast.loc[part], metric)
    forecast["category"] = forecast["category"].astype("string")
    backtest = (
        pd.concat(backtests, ignore_index=True)
        if backtests
        else pd.DataFrame(columns=list(BACKTEST_MART_COLUMNS))
    )
    backtest["category"] = backtest["category"].astype("string")
    weeks = pd.to_datetime(forecast["week"]).drop_duplicates()
    mart = ForecastMart(
        forecast=forecast,
        backtest=backtest,
        as_of=dt.date.fromisoformat(total.attrs["as_of"]),
        last_week=pd.Timestamp(total["week"].max()).date(),
        notes=tuple(notes),
        festivals=tuple(
            festival_table(
                calendar.candidates,
                weeks,
                kept=calendar.kept,
                effects=calendar.effects if calendar.effects is not None else effects,
                evidence=calendar.evidence,
            )
        ),
        models=models,
        category_seconds=category_seconds,
    )
    if cache is not None:
        _keep(cache, key, mart, week_notes)
    return mart


#: what a kept forecast's digest covers besides its inputs (bump when the format changes)
_CACHE_FORMAT = 1


def _inputs_key(frames: list[pd.DataFrame | None], settings: list) -> str:
    """A digest of the weekly sales ``frames`` (values, not notes), ``settings`` and the code
    of this package (a kept forecast is never served by other forecasting code)."""
    digest = hashlib.sha256(json.dumps([_CACHE_FORMAT, settings]).encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    for frame in frames:
        if frame is None:
            digest.update(b"none")
            continue
        digest.update(json.dumps([list(frame.columns), len(frame)]).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _plain(value: object) -> object:
    """numpy scalars as Python numbers, anything else JSON has no type for as text."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def _kept(folder: Path, key: str, total: pd.DataFrame) -> ForecastMart | None:
    """The result kept in ``folder`` for ``key`` (with the notes of this call's weeks), or
    None."""
    try:
        meta = json.loads((folder / "forecast.json").read_text(encoding="utf-8"))
        if meta.get("key") != key:
            return None
        forecast = pd.read_parquet(folder / f"forecast-{key[:16]}.parquet")
        backtest = pd.read_parquet(folder / f"backtest-{key[:16]}.parquet")
    except (OSError, ValueError, KeyError):
        return None
    notes = [
        f"forecast of the run of {meta['as_of']} kept: the weekly sales and settings are "
        "unchanged since (it is fitted again when a week completes or past weeks change)",
        *total.attrs.get("notes", []),
        *meta["notes"],
    ]
    return ForecastMart(
        forecast=forecast,
        backtest=backtest,
        as_of=dt.date.fromisoformat(total.attrs["as_of"]),
        last_week=dt.date.fromisoformat(meta["last_week"]),
        notes=tuple(notes),
        festivals=tuple(meta["festivals"]),
        models=dict(meta["models"]),
        category_seconds=float(meta["category_seconds"]),
    )


def _keep(folder: Path, key: str, result: ForecastMart, week_notes: int) -> None:
    """Keep ``result`` in ``folder`` for ``key``: the frames first, then the metadata naming
    the key (replaced in one step), then the files of older keys are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    result.forecast.to_parquet(folder / f"forecast-{key[:16]}.parquet", index=False)
    result.backtest.to_parquet(folder / f"backtest-{key[:16]}.parquet", index=False)
    meta = {
        "key": key,
        "as_of": result.as_of.isoformat(),
        "last_week": result.last_week.isoformat(),
        "notes": list(result.notes[week_notes:]),
        "festivals": list(result.festivals),
        "models": dict(result.models),
        "category_seconds": result.category_seconds,
    }
    tmp = folder / "forecast.json.tmp"
    tmp.write_text(json.dumps(meta, default=_plain), encoding="utf-8")
    tmp.replace(folder / "forecast.json")
    for old in folder.glob("*.parquet"):
        if key[:16] not in old.name:
            old.unlink(missing_ok=True)
