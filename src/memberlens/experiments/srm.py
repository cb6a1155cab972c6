"""Sample-ratio mismatch: were members split between the arms as planned?

A mismatch means the assignment or the logging is broken, and no lift read from the arms can be
trusted; the check warns loudly (:class:`SampleRatioMismatchWarning`) rather than staying quiet.
A campaign report asks for no warning (``warn=False``): it carries the result as its ``srm``
field and leads its messages with the mismatch, so a server does not log it as a warning.

>>> sample_ratio_mismatch([5000, 5050], [0.5, 0.5]).mismatch
False
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["SampleRatioMismatchWarning", "SrmResult", "sample_ratio_mismatch"]


class SampleRatioMismatchWarning(UserWarning):
    """The observed split between arms differs from the planned one beyond chance."""


@dataclass(frozen=True)
class SrmResult:
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi2: float
    p_value: float
    threshold: float
    mismatch: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_ratio_mismatch(
    counts: npt.ArrayLike,
    planned_shares: npt.ArrayLike,
    *,
    threshold: float = 0.001,
    warn: bool = True,
) -> SrmResult:
    """Chi-square goodness of fit of the arm sizes to the planned shares (warns on mismatch,
    unless ``warn=False``: the caller reports the result itself).

    # X^2 = sum_k (O_k - E_k)^2 / E_k, E_k = N * share_k, k - 1 d.f. (Fabijan et al. 2019, KDD)
    """
    observed = np.asarray(counts, dtype=float).ravel()
    shares = np.asarray(planned_shares, dtype=float).ravel()
    if observed.size < 2 or observed.size != shares.size:
        raise ValueError(
            f"counts and planned_shares need the same length >= 2, found {observed.size} "
            f"and {shares.size}"
        )
    if np.any(observed < 0) or np.any(shares <= 0):
        raise ValueError("counts must be >= 0 and planned_shares > 0")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, found {threshold}")
    total = observed.sum()
    expected = total * shares / shares.sum()
    chi2 = float(np.sum((observed - expected) ** 2 / expected)) if total > 0 else 0.0
    p_value = float(stats.chi2.sf(chi2, observed.size - 1)) if total > 0 else 1.0
    mismatch = p_value < threshold
    obs = tuple(int(c) for c in observed)
    exp = tuple(float(e) for e in expected)
    if mismatch:
        message = (
            f"SAMPLE RATIO MISMATCH: arms have {list(obs)} members where the plan expects "
            f"{[round(e) for e in exp]} (chi-square {chi2:.1f}, p = {p_value:.2g} < {threshold}); "
            "the assignment or the logging is broken, so do not trust any lift from this test"
        )
        if warn:
            warnings.warn(message, SampleRatioMismatchWarning, stacklevel=2)
    else:
        message = f"split as planned (chi-square {chi2:.2f}, p = {p_value:.3g})"
    return SrmResult(obs, exp, chi2, p_value, threshold, mismatch, message)
