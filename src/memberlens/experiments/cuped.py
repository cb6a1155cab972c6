"""CUPED: variance reduction with a pre-period covariate (e.g. each member's spend before).

``y_adj = y - theta (x - mean(x))`` keeps each arm's expected difference and removes the part of
the variance that the pre-period explains (a share ``rho^2``). ``theta`` is estimated once from
both arms pooled, so the same adjustment applies to each arm.
"""

from __future__ import annotations

from collections.abc import Sequence

from memberlens.experiments.statistics import PairedSampleMean, SampleMean

__all__ = ["cuped_adjusted", "cuped_theta"]


def cuped_theta(arms: Sequence[PairedSampleMean]) -> float:
    """``theta = cov(y, x) / var(x)`` over all arms pooled.

    # Deng, Xu, Kohavi & Walker (2013), WSDM, eq. 3: theta = cov(Y, X) / var(X)
    """
    total = arms[0]
    for arm in arms[1:]:
        total = total + arm
    if total.n < 2:
        raise ValueError(f"CUPED needs at least 2 members, found {total.n}")
    cov = (total.sum_products - total.sum * total.pre_sum / total.n) / (total.n - 1)
    var_x = total.pre.variance
    if var_x <= 0.0:
        raise ValueError("CUPED: the pre-period metric is constant, so it explains nothing")
    return cov / var_x


def cuped_adjusted(arm: PairedSampleMean, theta: float, pre_mean: float) -> SampleMean:
    """The statistics of ``y - theta (x - pre_mean)`` for one arm, computed from its sums exactly.

    ``pre_mean`` is the pooled pre-period mean (the same for all arms), so the adjusted arms can go
    straight into :func:`~memberlens.experiments.frequentist.welch_ttest`.

    # Deng et al. (2013), eq. 4: Y_cv = Y - theta (X - E X)
    """
    n, c = arm.n, theta * pre_mean
    adj_sum = arm.sum - theta * arm.pre_sum + n * c
    # sum (y - theta x + c)^2, expanded
    adj_sq = (
        arm.sum_squares
        + theta**2 * arm.pre_sum_squares
        + n * c**2
        - 2.0 * theta * arm.sum_products
        + 2.0 * c * arm.sum
        - 2.0 * theta * c * arm.pre_sum
    )
    return SampleMean(n=n, sum=adj_sum, sum_squares=adj_sq)
