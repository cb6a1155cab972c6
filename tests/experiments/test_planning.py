"""Sample sizes equal statsmodels' power solvers on Cohen's h."""

from __future__ import annotations

import pytest
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power
from statsmodels.stats.proportion import proportion_effectsize

from memberlens.experiments.planning import power_two_sample_normal, sample_size_for_rate


@pytest.mark.parametrize(
    ("baseline", "mde", "power", "alpha"),
    [
        (0.03, 0.1, 0.8, 0.05),
        (0.2, 0.05, 0.9, 0.01),
        (0.5, 0.02, 0.8, 0.1),
        (0.01, 0.5, 0.95, 0.05),
    ],
)
def test_sample_size_equals_statsmodels(baseline, mde, power, alpha):
    plan = sample_size_for_rate(baseline=baseline, mde=mde, power=power, alpha=alpha)
    h = proportion_effectsize(baseline * (1 + mde), baseline)  # statsmodels Cohen's h
    assert plan.effect_size == pytest.approx(h, rel=1e-12)
    n_ref = zt_ind_solve_power(effect_size=h, alpha=alpha, power=power)  # statsmodels solver
    assert plan.n_per_arm_exact == pytest.approx(n_ref, rel=1e-6)
    assert power_two_sample_normal(h, 1234.5, alpha=alpha) == pytest.approx(
        NormalIndPower().power(h, nobs1=1234.5, alpha=alpha), rel=1e-12
    )
    assert plan.n_total == 2 * plan.n_per_arm


def test_duration_rounds_up_whole_days():
    plan = sample_size_for_rate(baseline=0.03, mde=0.1, power=0.8, daily=5000)
    assert plan.n_per_arm == 53182
    assert plan.days == 22  # 106 364 members at 5 000 a day


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"baseline": 1.2, "mde": 0.1}, "baseline must be a rate"),
        ({"baseline": 0.6, "mde": 1.0}, "choose a smaller mde"),
        ({"baseline": 0.1, "mde": -0.1}, "mde"),
        ({"baseline": 0.1, "mde": 0.1, "power": 0.01}, "alpha < power"),
        ({"baseline": 0.1, "mde": 0.1, "daily": 0}, "daily"),
        # found by the web fuzz test: a divide-by-zero warning leaked, then a useless answer
        ({"baseline": 0.5, "mde": 1e-300}, "choose a larger mde"),
        # and an overflow warning for a lift just above that (the closed form's square)
        ({"baseline": 1e-320, "mde": 0.5}, "needs more than 2e12 members per arm"),
        ({"baseline": 0.5, "mde": 1e-12}, "needs more than 2e12 members per arm"),
        ({"baseline": 0.03, "mde": 1e-7}, "needs more than 2e12 members per arm"),
    ],
)
def test_bad_plans_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_size_for_rate(**kwargs)
