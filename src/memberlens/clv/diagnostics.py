"""Is a fitted purchase model usable? Detect degenerate fits before they drive tiers and segments.

A maximum-likelihood fit can converge and still say nothing: on one retail export BG/NBD put
P(alive) >= 0.72 on every member while hundreds had been silent for months, and the churn-risk
tier came out empty. :func:`fit_health` flags a fit as ``degenerate`` when any of these holds:

* **drop-out near 0 or 1**: the mean probability of leaving after a purchase a / (a + b)
  (BG/NBD, MBG/NBD, MBG/CNBD-k) or, for Pareto/NBD, the share expected to leave within the
  median observation time 1 - (beta / (beta + T_med))^s, is below :data:`DROPOUT_EDGE` or above
  1 - :data:`DROPOUT_EDGE`;
* **a parameter at a bound**: outside [:data:`PARAM_LOW`, :data:`PARAM_HIGH`], the edge of the
  optimiser's box (it ran off because the data do not identify it; a and b both large with a
  moderate ratio is not that: it means every member drops out with about the same probability);
* **a flat likelihood**: a standard error that is not finite (singular information matrix);
* **flat P(alive)**: among repeat buyers, those silent for more than :data:`DORMANT_GAPS` times
  their own mean gap between purchases ("dormant", at least :data:`MIN_DORMANT` of them and 5 %
  of repeat buyers) still get a median P(alive) of :data:`FLAT_P_ALIVE` or more.

The result says why in words a CRM analyst can act on, for the run summary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from memberlens.clv._purchase import PurchaseModel
from memberlens.clv._summary import summary_columns

__all__ = ["FitHealth", "fit_health"]

DROPOUT_EDGE = 0.005
PARAM_LOW, PARAM_HIGH = 1e-10, 1e10  # the optimiser's box is exp(+-25)
DORMANT_GAPS = 3.0
MIN_DORMANT = 20
FLAT_P_ALIVE = 0.7


@dataclass(frozen=True)
class FitHealth:
    """Whether a purchase-model fit is degenerate, and why (empty ``reasons`` when healthy)."""

    model: str
    degenerate: bool
    reasons: tuple[str, ...]
    mean_dropout: float
    dormant_members: int
    dormant_median_p_alive: float

    @property
    def message(self) -> str:
        if not self.degenerate:
            return f"{self.model}: fit looks usable"
        return f"{self.model} fit is degenerate: " + "; ".join(self.reasons)

    def to_dict(self) -> dict:
        return {**asdict(self), "reasons": list(self.reasons), "message": self.message}


def _mean_dropout(model: PurchaseModel, T: np.ndarray) -> float:
    p = model.params_
    if {"a", "b"} <= set(p.index):
        return float(p["a"] / (p["a"] + p["b"]))
    if {"s", "beta"} <= set(p.index):
        t_med = float(np.median(T)) if T.size else 0.0
        return float(1.0 - (p["beta"] / (p["beta"] + t_med)) ** p["s"])
    return float("nan")


def fit_health(model: PurchaseModel, summary: pd.DataFrame) -> FitHealth:
    """Check a purchase model fitted without ``by=`` against the summary it was fitted on."""
    model._check_fitted()
    name = type(model).__name__
    arrays = summary_columns(summary, ("frequency", "recency", "T"), who="fit_health")
    x, t_x, T = arrays["frequency"], arrays["recency"], arrays["T"]
    reasons = []
    dropout = _mean_dropout(model, T)
    if np.isfinite(dropout) and not DROPOUT_EDGE <= dropout <= 1 - DROPOUT_EDGE:
        reasons.append(
            f"mean drop-out probability {dropout:.4f} is at the edge (members either never "
            "leave or leave at once)"
        )
    fitted = model.params_.drop("k", errors="ignore")
    off = fitted[(fitted < PARAM_LOW) | (fitted > PARAM_HIGH)]
    if len(off):
        shown = ", ".join(f"{k} = {v:.3g}" for k, v in off.items())
        reasons.append(f"parameter(s) at a bound ({shown}): the data do not identify them")
    errors = model.standard_errors_.drop("k", errors="ignore")
    if not np.all(np.isfinite(errors.to_numpy(dtype=float))):
        reasons.append("flat likelihood (a standard error is not finite)")
    repeat = x > 0
    gap = np.where(repeat, t_x / np.where(repeat, x, 1.0), np.inf)
    dormant = repeat & (T - t_x > DORMANT_GAPS * gap)
    n_dormant = int(dormant.sum())
    median_alive = float("nan")
    if n_dormant:
        alive = model.probability_alive(summary).to_numpy()
        median_alive = float(np.median(alive[dormant]))
        enough = n_dormant >= max(MIN_DORMANT, 0.05 * int(repeat.sum()))
        if enough and median_alive >= FLAT_P_ALIVE:
            low = float(np.min(alive[repeat]))
            reasons.append(
                f"P(alive) stays >= {low:.2f} for every repeat buyer and is {median_alive:.2f} "
                f"(median) for the {n_dormant:,} members silent for over "
                f"{DORMANT_GAPS:g}x their usual gap"
            )
    return FitHealth(name, bool(reasons), tuple(reasons), dropout, n_dormant, median_alive)
