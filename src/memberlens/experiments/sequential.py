"""Sequential testing that stays valid when the results are read every day.

The mixture sequential probability ratio test (mSPRT) with a normal mixing distribution
``N(0, tau^2)`` on the difference gives always-valid p-values and confidence sequences: the chance
of ever rejecting a true null, however often one looks, stays below ``alpha``. The functions work
on arrays of looks (the last axis is time) of the estimated difference and its variance.

>>> p = always_valid_p_values([0.0, 0.01, 0.02], [1e-4, 5e-5, 2.5e-5], tau=0.02)
>>> bool(p[-1] < 0.05)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from memberlens.experiments.statistics import Proportion

__all__ = [
    "SequentialResult",
    "always_valid_p_values",
    "confidence_sequence",
    "msprt_likelihood_ratio",
    "sequential_proportion_test",
]

FloatArray = npt.NDArray[np.float64]


def _arrays(
    difference: npt.ArrayLike, variance: npt.ArrayLike, tau: float
) -> tuple[FloatArray, FloatArray]:
    d = np.asarray(difference, dtype=float)
    v = np.asarray(variance, dtype=float)
    if d.shape != v.shape:
        raise ValueError(f"difference and variance differ in shape: {d.shape} vs {v.shape}")
    if np.any(v <= 0):
        raise ValueError("every variance must be > 0 (each look needs data in both arms)")
    if not tau > 0:
        raise ValueError(f"tau (the mixing standard deviation) must be > 0, found {tau}")
    return d, v


def msprt_likelihood_ratio(
    difference: npt.ArrayLike, variance: npt.ArrayLike, *, tau: float
) -> FloatArray:
    """Mixture likelihood ratio of ``difference != 0`` against 0 at each look.

    # Lambda = sqrt(V / (V + tau^2)) exp(tau^2 D^2 / (2 V (V + tau^2)))  (Johari et al. 2017, KDD)
    """
    d, v = _arrays(difference, variance, tau)
    t2 = tau * tau
    log_lr = 0.5 * np.log(v / (v + t2)) + t2 * d * d / (2.0 * v * (v + t2))
    return np.asarray(np.exp(np.minimum(log_lr, 700.0)), dtype=float)


def always_valid_p_values(
    difference: npt.ArrayLike, variance: npt.ArrayLike, *, tau: float
) -> FloatArray:
    """Always-valid p-value at each look: the running minimum of ``min(1, 1 / Lambda)``.

    # p_n = min(p_{n-1}, 1 / Lambda_n)  (Johari, Koomen, Pekelis & Walsh 2017, eq. 6)
    """
    lr = msprt_likelihood_ratio(difference, variance, tau=tau)
    return np.asarray(np.minimum.accumulate(np.minimum(1.0, 1.0 / lr), axis=-1), dtype=float)


def confidence_sequence(
    difference: npt.ArrayLike, variance: npt.ArrayLike, *, tau: float, alpha: float = 0.05
) -> tuple[FloatArray, FloatArray]:
    """Always-valid ``1 - alpha`` interval of the difference at each look (running intersection).

    # D +- sqrt(V (V + tau^2) / tau^2 (log((V + tau^2) / V) - 2 log alpha))  (Johari et al. 2017)
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, found {alpha}")
    d, v = _arrays(difference, variance, tau)
    t2 = tau * tau
    half = np.sqrt(v * (v + t2) / t2 * (np.log((v + t2) / v) - 2.0 * np.log(alpha)))
    low = np.maximum.accumulate(d - half, axis=-1)
    high = np.minimum.accumulate(d + half, axis=-1)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


@dataclass(frozen=True)
class SequentialResult:
    """The state after the last look of a sequentially monitored rate comparison."""

    looks: int
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    first_significant_look: int | None  # 1-based look at which p first fell below alpha
    alpha: float
    tau: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sequential_proportion_test(
    control: Sequence[Proportion],
    treatment: Sequence[Proportion],
    *,
    tau: float,
    alpha: float = 0.05,
) -> SequentialResult:
    """mSPRT over cumulative per-look statistics of two rates (e.g. one pair per day)."""
    if len(control) != len(treatment) or not control:
        raise ValueError(
            f"control and treatment need the same, non-zero number of looks, found "
            f"{len(control)} and {len(treatment)}"
        )
    pc = np.array([c.mean for c in control])
    pt = np.array([t.mean for t in treatment])
    var = np.array([c.variance / c.n + t.variance / t.n for c, t in zip(control, treatment)])
    diff = pt - pc
    p = always_valid_p_values(diff, var, tau=tau)
    low, high = confidence_sequence(diff, var, tau=tau, alpha=alpha)
    hits = np.flatnonzero(p < alpha)
    return SequentialResult(
        looks=len(control),
        difference=float(diff[-1]),
        ci_low=float(low[-1]),
        ci_high=float(high[-1]),
        p_value=float(p[-1]),
        significant=bool(p[-1] < alpha),
        first_significant_look=int(hits[0]) + 1 if hits.size else None,
        alpha=alpha,
        tau=tau,
    )
