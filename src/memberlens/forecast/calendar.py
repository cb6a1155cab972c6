"""Which festival calendar a shop's forecast uses, and whether the back-test keeps it.

* **By locale**: the Chinese shopping calendar (春节, 38, 618, 国庆, 双11, 双12:
  :data:`~memberlens.forecast.festivals.FESTIVALS`) for a Chinese locale (``zh``, ``zh-CN``,
  ...), none otherwise: a UK shop gets no 双12 spike. A user-supplied list of festival names
  (``memberlens.toml`` ``[forecast] festivals = [...]``, ``memberlens forecast --festivals``)
  replaces the default; an empty list means none.
* **Kept only if the back-test supports it**: :func:`choose_calendar` back-tests the total
  series with the calendar and without it (same origins and horizons) and keeps the calendar
  only when its mean sMAPE over the horizons is lower.
* :func:`festival_table` lists the calendar as ``memberlens forecast --json`` shows it under
  ``"festivals"``: name, Chinese label, the dates in the history and forecast, the estimated
  lift of a fully exposed week and whether it was kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from memberlens.exceptions import ConfigError, MemberlensError
from memberlens.forecast.backtest import backtest_forecast
from memberlens.forecast.festivals import DEFAULT_FESTIVALS, FESTIVALS, festival_dates
from memberlens.forecast.model import SalesForecaster

__all__ = ["CalendarChoice", "choose_calendar", "festival_table", "festivals_for_locale"]

_BY_NAME = {f.name: f for f in FESTIVALS}


def festivals_for_locale(
    locale: str | None, festivals: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The festival names a shop's forecast starts from: ``festivals`` when given (checked),
    else the Chinese calendar for a Chinese locale and none for any other."""
    if festivals is not None:
        if isinstance(festivals, str):
            raise ConfigError(
                f"forecast.festivals: must be a list of names, got the string {festivals!r}; "
                'write festivals = ["double11", "day_618"] (or [] for none)'
            )
        unknown = [f for f in festivals if f not in _BY_NAME]
        if unknown:
            raise ConfigError(
                f"forecast.festivals: unknown name(s) {unknown}; choose from "
                f"{', '.join(_BY_NAME)} (or [] for none)"
            )
        return tuple(festivals)
    language = str(locale or "").replace("_", "-").split("-")[0].lower()
    return DEFAULT_FESTIVALS if language == "zh" else ()


@dataclass(frozen=True)
class CalendarChoice:
    """The festivals kept (empty when dropped), the candidate calendar, the two back-tests'
    mean sMAPE and a note in words."""

    kept: tuple[str, ...]
    candidates: tuple[str, ...]
    smape_with: float
    smape_without: float
    note: str


def choose_calendar(
    series: pd.Series | pd.DataFrame,
    festivals: Sequence[str],
    *,
    forecaster: SalesForecaster | None = None,
    origins: int = 8,
    horizons: Sequence[int] = (1, 4, 8, 13),
) -> CalendarChoice:
    """Back-test ``forecaster`` with ``festivals`` and without; keep them if they lower the mean
    sMAPE. A series too short to back-test keeps the calendar (with a note saying so)."""
    candidates = tuple(festivals)
    if not candidates:
        return CalendarChoice((), (), float("nan"), float("nan"), "no festival calendar")
    base = forecaster if forecaster is not None else SalesForecaster()
    scores = []
    try:
        for names in (candidates, ()):
            model = clone(base).set_params(festivals=names)
            result = backtest_forecast(series, forecaster=model, origins=origins, horizons=horizons)
            table = result.summary
            scores.append(float(table.loc[table["model"] == "forecast", "smape"].mean()))
    except MemberlensError as exc:
        return CalendarChoice(
            candidates,
            candidates,
            float("nan"),
            float("nan"),
            f"festival calendar kept untested (no back-test: {exc})",
        )
    with_, without = scores
    if np.isfinite(with_) and (not np.isfinite(without) or with_ < without):
        note = (
            f"festival calendar kept: back-test sMAPE {with_:.1f}% with it, {without:.1f}% without"
        )
        return CalendarChoice(candidates, candidates, with_, without, note)
    note = (
        f"festival calendar dropped: back-test sMAPE {with_:.1f}% with it, {without:.1f}% without"
    )
    return CalendarChoice((), candidates, with_, without, note)


def festival_table(
    candidates: Sequence[str],
    weeks: pd.DatetimeIndex | Sequence,
    *,
    kept: Sequence[str] = (),
    effects: pd.DataFrame | None = None,
) -> list[dict]:
    """One entry per candidate festival: ``name``, ``label_zh``, ``dates`` (the windows in the
    years ``weeks`` span, as ISO first/last days), ``lift`` (estimated lift of a fully exposed
    week, when fitted; None otherwise), ``kept`` (used by the forecast)."""
    index = pd.DatetimeIndex(pd.to_datetime(list(weeks)))
    years = range(index.min().year, index.max().year + 1) if len(index) else range(0)
    dates = festival_dates(list(years), tuple(candidates)) if len(years) else pd.DataFrame()
    lift = {}
    if effects is not None and len(effects):
        lift = dict(zip(effects["festival"], effects["lift"]))
    out = []
    for name in candidates:
        rows = dates[dates["festival"] == name] if len(dates) else dates
        out.append(
            {
                "name": name,
                "label_zh": _BY_NAME[name].label_zh,
                "dates": [
                    {"first": r.first_day.isoformat(), "last": r.last_day.isoformat()}
                    for r in rows.itertuples(index=False)
                ],
                "lift": float(lift[name]) if name in lift else None,
                "kept": name in set(kept) and name in lift,
            }
        )
    return out
