"""The regression design of the weekly sales model: yearly Fourier terms and festival windows.

Week ``w`` (named by its first day) is placed in the year by the day of year of its middle day
(first day + 3), as a fraction ``f = (day_of_year - 0.5) / 365.25``; harmonic ``k`` adds
``sin(2 pi k f)`` and ``cos(2 pi k f)`` (Harvey 1990, sec. 2.3; Hyndman & Athanasopoulos,
*Forecasting: Principles and Practice*, 3rd ed., sec. 7.4 "Fourier series"). Festival columns
come from :func:`memberlens.forecast.festivals.festival_regressors`. With ``trend=True`` the
design starts with ``const`` and ``trend`` (years since ``origin``), which a stationary error
model needs; the local-level model carries its level in the error term instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from memberlens.forecast.festivals import festival_regressors

__all__ = ["design_matrix", "fourier_terms"]


def fourier_terms(weeks: pd.DatetimeIndex, order: int) -> pd.DataFrame:
    """``sin1, cos1, ..., sin<order>, cos<order>`` of the weeks' position in the year."""
    middle = pd.DatetimeIndex(weeks) + pd.Timedelta(days=3)
    fraction = (np.asarray(middle.day_of_year, dtype=float) - 0.5) / 365.25
    columns = {}
    for k in range(1, order + 1):
        columns[f"sin{k}"] = np.sin(2.0 * np.pi * k * fraction)
        columns[f"cos{k}"] = np.cos(2.0 * np.pi * k * fraction)
    return pd.DataFrame(columns, index=pd.DatetimeIndex(weeks), dtype=float)


def design_matrix(
    weeks: Sequence[dt.date] | pd.DatetimeIndex,
    *,
    yearly_order: int,
    festivals: Sequence[str],
    trend: bool = False,
    origin: dt.date | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Regressors per week: [const, trend], Fourier terms, then one column per festival."""
    index = pd.DatetimeIndex(pd.to_datetime(weeks)).normalize()
    parts = []
    if trend:
        start = pd.Timestamp(origin) if origin is not None else index[0]
        years = np.asarray((index - start).days, dtype=float) / 365.25
        parts.append(pd.DataFrame({"const": 1.0, "trend": years}, index=index))
    parts.append(fourier_terms(index, yearly_order))
    parts.append(festival_regressors(index, festivals))
    return pd.concat(parts, axis=1)
