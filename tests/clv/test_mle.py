"""The optimiser on a likelihood with a known answer: a normal sample's mean and sd."""

from __future__ import annotations

import numpy as np
import pytest

from memberlens.clv._mle import maximize
from memberlens.exceptions import ConvergenceError


def _normal(sample):
    def loglik(theta):  # theta = log(mean), log(sd)
        mu, sd = np.exp(theta)
        return float(np.sum(-np.log(sd) - 0.5 * ((sample - mu) / sd) ** 2))

    return loglik


def test_normal_mle_and_standard_errors():
    sample = np.random.default_rng(3).normal(50.0, 4.0, 5_000)
    fit = maximize(_normal(sample), np.log([10.0, 1.0]))
    mean, sd = sample.mean(), sample.std()
    assert fit.params == pytest.approx([mean, sd], rel=1e-7)
    # textbook: se(mean) = sd / sqrt(n), se(sd) = sd / sqrt(2n)
    assert fit.standard_errors == pytest.approx(
        [sd / np.sqrt(5_000), sd / np.sqrt(10_000)], rel=1e-3
    )


def test_divergence_is_reported():
    with pytest.raises(ConvergenceError, match="did not converge"):
        maximize(lambda theta: float(np.sum(theta) * 1e3), np.zeros(2), max_iter=2)


def test_unidentified_parameters_are_named():
    # donations rows with an odd index only: no sign of drop-out, gamma and delta run off
    from memberlens.clv import BetaGeoBetaBinomModel
    from memberlens.datasets import load_donations

    data = load_donations()
    with pytest.raises(ConvergenceError, match=r"number \[3, 4\] run off"):
        BetaGeoBetaBinomModel().fit(data[data.index % 2 == 1])


def test_newton_route_matches_the_lbfgs_route():
    # BG/NBD on simulated members: the damped Newton search (analytic Hessian) and L-BFGS-B with
    # the analytic gradient (its Hessian by differences) must find the same optimum and SEs
    from memberlens.clv import _likelihoods as lk
    from memberlens.clv._mle import log_scale_hessian
    from memberlens.clv.simulation import simulate_beta_geo

    summary = simulate_beta_geo(
        5_000, r=0.25, alpha=4.0, a=0.8, b=2.5, T=52.0, rng=np.random.default_rng(11)
    )
    rows = lk.Rows.from_arrays(
        *(summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")),
        np.ones(len(summary)),
    )

    def loglik(theta):
        return lk.beta_geo(np.exp(theta), rows, gradient=False)[0]

    def value_and_gradient(theta):
        value, grad = lk.beta_geo(np.exp(theta), rows)
        return value, np.exp(theta) * grad

    def value_gradient_hessian(theta):
        params = np.exp(theta)
        value, grad, hess = lk.beta_geo(params, rows, hessian=True)
        return value, params * grad, log_scale_hessian(params, grad, hess)

    start = np.log([1.0, 52.0, 1.0, 1.0])
    newton = maximize(loglik, start, value_gradient_hessian=value_gradient_hessian)
    lbfgs = maximize(loglik, start, value_and_gradient=value_and_gradient)
    assert newton.params == pytest.approx(lbfgs.params, rel=1e-6)
    assert newton.log_likelihood == pytest.approx(lbfgs.log_likelihood, abs=1e-6)
    assert newton.standard_errors == pytest.approx(lbfgs.standard_errors, rel=1e-4)
    assert loglik(np.log(newton.params)) == pytest.approx(newton.log_likelihood, abs=1e-6)
