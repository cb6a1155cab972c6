"""The Chinese shopping festivals as weekly regressors.

Each festival is a window of days, fixed in the Gregorian calendar (618, 双11, ...) or anchored on
春节 (the first day of the first lunar month). Its regressor for a week is the number of the
window's days inside that week divided by ``min(7, window length)``: 1 for the week that holds a
one-day festival, 1 for a week fully inside a longer window, fractions where a window straddles two
weeks. On the log scale of :class:`~memberlens.forecast.SalesForecaster` the coefficient is then
the log lift of a week fully exposed to the festival.

:data:`SPRING_FESTIVAL` (2000-2035) is the one table of 春节 dates in memberlens: the simulator's
retail calendar (:mod:`memberlens.simulate.calendar`) imports it from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from memberlens.exceptions import ConfigError, DataError

__all__ = [
    "DEFAULT_FESTIVALS",
    "FESTIVALS",
    "SPRING_FESTIVAL",
    "Festival",
    "festival_dates",
    "festival_regressors",
]

#: 春节 (Chinese New Year's day, 正月初一), Gregorian dates, 2000-2035; the simulator uses it too.
SPRING_FESTIVAL: dict[int, str] = {
    2000: "2000-02-05",
    2001: "2001-01-24",
    2002: "2002-02-12",
    2003: "2003-02-01",
    2004: "2004-01-22",
    2005: "2005-02-09",
    2006: "2006-01-29",
    2007: "2007-02-18",
    2008: "2008-02-07",
    2009: "2009-01-26",
    2010: "2010-02-14",
    2011: "2011-02-03",
    2012: "2012-01-23",
    2013: "2013-02-10",
    2014: "2014-01-31",
    2015: "2015-02-19",
    2016: "2016-02-08",
    2017: "2017-01-28",
    2018: "2018-02-16",
    2019: "2019-02-05",
    2020: "2020-01-25",
    2021: "2021-02-12",
    2022: "2022-02-01",
    2023: "2023-01-22",
    2024: "2024-02-10",
    2025: "2025-01-29",
    2026: "2026-02-17",
    2027: "2027-02-06",
    2028: "2028-01-26",
    2029: "2029-02-13",
    2030: "2030-02-03",
    2031: "2031-01-23",
    2032: "2032-02-11",
    2033: "2033-01-31",
    2034: "2034-02-19",
    2035: "2035-02-08",
}


@dataclass(frozen=True)
class Festival:
    """A window of days each year: ``anchor`` is ``"spring"`` (春节) or ``(month, day)``; the
    window runs from ``anchor + first`` to ``anchor + last`` days, both included."""

    name: str
    label_zh: str
    anchor: str | tuple[int, int]
    first: int = 0
    last: int = 0

    @property
    def days(self) -> int:
        return self.last - self.first + 1

    def dates(self, year: int) -> pd.DatetimeIndex:
        """The window's days in ``year`` (by the year of its anchor)."""
        if self.anchor == "spring":
            if year not in SPRING_FESTIVAL:
                raise DataError(
                    f"weeks: the sales include {year}, and the Chinese New Year dates (the 春节 "
                    f"table covers {min(SPRING_FESTIVAL)}-{max(SPRING_FESTIVAL)}) are not "
                    "known for it, so its festival weeks cannot be placed (docs/forecast.md, "
                    "'The festival regressors', says how to forecast without them)"
                )
            anchor = pd.Timestamp(SPRING_FESTIVAL[year])
        else:
            month, day = self.anchor
            anchor = pd.Timestamp(year=year, month=month, day=day)
        return pd.date_range(
            anchor + pd.Timedelta(days=self.first), anchor + pd.Timedelta(days=self.last), freq="D"
        )


#: Every festival regressor the forecaster knows, in design-matrix order.
FESTIVALS: tuple[Festival, ...] = (
    Festival("spring_festival_shopping", "年货节", "spring", -20, -8),  # 春节 -20..-8 days
    Festival("spring_festival_eve", "春节前停运", "spring", -7, -1),  # couriers stop
    Festival("spring_festival_holiday", "春节", "spring", 0, 6),  # 初一..初七
    Festival("spring_festival_return", "春节后", "spring", 7, 14),  # 初八..十五
    Festival("womens_day", "38女王节", (3, 8)),
    Festival("presale_618", "618预热", (6, 1), 0, 16),  # 1-17 June
    Festival("day_618", "618", (6, 18)),
    Festival("golden_week", "国庆", (10, 1), 0, 6),  # 1-7 October
    Festival("presale_double11", "双11预售", (11, 1), 0, 9),  # 1-10 November
    Festival("double11", "双11", (11, 11), 0, 1),  # 11-12 November
    Festival("double12", "双12", (12, 12)),
)

_BY_NAME = {f.name: f for f in FESTIVALS}

#: The festivals used unless told otherwise: all of them.
DEFAULT_FESTIVALS: tuple[str, ...] = tuple(f.name for f in FESTIVALS)


def _festivals(names: Sequence[str]) -> list[Festival]:
    unknown = [n for n in names if n not in _BY_NAME]
    if unknown:
        raise ConfigError(
            f"festivals: unknown name(s) {', '.join(map(repr, unknown))}; choose "
            f"from {', '.join(_BY_NAME)}"
        )
    return [_BY_NAME[n] for n in names]


def festival_dates(years: Sequence[int], names: Sequence[str] = DEFAULT_FESTIVALS) -> pd.DataFrame:
    """One row per festival and year: festival, label_zh, year, first_day, last_day."""
    rows = []
    for f in _festivals(names):
        for year in years:
            days = f.dates(int(year))
            rows.append(
                {
                    "festival": f.name,
                    "label_zh": f.label_zh,
                    "year": int(year),
                    "first_day": days[0].date(),
                    "last_day": days[-1].date(),
                }
            )
    return pd.DataFrame(rows, columns=["festival", "label_zh", "year", "first_day", "last_day"])


def festival_regressors(
    weeks: Sequence[dt.date] | pd.DatetimeIndex, names: Sequence[str] = DEFAULT_FESTIVALS
) -> pd.DataFrame:
    """Per week (first day of a 7-day week) and festival: the exposed share of the window.

    >>> weeks = pd.to_datetime(["2024-10-28", "2024-11-04", "2024-11-11"])  # Mondays
    >>> x = festival_regressors(weeks, ["presale_double11", "double11"])
    >>> x.round(3).to_dict("list")
    {'presale_double11': [0.429, 1.0, 0.0], 'double11': [0.0, 0.0, 1.0]}
    """
    start = pd.DatetimeIndex(pd.to_datetime(weeks)).normalize()
    chosen = _festivals(names)
    out = pd.DataFrame(0.0, index=start, columns=[f.name for f in chosen])
    if len(start) == 0:
        return out
    day0 = start.values.astype("datetime64[D]").astype(np.int64)
    # a window can fall in the week of the next/previous calendar year (春节 moves)
    years = range(start.min().year - 1, start.max().year + 2)
    for f in chosen:
        hits = np.zeros(len(start))
        for year in years:
            if f.anchor == "spring" and year not in SPRING_FESTIVAL:
                if start.min().year <= year <= start.max().year:
                    f.dates(year)  # raises the clear error
                continue
            days = f.dates(year).values.astype("datetime64[D]").astype(np.int64)
            # days of [days[0], days[-1]] inside [day0, day0 + 6]
            lo = np.maximum(day0, days[0])
            hi = np.minimum(day0 + 6, days[-1])
            hits += np.clip(hi - lo + 1, 0, None)
        out[f.name] = hits / min(7, f.days)
    return out
