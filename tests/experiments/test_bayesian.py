"""Bayesian read-outs against numerical integration (scipy.integrate.quad) and fixed-seed sampling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from memberlens.experiments.bayesian import (
    beta_binomial_readout,
    gaussian_readout,
    probability_beta_greater,
)
from memberlens.experiments.statistics import Proportion, SampleMean


@pytest.mark.parametrize(
    ("a1", "b1", "a2", "b2"), [(131, 871, 101, 901), (5, 20, 7, 18), (40, 60, 40, 60)]
)
def test_probability_equals_numerical_integration(a1, b1, a2, b2):
    # independent reference: P(X > Y) = int f_X(x) F_Y(x) dx by scipy.integrate.quad
    ref, _ = integrate.quad(
        lambda x: stats.beta.pdf(x, a1, b1) * stats.beta.cdf(x, a2, b2),
        0,
        1,
        points=[a1 / (a1 + b1), a2 / (a2 + b2)],
        limit=200,
    )
    assert probability_beta_greater(a1, b1, a2, b2) == pytest.approx(ref, abs=1e-9)


def test_beta_binomial_readout_equals_monte_carlo_within_its_error():
    r = beta_binomial_readout(Proportion(1000, 100), Proportion(1000, 130))
    rng = np.random.default_rng(10)
    c, t = rng.beta(101, 901, 1_000_000), rng.beta(131, 871, 1_000_000)
    # fixed-seed Monte Carlo with 1e6 draws: standard errors ~1.3e-4 (probability) and ~1e-5 (loss)
    assert r.probability_to_beat_control == pytest.approx((t > c).mean(), abs=6e-4)
    assert r.expected_loss == pytest.approx(np.maximum(c - t, 0).mean(), abs=5e-6)
    assert r.expected_loss_control == pytest.approx(np.maximum(t - c, 0).mean(), abs=1e-4)


def test_gaussian_readout_equals_closed_form_by_integration():
    rng = np.random.default_rng(11)
    c = SampleMean.from_values(rng.gamma(1.0, 50.0, 2000))
    t = SampleMean.from_values(rng.gamma(1.0, 53.0, 2000))
    r = gaussian_readout(c, t)
    mu = t.mean - c.mean
    s = np.sqrt(c.variance / c.n + t.variance / t.n)
    assert r.probability_to_beat_control == pytest.approx(stats.norm.sf(0, mu, s), rel=1e-12)
    loss, _ = integrate.quad(lambda d: -d * stats.norm.pdf(d, mu, s), -np.inf, 0)
    assert r.expected_loss == pytest.approx(loss, rel=1e-7)
    gain, _ = integrate.quad(lambda d: d * stats.norm.pdf(d, mu, s), 0, np.inf)
    assert r.expected_loss_control == pytest.approx(gain, rel=1e-7)


def test_symmetry_equal_arms_are_a_coin_flip():
    r = beta_binomial_readout(Proportion(500, 50), Proportion(500, 50))
    assert r.probability_to_beat_control == pytest.approx(0.5, abs=1e-9)
    assert r.expected_loss == pytest.approx(r.expected_loss_control, rel=1e-9)
