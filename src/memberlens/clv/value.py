"""Customer lifetime value: discounted expected margin over a horizon, member by member."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberlens.clv._purchase import PurchaseModel, check_horizon
from memberlens.clv._summary import member_index
from memberlens.clv.gamma_gamma import GammaGammaModel
from memberlens.exceptions import ConfigError

__all__ = ["customer_lifetime_value"]


def customer_lifetime_value(
    purchase_model: PurchaseModel,
    spend_model: GammaGammaModel,
    summary: pd.DataFrame,
    *,
    horizon: int,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    period: float = 1.0,
    batch_size: int = 200_000,
) -> pd.Series:
    """Discounted expected margin of each member over ``horizon`` periods.

    CLV = margin * E[spend] * sum_{k=1..horizon} (E[Y(k*period)] - E[Y((k-1)*period)])
    / (1 + discount_rate)^k (Fader, Hardie & Lee 2005, "RFM and CLV", eq. 2 discretised by
    period, as in the lifetimes package). ``period`` is the length of one discount period in the
    summary's time unit (e.g. 52/12 for monthly periods on a weekly summary) and
    ``discount_rate`` is per period. Members are scored in batches of ``batch_size`` rows, so
    memory stays bounded at batch_size x horizon floats whatever the member count.
    """
    if int(horizon) != horizon or horizon < 1:
        raise ConfigError(
            f"customer_lifetime_value: horizon must be a whole number of periods "
            f">= 1; found {horizon!r}"
        )
    for name, value, low in (
        ("discount_rate", discount_rate, 0.0),
        ("margin", margin, 0.0),
        ("period", period, 1e-12),
    ):
        if not np.isfinite(value) or value < low:
            raise ConfigError(
                f"customer_lifetime_value: {name} must be a finite number >= {low}; found {value!r}"
            )
    if int(batch_size) != batch_size or batch_size < 1:
        raise ConfigError(f"customer_lifetime_value: batch_size must be >= 1; found {batch_size!r}")
    check_horizon(horizon * period, "customer_lifetime_value")
    spend = spend_model.conditional_expected_spend(summary).to_numpy()
    discount = (1.0 + discount_rate) ** -np.arange(1, int(horizon) + 1)
    values = np.empty(len(summary))
    for start in range(0, len(summary), int(batch_size)):
        part = summary.iloc[start : start + int(batch_size)]
        cumulative = np.column_stack(
            [np.zeros(len(part))]
            + [
                purchase_model.expected_purchases(part, horizon=k * period).to_numpy()
                for k in range(1, int(horizon) + 1)
            ]
        )
        values[start : start + len(part)] = np.diff(cumulative, axis=1) @ discount
    return pd.Series(margin * spend * values, index=member_index(summary), name="clv")
