"""Fixed-horizon tests of a treatment arm against control, from sufficient statistics.

Each test returns the absolute difference with its confidence interval and the relative lift
``(treatment - control) / control`` with a delta-method interval.

>>> r = two_proportion_ztest(Proportion(1000, 100), Proportion(1000, 130))
>>> round(r.difference, 3), round(r.p_value, 4)
(0.03, 0.0355)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy import special

from memberlens.experiments.statistics import Proportion, SampleMean

__all__ = [
    "ComparisonResult",
    "relative_lift_variance",
    "two_proportion_ztest",
    "welch_ttest",
]


@dataclass(frozen=True)
class ComparisonResult:
    """Treatment against control: difference, relative lift, intervals, p-value."""

    test: str
    control_mean: float
    treatment_mean: float
    difference: float
    ci_low: float
    ci_high: float
    relative_lift: float
    relative_ci_low: float
    relative_ci_high: float
    statistic: float
    p_value: float
    df: float
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1 (exclusive), found {alpha}")


def _check_sizes(control_n: int, treatment_n: int, minimum: int) -> None:
    if control_n < minimum or treatment_n < minimum:
        raise ValueError(
            f"each arm needs at least {minimum} members, found control={control_n}, "
            f"treatment={treatment_n}"
        )


def relative_lift_variance(
    control_mean: float,
    control_var_of_mean: float,
    treatment_mean: float,
    treatment_var_of_mean: float,
) -> float:
    """Variance of ``treatment_mean / control_mean - 1`` for independent arms, by the delta method.

    # Kohavi, Tang & Xu (2020), Trustworthy Online Controlled Experiments, ch. 18 (delta method)
    """
    return (
        treatment_var_of_mean / control_mean**2
        + treatment_mean**2 * control_var_of_mean / control_mean**4
    )


def _result(
    test: str,
    mc: float,
    vc: float,
    mt: float,
    vt: float,
    statistic: float,
    p_value: float,
    df: float,
    crit: float,
    alpha: float,
) -> ComparisonResult:
    diff = mt - mc
    se = math.sqrt(vc + vt)
    if mc != 0.0:
        lift = diff / mc
        rel_se = math.sqrt(relative_lift_variance(mc, vc, mt, vt))
        rel_low, rel_high = lift - crit * rel_se, lift + crit * rel_se
    else:  # no relative lift over a zero control mean
        lift = rel_low = rel_high = math.nan
    return ComparisonResult(
        test=test,
        control_mean=mc,
        treatment_mean=mt,
        difference=diff,
        ci_low=diff - crit * se,
        ci_high=diff + crit * se,
        relative_lift=lift,
        relative_ci_low=rel_low,
        relative_ci_high=rel_high,
        statistic=statistic,
        p_value=p_value,
        df=df,
        alpha=alpha,
    )


def two_proportion_ztest(
    control: Proportion, treatment: Proportion, *, alpha: float = 0.05
) -> ComparisonResult:
    """Two-sided z-test of two rates: pooled variance for the p-value, unpooled for the intervals.

    # z = (p_t - p_c) / sqrt(p (1 - p) (1/n_t + 1/n_c)), p pooled (Fleiss, Levin & Paik 2003, ch. 4)
    """
    _check_alpha(alpha)
    _check_sizes(control.n, treatment.n, 1)
    pc, pt = control.mean, treatment.mean
    pooled = (control.successes + treatment.successes) / (control.n + treatment.n)
    se0 = math.sqrt(pooled * (1.0 - pooled) * (1.0 / control.n + 1.0 / treatment.n))
    z = (pt - pc) / se0 if se0 > 0 else 0.0
    # scipy.special's ndtr / ndtri are what stats.norm.sf / isf compute, without their overhead
    p_value = float(2.0 * special.ndtr(-abs(z)))
    crit = float(-special.ndtri(alpha / 2.0))
    return _result(
        "two_proportion_z",
        pc,
        control.variance / control.n,
        pt,
        treatment.variance / treatment.n,
        z,
        p_value,
        math.inf,
        crit,
        alpha,
    )


def welch_ttest(
    control: SampleMean, treatment: SampleMean, *, alpha: float = 0.05
) -> ComparisonResult:
    """Welch's unequal-variance t-test of two means with Welch-Satterthwaite degrees of freedom.

    # t = (m_t - m_c) / sqrt(s_t^2/n_t + s_c^2/n_c); df of Welch (1947) and Satterthwaite (1946)
    """
    _check_alpha(alpha)
    _check_sizes(control.n, treatment.n, 2)
    vc = control.variance / control.n
    vt = treatment.variance / treatment.n
    se = math.sqrt(vc + vt)
    diff = treatment.mean - control.mean
    if se == 0.0:
        t, df, p_value = 0.0, float(control.n + treatment.n - 2), 1.0 if diff == 0 else 0.0
    else:
        t = diff / se
        df = (vc + vt) ** 2 / (vc**2 / (control.n - 1) + vt**2 / (treatment.n - 1))
        p_value = float(2.0 * special.stdtr(df, -abs(t)))  # stats.t.sf(|t|, df)
    crit = float(special.stdtrit(df, 1.0 - alpha / 2.0))  # stats.t.isf(alpha / 2, df)
    return _result("welch_t", control.mean, vc, treatment.mean, vt, t, p_value, df, crit, alpha)
