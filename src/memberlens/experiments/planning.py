"""Planning a test of a rate: members per arm and days needed for a minimum detectable effect.

>>> plan = sample_size_for_rate(baseline=0.03, mde=0.1, power=0.8)
>>> plan.n_per_arm
53182
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy import optimize, special

__all__ = ["SampleSizePlan", "cohens_h", "power_two_sample_normal", "sample_size_for_rate"]


@dataclass(frozen=True)
class SampleSizePlan:
    baseline: float
    mde: float  # relative: 0.1 = detect a 10 % lift
    target_rate: float
    alpha: float
    power: float
    effect_size: float  # Cohen's h
    n_per_arm_exact: float  # the root of the power equation, before rounding up
    n_per_arm: int
    n_total: int
    daily: int | None
    days: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cohens_h(p1: float, p2: float) -> float:
    """Effect size of two rates on the arcsine scale.

    # h = 2 arcsin(sqrt(p2)) - 2 arcsin(sqrt(p1))  (Cohen 1988, Statistical Power Analysis, ch. 6)
    """
    return 2.0 * math.asin(math.sqrt(p2)) - 2.0 * math.asin(math.sqrt(p1))


def power_two_sample_normal(effect_size: float, n_per_arm: float, *, alpha: float = 0.05) -> float:
    """Power of the two-sided two-sample z-test with equal arms (both rejection tails counted).

    # power = Phi(|h| sqrt(n / 2) - z_{1-alpha/2}) + Phi(-|h| sqrt(n / 2) - z_{1-alpha/2})
    """
    crit = float(-special.ndtri(alpha / 2.0))  # stats.norm.isf, without its overhead
    shift = abs(effect_size) * math.sqrt(n_per_arm / 2.0)
    return float(special.ndtr(shift - crit) + special.ndtr(-shift - crit))


def sample_size_for_rate(
    *,
    baseline: float,
    mde: float,
    power: float = 0.8,
    alpha: float = 0.05,
    daily: int | None = None,
) -> SampleSizePlan:
    """Members per arm (equal split) to detect a relative lift ``mde`` over ``baseline``.

    ``daily`` is the number of members entering the test per day (both arms), for the duration.
    """
    if not 0.0 < baseline < 1.0:
        raise ValueError(f"baseline must be a rate between 0 and 1, found {baseline}")
    if mde <= 0.0:
        raise ValueError(f"mde (relative lift, e.g. 0.1 for +10 %) must be > 0, found {mde}")
    target = baseline * (1.0 + mde)
    if target >= 1.0:
        raise ValueError(
            f"baseline {baseline} with a lift of {mde:.0%} gives a rate of {target:.3f} >= 1; "
            "choose a smaller mde"
        )
    if not 0.0 < power < 1.0 or not 0.0 < alpha < 1.0 or power <= alpha:
        raise ValueError(f"need 0 < alpha < power < 1, found alpha={alpha}, power={power}")
    if daily is not None and daily <= 0:
        raise ValueError(f"daily (members entering per day) must be > 0, found {daily}")
    h = cohens_h(baseline, target)
    if not h > 0.0:
        raise ValueError(
            f"a lift of {mde:g} over {baseline} leaves the rate unchanged at this precision "
            "(effect size 0): no sample can detect it; choose a larger mde"
        )
    # closed form without the far tail (Cohen 1988, eq. 6.4.1), then the exact root
    ratio = float(-special.ndtri(alpha / 2.0) + special.ndtri(power)) / h  # norm.isf, ppf
    if ratio > 1e6:  # more than 2e12 members per arm (and past it, a float overflow)
        raise ValueError(
            f"a lift of {mde:g} over {baseline} needs more than 2e12 members per arm (effect "
            f"size {h:.1e}): no test can detect it; choose a larger mde"
        )
    guess = 2.0 * ratio**2
    n = optimize.brentq(
        lambda m: power_two_sample_normal(h, m, alpha=alpha) - power,
        1.0,
        2.0 * guess + 10.0,
        xtol=1e-10,
        rtol=1e-14,
    )
    n_per_arm = math.ceil(n)
    n_total = 2 * n_per_arm
    days = math.ceil(n_total / daily) if daily else None
    return SampleSizePlan(
        baseline, mde, target, alpha, power, h, float(n), n_per_arm, n_total, daily, days
    )
