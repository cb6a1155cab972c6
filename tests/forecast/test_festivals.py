"""Festival windows. References: the simulator's 春节 table and its daily calendar weights
(``memberlens.simulate.calendar``, ``truth/calendar.parquet``), and weeks counted by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.exceptions import ConfigError, DataError
from memberlens.forecast.festivals import (
    DEFAULT_FESTIVALS,
    FESTIVALS,
    SPRING_FESTIVAL,
    festival_dates,
    festival_regressors,
)


def test_the_simulator_uses_the_one_spring_festival_table():
    from memberlens.simulate.calendar import SPRING_FESTIVAL as SIMULATED

    assert SIMULATED is SPRING_FESTIVAL  # one source of truth (issue 14: no second copy)
    # spot checks against published dates (Hong Kong Observatory's Gregorian-lunar tables)
    assert (SPRING_FESTIVAL[2000], SPRING_FESTIVAL[2024], SPRING_FESTIVAL[2035]) == (
        "2000-02-05",
        "2024-02-10",
        "2035-02-08",
    )
    days = pd.to_datetime(list(SPRING_FESTIVAL.values()))
    # 春节 always falls between 21 January and 20 February
    assert ((days.month == 1) & (days.day >= 21) | (days.month == 2) & (days.day <= 20)).all()


def test_exposure_counted_by_hand_for_2024():
    # 春节 2024 = Saturday 10 Feb; holiday window 10..16 Feb; couriers stop 3..9 Feb
    weeks = pd.to_datetime(
        [
            "2024-01-29",
            "2024-02-05",
            "2024-02-12",
            "2024-11-04",
            "2024-11-11",
            "2024-12-09",
            "2024-06-17",
        ]
    )
    x = festival_regressors(weeks)
    assert x.loc["2024-01-29", "spring_festival_eve"] == pytest.approx(2 / 7)  # 3, 4 Feb
    assert x.loc["2024-02-05", "spring_festival_eve"] == pytest.approx(5 / 7)  # 5..9 Feb
    assert x.loc["2024-02-05", "spring_festival_holiday"] == pytest.approx(2 / 7)  # 10, 11
    assert x.loc["2024-02-12", "spring_festival_holiday"] == pytest.approx(5 / 7)  # 12..16
    assert x.loc["2024-02-12", "spring_festival_return"] == pytest.approx(2 / 7)  # 17, 18
    assert x.loc["2024-11-04", "presale_double11"] == 1.0  # 4..10 Nov: a full week of 10 days
    assert x.loc["2024-11-11", "double11"] == 1.0  # 11 and 12 Nov, both in the week
    assert x.loc["2024-12-09", "double12"] == 1.0
    assert x.loc["2024-06-17", "day_618"] == 1.0
    assert x.loc["2024-06-17", "presale_618"] == pytest.approx(1 / 7)  # 17 June only
    # nothing else is exposed in those weeks
    assert x.loc["2024-11-04"].drop("presale_double11").eq(0).all()


def test_windows_cover_every_festival_day_of_the_simulator(shop):
    """Every day the simulator weights apart from weekends lies in one of our windows, and
    every window but 国庆 (not simulated) holds such days."""
    calendar = pd.read_parquet(shop[0] / "truth" / "calendar.parquet")
    day = pd.to_datetime(calendar["date"])
    weekend = np.where(day.dt.day_of_week >= 5, 1.1, 1.0)
    plain = calendar["day_weight"] / weekend
    base = plain.mode().iloc[0]
    special = set(day[~np.isclose(plain, base)].dt.date)
    years = sorted(set(day.dt.year))
    windows = festival_dates(years)
    covered = set()
    for row in windows.itertuples(index=False):
        span = set(pd.date_range(row.first_day, row.last_day).date)
        hits = span & special
        if (
            row.festival != "golden_week"
            and row.first_day >= day.min().date()
            and row.last_day <= day.max().date()
        ):
            assert hits, f"{row.festival} {row.year}: no simulated festival day in the window"
        covered |= hits
    assert special - covered == set()
    assert not any(
        pd.date_range(r.first_day, r.last_day).isin(pd.to_datetime(sorted(special))).any()
        for r in windows[windows.festival == "golden_week"].itertuples()
    )


def test_every_default_festival_has_a_window():
    assert tuple(f.name for f in FESTIVALS) == DEFAULT_FESTIVALS
    dates = festival_dates([2025])
    assert len(dates) == len(FESTIVALS)
    assert (dates["last_day"] >= dates["first_day"]).all()


def test_bad_names_and_years_are_refused():
    with pytest.raises(ConfigError, match="unknown name.*choose from"):
        festival_regressors(pd.to_datetime(["2024-01-01"]), ["black_friday"])
    with pytest.raises(DataError, match="春节 table covers"):
        festival_regressors(pd.to_datetime(["2040-01-02"]), ["spring_festival_holiday"])
    # fixed-date festivals need no table
    assert festival_regressors(pd.to_datetime(["2040-11-05"]), ["presale_double11"]).iloc[
        0, 0
    ] == pytest.approx(6 / 7)
