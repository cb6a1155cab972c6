"""The public surface shared by the purchase-count models (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB).

A subclass supplies the model's formulas as pure functions of a parameter dict (scalars, or one
value per member for segment fits) and arrays: ``_alive``, ``_expected``, ``_new_member``,
``_pmf`` and ``_rate`` (the posterior purchase rate of a member who is still active).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd

from memberlens.clv._base import ClvModel
from memberlens.clv._summary import member_index
from memberlens.exceptions import ConfigError

TimeUnit = Literal["D", "W", "M"]
UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}


def check_horizon(horizon, who: str) -> float:
    value = float(horizon)
    if not np.isfinite(value) or value < 0:
        raise ConfigError(
            f"{who}: horizon must be a finite number >= 0 (in the summary's time "
            f"unit); found {horizon!r}"
        )
    return value


class PurchaseModel(ClvModel):
    """Base class of the purchase-count models."""

    _columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")
    _age_column = "T"

    # -- formulas, per model ---------------------------------------------------------------------
    def _alive(self, p, x, t_x, T):
        raise NotImplementedError

    def _expected(self, p, x, t_x, T, t):
        raise NotImplementedError

    def _new_member(self, p, t):
        raise NotImplementedError

    def _pmf(self, p, n, t):
        raise NotImplementedError

    def _rate(self, p, x, t_x, T) -> tuple[np.ndarray, np.ndarray]:
        """(mean purchase rate per time unit, shape of its posterior) for an active member."""
        return (p["r"] + x) / (p["alpha"] + T), p["r"] + x

    # -- public --------------------------------------------------------------------------------
    def _member_arrays(self, summary):
        arrays = self._read(summary)
        return (
            self._row_params(summary),
            arrays["frequency"],
            arrays["recency"],
            arrays[self._age_column],
        )

    def probability_alive(self, summary: pd.DataFrame) -> pd.Series:
        """P(the member is still active at the end of the observation period), per member."""
        p, x, t_x, T = self._member_arrays(summary)
        with np.errstate(over="ignore", under="ignore"):
            return self._series(
                np.clip(self._alive(p, x, t_x, T), 0.0, 1.0), summary, "probability_alive"
            )

    def expected_purchases(self, summary: pd.DataFrame, *, horizon: float) -> pd.Series:
        """E[purchases in the next ``horizon`` time units | the member's history]."""
        t = check_horizon(horizon, type(self).__name__)
        p, x, t_x, T = self._member_arrays(summary)
        with np.errstate(over="ignore", under="ignore"):
            return self._series(self._expected(p, x, t_x, T, t), summary, "expected_purchases")

    def expected_purchases_new_member(self, horizon: float):
        """E[repeat purchases in ``horizon`` time units] of a member who just made a first
        purchase: a float, or a Series by segment for segment fits."""
        t = check_horizon(horizon, type(self).__name__)
        p, index = self._population_params()
        return self._population(self._new_member(p, t), index, "expected_purchases")

    def probability_of_purchases(self, n: int, *, horizon: float):
        """P(exactly ``n`` repeat purchases in ``horizon`` time units) for a new member."""
        if int(n) != n or n < 0:
            raise ConfigError(f"{type(self).__name__}: n must be a whole number >= 0; found {n!r}")
        t = check_horizon(horizon, type(self).__name__)
        p, index = self._population_params()
        return self._population(self._pmf(p, int(n), t), index, "probability")

    def next_purchase(
        self,
        summary: pd.DataFrame,
        *,
        quantile: float = 0.5,
        as_of: str | pd.Timestamp | None = None,
        time_unit: TimeUnit = "W",
    ) -> pd.DataFrame:
        """When each member is expected to buy next, as a CRM team reads it.

        Columns: ``probability_alive``; ``time_between_orders`` (1 / the posterior mean purchase
        rate of an active member, in the summary's time unit); ``observed_time_between_orders``
        (recency / frequency, NaN without repeat purchases); ``time_to_next_purchase`` (the
        ``quantile`` of the wait until the next purchase if the member stays active: the
        Poisson-gamma posterior gives P(no purchase in w) = (1 + w * rate / shape)^-shape);
        and, when ``as_of`` is given, ``next_purchase_date`` (``time_unit`` days per unit:
        D = 1, W = 7, M = 30.44).
        """
        if not 0 < quantile < 1:
            raise ConfigError(
                f"{type(self).__name__}: quantile must be in (0, 1); found {quantile!r}"
            )
        p, x, t_x, T = self._member_arrays(summary)
        rate, shape = self._rate(p, x, t_x, T)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            wait = shape / rate * np.expm1(-np.log1p(-quantile) / shape)
            observed = np.where(x > 0, t_x / np.where(x > 0, x, 1.0), np.nan)
            frame = pd.DataFrame(
                {
                    "probability_alive": np.clip(self._alive(p, x, t_x, T), 0.0, 1.0),
                    "time_between_orders": 1.0 / rate,
                    "observed_time_between_orders": observed,
                    "time_to_next_purchase": wait,
                },
                index=member_index(summary),
            )
        if as_of is not None:
            if time_unit not in UNIT_DAYS:
                raise ConfigError(
                    f"{type(self).__name__}: time_unit must be one of "
                    f"{list(UNIT_DAYS)}; found {time_unit!r}"
                )
            days = frame["time_to_next_purchase"].to_numpy() * UNIT_DAYS[time_unit]
            frame["next_purchase_date"] = (
                pd.Timestamp(as_of) + pd.to_timedelta(np.round(days), unit="D")
            ).normalize()
        return frame
