"""The Chinese retail calendar: daily demand weights and the "retail time" they define.

Purchases follow BG/NBD exactly in *retail time* ``tau = W(t)``, where ``W`` integrates a weight
``w(t) = day_weight(date) * hour_weight(hour)``, normalised to mean 1 over the simulated period.
A Poisson process of rate ``lambda`` in retail time is a non-homogeneous Poisson process of rate
``lambda * w(t)`` in calendar time: purchases bunch on 双11, 618 and 双12, dip over 春节, peak in
the evening, yet ``W(end) - W(start) = days`` so a BG/NBD fitted on calendar time is close to the
truth and one fitted on retail time (``truth/calendar.parquet``) recovers it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memberlens.exceptions import ConfigError
from memberlens.forecast.festivals import SPRING_FESTIVAL  # the one 春节 table

__all__ = ["SPRING_FESTIVAL", "RetailCalendar", "day_weights", "retail_calendar"]

#: Relative order volume by hour of day (China e-commerce: late-evening peak, quiet nights).
HOUR_PROFILE = np.array(
    [
        0.9,
        0.5,
        0.3,
        0.2,
        0.15,
        0.15,
        0.25,
        0.5,
        0.8,
        1.1,
        1.3,
        1.3,
        1.2,
        1.2,
        1.3,
        1.3,
        1.2,
        1.1,
        1.1,
        1.3,
        1.6,
        1.9,
        1.8,
        1.4,
    ]
)


@dataclass(frozen=True)
class RetailCalendar:
    """Daily weights of the simulated period and the retail-time map ``W`` (in days)."""

    start: np.datetime64
    days: int
    day_weight: np.ndarray
    #: W at every hour boundary (length ``days * 24 + 1``), in days of retail time.
    hour_grid: np.ndarray
    retail_grid: np.ndarray

    def to_retail(self, t: np.ndarray) -> np.ndarray:
        """Retail time ``W(t)`` of calendar times ``t`` (days since start)."""
        return np.interp(t, self.hour_grid, self.retail_grid)

    def to_calendar(self, tau: np.ndarray) -> np.ndarray:
        """Calendar time of retail times ``tau`` (inverse of :meth:`to_retail`)."""
        return np.interp(tau, self.retail_grid, self.hour_grid)

    def sample(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Times in ``[lo, hi)`` with density proportional to the calendar weight."""
        a, b = self.to_retail(lo), self.to_retail(hi)
        return self.to_calendar(a + (b - a) * rng.random(np.shape(lo)))

    def date_of(self, t: np.ndarray) -> np.ndarray:
        return self.start + np.floor(t).astype("timedelta64[D]")


def day_weights(start: np.datetime64, days: int) -> np.ndarray:
    """Unnormalised demand weight of each day (festivals, 春节 logistics stop, weekends)."""
    dates = start + np.arange(days).astype("timedelta64[D]")
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    missing = sorted(set(years.tolist()) - set(SPRING_FESTIVAL))
    if missing:
        raise ConfigError(
            f"start/days: the retail calendar covers {min(SPRING_FESTIVAL)}-"
            f"{max(SPRING_FESTIVAL)}, found year(s) {missing}; choose --start and "
            "--days inside that range"
        )
    month_day = (dates - dates.astype("datetime64[M]")).astype(int) + 1
    month = dates.astype("datetime64[M]").astype(int) % 12 + 1
    w = np.ones(days)
    weekday = (dates.astype("datetime64[D]").astype(int) + 3) % 7  # 0 = Monday
    w[weekday >= 5] *= 1.1
    w[(month == 3) & (month_day == 8)] *= 1.8  # 38 女王节
    w[(month == 6) & (month_day < 18)] *= 1.5  # 618 warm-up
    w[(month == 6) & (month_day == 18)] *= 3.5  # 618
    w[(month == 11) & (month_day <= 10)] *= 1.6  # 双11 pre-sale
    w[(month == 11) & (month_day == 11)] *= 6.0  # 双11
    w[(month == 11) & (month_day == 12)] *= 1.5
    w[(month == 12) & (month_day == 12)] *= 2.5  # 双12
    spring = np.array([np.datetime64(SPRING_FESTIVAL[y]) for y in years])
    offset = (dates - spring).astype(int)
    w[(offset >= -20) & (offset <= -8)] *= 1.4  # 年货节
    w[(offset >= -7) & (offset <= -1)] *= 0.6  # couriers stop
    w[(offset >= 0) & (offset <= 6)] *= 0.4  # 春节 holiday
    w[(offset >= 7) & (offset <= 14)] *= 0.8
    return w


def retail_calendar(start: np.datetime64, days: int) -> RetailCalendar:
    """The calendar of ``days`` days from ``start`` with weights normalised to mean 1."""
    start = np.datetime64(start, "D")
    w = day_weights(start, days)
    w = w / w.mean()
    hour = HOUR_PROFILE / HOUR_PROFILE.mean()
    hourly = (w[:, None] * hour[None, :]).ravel() / 24.0
    retail = np.concatenate([[0.0], np.cumsum(hourly)])
    grid = np.arange(days * 24 + 1) / 24.0
    return RetailCalendar(start=start, days=days, day_weight=w, hour_grid=grid, retail_grid=retail)
