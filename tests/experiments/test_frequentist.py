"""Fixed-horizon tests pinned to statsmodels and to GrowthBook's gbstats test values."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from memberlens.experiments.frequentist import two_proportion_ztest, welch_ttest
from memberlens.experiments.statistics import Proportion, SampleMean


@pytest.mark.parametrize(
    ("nc", "sc", "nt", "st"), [(1000, 100, 1000, 130), (5321, 162, 4980, 171), (300, 45, 410, 50)]
)
def test_two_proportion_z_equals_statsmodels(nc, sc, nt, st):
    r = two_proportion_ztest(Proportion(nc, sc), Proportion(nt, st))
    # statsmodels.stats.proportion.proportions_ztest (pooled variance, two-sided)
    z, p = proportions_ztest([st, sc], [nt, nc])
    assert r.statistic == pytest.approx(z, rel=1e-9)
    assert r.p_value == pytest.approx(p, rel=1e-9)
    # statsmodels confint_proportions_2indep(method="wald", compare="diff")
    low, high = confint_proportions_2indep(st, nt, sc, nc, method="wald", compare="diff")
    assert (r.ci_low, r.ci_high) == pytest.approx((low, high), rel=1e-9)
    assert r.difference == pytest.approx(st / nt - sc / nc, rel=1e-12)


def test_welch_t_equals_statsmodels_unequal_variance():
    rng = np.random.default_rng(3)
    c = rng.gamma(1.2, 50.0, size=800)
    t = rng.gamma(1.2, 56.0, size=650)
    r = welch_ttest(SampleMean.from_values(c), SampleMean.from_values(t))
    # statsmodels.stats.weightstats.ttest_ind(usevar="unequal")
    stat, p, df = ttest_ind(t, c, usevar="unequal")
    assert r.statistic == pytest.approx(stat, rel=1e-9)
    assert r.p_value == pytest.approx(p, rel=1e-9)
    assert r.df == pytest.approx(df, rel=1e-9)
    low, high = CompareMeans(DescrStatsW(t), DescrStatsW(c)).tconfint_diff(usevar="unequal")
    assert (r.ci_low, r.ci_high) == pytest.approx((low, high), rel=1e-9)


def _from_summary(mean: float, sd: float, n: int) -> SampleMean:
    return SampleMean(n=n, sum=mean * n, sum_squares=(n - 1) * sd**2 + n * mean**2)


def test_difference_and_relative_lift_equal_gbstats_test_values():
    # GrowthBook gbstats, packages/stats/tests/frequentist/test_tests.py (test_two_sided_ttest):
    # control 0.41 (sd 3.9, n 3407), treatment 0.70 (sd 6.2, n 3461). The older version of that
    # test pins the absolute difference: CI [0.04538, 0.53462], p 0.02016; the newer one the
    # relative lift 0.70732 with delta-method sd 0.37879 and CI [-0.03526, 1.44989] (5 decimals).
    r = welch_ttest(_from_summary(0.41, 3.9, 3407), _from_summary(0.70, 6.2, 3461))
    assert (r.ci_low, r.ci_high) == pytest.approx((0.04538, 0.53462), abs=5e-6)
    assert r.p_value == pytest.approx(0.02016, abs=5e-6)
    assert r.relative_lift == pytest.approx(0.70732, abs=5e-6)
    assert r.relative_ci_low == pytest.approx(-0.03526, abs=5e-6)
    assert r.relative_ci_high == pytest.approx(1.44989, abs=5e-6)


def test_relative_lift_ci_covers_the_true_lift():
    # simulate-then-recover: 95 % delta-method intervals cover the true relative lift ~95 % of the time
    rng = np.random.default_rng(4)
    n, pc, pt, reps = 4000, 0.10, 0.12, 400
    sc = rng.binomial(n, pc, reps)
    st = rng.binomial(n, pt, reps)
    covered = [
        (r := two_proportion_ztest(Proportion(n, int(a)), Proportion(n, int(b)))).relative_ci_low
        <= pt / pc - 1
        <= r.relative_ci_high
        for a, b in zip(sc, st)
    ]
    assert 0.92 <= np.mean(covered) <= 0.98


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        two_proportion_ztest(Proportion(10, 1), Proportion(10, 2), alpha=1.5)
    with pytest.raises(ValueError, match="at least 2 members"):
        welch_ttest(SampleMean.from_values([1.0]), SampleMean.from_values([1.0, 2.0]))
