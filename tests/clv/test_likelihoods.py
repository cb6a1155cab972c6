"""The log-likelihood functions: analytic gradients against finite differences, and each
likelihood against its definition (a probability over all possible histories sums to one)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import betaln, gammaln

from memberlens.clv import _likelihoods as lk
from memberlens.clv._mle import central_gradient


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 40, 300).astype(float)
    T = rng.uniform(1, 60, 300)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, 300), 0.0)
    return lk.Rows.from_arrays(x, t_x, T, rng.integers(1, 5, 300).astype(float))


@pytest.mark.parametrize("modified", [False, True])
def test_beta_geo_gradient_matches_finite_differences(rows, modified):
    params = np.array([0.4, 3.0, 0.8, 2.5])
    _, grad = lk.beta_geo(params, rows, modified=modified)

    def loglik(theta):
        return lk.beta_geo(np.exp(theta), rows, modified=modified, gradient=False)[0]

    np.testing.assert_allclose(params * grad, central_gradient(loglik, np.log(params)), rtol=1e-6)


def test_beta_geo_matches_fhl_eq_6_written_plainly():
    # FHL (2005) eq. 6 without logs, for one small history
    r, alpha, a, b, x, t_x, T = 0.5, 3.0, 0.8, 2.5, 3.0, 10.0, 20.0
    common = np.exp(gammaln(r + x) - gammaln(r)) * alpha**r
    plain = (np.exp(betaln(a, b + x) - betaln(a, b)) * common / (alpha + T) ** (r + x)
             + np.exp(betaln(a + 1, b + x - 1) - betaln(a, b)) * common / (alpha + t_x) ** (r + x))
    one = lk.Rows.from_arrays(np.array([x]), np.array([t_x]), np.array([T]), np.ones(1))
    assert lk.beta_geo(np.array([r, alpha, a, b]), one, gradient=False)[0] == pytest.approx(
        np.log(plain), rel=1e-12)


def test_gamma_gamma_gradient_and_density():
    rng = np.random.default_rng(7)
    x = rng.integers(1, 20, 200).astype(float)
    m = rng.gamma(3.0, 10.0, 200)
    params = np.array([6.0, 3.5, 15.0])
    data = lk.Spend.from_arrays(x, m, np.ones(200))
    _, grad = lk.gamma_gamma(params, data)

    def loglik(theta):
        return lk.gamma_gamma(np.exp(theta), data)[0]

    np.testing.assert_allclose(params * grad, central_gradient(loglik, np.log(params)), rtol=1e-6)
    # Fader & Hardie (2013) eq. 3 is a density in m_x: it integrates to one
    def density(v):
        return np.exp(lk.gamma_gamma(params, lk.Spend.from_arrays(np.array([4.0]),
                                                                  np.array([v]), np.ones(1)))[0])

    total = quad(density, 0, np.inf)[0]
    assert total == pytest.approx(1.0, abs=1e-8)


def test_bgbb_likelihood_is_a_distribution_over_histories():
    # FHS (2010) eq. 5 gives P(x, t_x | n); over all (x, t_x) with 0 <= x <= t_x <= n, counting
    # the C(t_x - 1, x - 1) purchase patterns of each, it sums to one.
    from scipy.special import comb

    n = 6
    xs, txs, counts = [0.0], [0.0], [1.0]
    for t_x in range(1, n + 1):
        for x in range(1, t_x + 1):
            xs.append(x)
            txs.append(t_x)
            counts.append(comb(t_x - 1, x - 1))
    xs, txs = np.array(xs), np.array(txs)
    rows = lk.beta_geo_beta_binom_rows([1.2, 0.75, 0.66, 2.8], xs, txs, np.full(xs.size, n))
    assert np.sum(np.array(counts) * np.exp(rows)) == pytest.approx(1.0, abs=1e-12)


def test_pareto_rows_match_the_sum_of_their_parts(rows):
    params = np.array([0.55, 10.5, 0.6, 11.7])
    pairs = lk.TailPairs.from_rows(rows)
    total = lk.pareto_nbd(params, rows, pairs)
    per_row = lk.pareto_nbd_rows(params, rows.x, rows.t_x, rows.T)
    assert total == pytest.approx(np.dot(rows.weights, per_row), rel=1e-12)
