"""CUPED on a constructed set: theta equals the paper's cov/var, and the adjusted test is exact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from memberlens.experiments.cuped import cuped_adjusted, cuped_theta
from memberlens.experiments.frequentist import welch_ttest
from memberlens.experiments.statistics import PairedSampleMean, SampleMean


def _arms(seed: int = 8):
    rng = np.random.default_rng(seed)
    n = 3000
    pre_c, pre_t = rng.gamma(2.0, 25.0, n), rng.gamma(2.0, 25.0, n)
    post_c = 0.8 * pre_c + rng.normal(0, 20, n)
    post_t = 0.8 * pre_t + rng.normal(0, 20, n) + 3.0
    return post_c, pre_c, post_t, pre_t


def test_theta_equals_deng_et_al_formula_and_adjusted_welch_equals_scipy():
    post_c, pre_c, post_t, pre_t = _arms()
    c = PairedSampleMean.from_values(post_c, pre_c)
    t = PairedSampleMean.from_values(post_t, pre_t)
    theta = cuped_theta([c, t])
    # Deng, Xu, Kohavi & Walker (2013), eq. 3: theta = cov(Y, X) / var(X), both arms pooled
    y, x = np.concatenate([post_c, post_t]), np.concatenate([pre_c, pre_t])
    assert theta == pytest.approx(np.cov(y, x)[0, 1] / np.var(x, ddof=1), rel=1e-9)

    xbar = x.mean()
    adj_c, adj_t = cuped_adjusted(c, theta, xbar), cuped_adjusted(t, theta, xbar)
    explicit_c, explicit_t = post_c - theta * (pre_c - xbar), post_t - theta * (pre_t - xbar)
    assert adj_c.variance == pytest.approx(np.var(explicit_c, ddof=1), rel=1e-9)
    r = welch_ttest(adj_c, adj_t)
    ref = stats.ttest_ind(explicit_t, explicit_c, equal_var=False)  # scipy Welch on Y_cv
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-6)


def test_cuped_keeps_the_effect_and_shrinks_the_variance_by_rho_squared():
    post_c, pre_c, post_t, pre_t = _arms(9)
    c = PairedSampleMean.from_values(post_c, pre_c)
    t = PairedSampleMean.from_values(post_t, pre_t)
    theta = cuped_theta([c, t])
    xbar = np.concatenate([pre_c, pre_t]).mean()
    plain = welch_ttest(SampleMean.from_values(post_c), SampleMean.from_values(post_t))
    adjusted = welch_ttest(cuped_adjusted(c, theta, xbar), cuped_adjusted(t, theta, xbar))
    rho = np.corrcoef(post_c, pre_c)[0, 1]
    ratio = cuped_adjusted(c, theta, xbar).variance / c.post.variance
    assert ratio == pytest.approx(1 - rho**2, abs=0.02)  # Deng et al. (2013): var * (1 - rho^2)
    # the interval narrows by sqrt(1 - rho^2) ~ 0.58 here
    assert adjusted.ci_high - adjusted.ci_low < 0.65 * (plain.ci_high - plain.ci_low)
    se = (adjusted.ci_high - adjusted.ci_low) / (2 * 1.96)
    assert (
        abs(adjusted.difference - 3.0) < 3.5 * se
    )  # the planted effect, within 3.5 standard errors


def test_constant_pre_period_is_refused():
    c = PairedSampleMean.from_values([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="constant"):
        cuped_theta([c])
