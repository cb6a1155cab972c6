"""The log-likelihood functions: analytic gradients against finite differences, and each
likelihood against its definition (a probability over all possible histories sums to one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.optimize import check_grad
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
    plain = np.exp(betaln(a, b + x) - betaln(a, b)) * common / (alpha + T) ** (r + x) + np.exp(
        betaln(a + 1, b + x - 1) - betaln(a, b)
    ) * common / (alpha + t_x) ** (r + x)
    one = lk.Rows.from_arrays(np.array([x]), np.array([t_x]), np.array([T]), np.ones(1))
    assert lk.beta_geo(np.array([r, alpha, a, b]), one, gradient=False)[0] == pytest.approx(
        np.log(plain), rel=1e-12
    )


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
        return np.exp(
            lk.gamma_gamma(
                params, lk.Spend.from_arrays(np.array([4.0]), np.array([v]), np.ones(1))
            )[0]
        )

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


# -- analytic derivatives (scipy.optimize.check_grad against finite differences) -------------


def _check_grad_relative(value, gradient, theta, epsilon=1e-7):
    """scipy.optimize.check_grad's error (2-norm of analytic - forward differences), relative
    to the gradient's size."""
    return check_grad(value, gradient, theta, epsilon=epsilon) / max(
        np.linalg.norm(gradient(theta)), 1.0
    )


@pytest.fixture(scope="module")
def heavy_rows():
    """Rows like the module's, plus members with hundreds of repeat purchases and one whose last
    purchase is on the last day (t_x == T, so A0 = 0)."""
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.integers(0, 40, 300), [550, 700, 800, 900, 12]]).astype(float)
    T = np.concatenate([rng.uniform(1, 60, 300), [40.0, 40.0, 45.0, 50.0, 30.0]])
    t_x = np.where(x > 0, T * rng.uniform(0, 1, x.size), 0.0)
    t_x[-1] = T[-1]
    return lk.Rows.from_arrays(x, t_x, T, rng.integers(1, 5, x.size).astype(float))


@pytest.mark.parametrize(
    "params",
    [
        [0.55, 10.5, 0.6, 11.7],  # alpha < beta, every pair on the power series (CDNOW-like)
        [0.55, 11.7, 0.6, 10.5],  # alpha > beta: the other Euler form
        [0.5, 0.3, 0.6, 40.0],  # z up to 0.99: scipy's 2F1 with differences in r and s
        [8.0, 0.5, 0.5, 40.0],  # the stress test's heavy buyers
        [2.0, 50.0, 0.3, 0.2],
    ],
)
def test_pareto_nbd_gradient_passes_check_grad(heavy_rows, params):
    pairs = lk.TailPairs.from_rows(heavy_rows)

    def value(theta):
        return lk.pareto_nbd(np.exp(theta), heavy_rows, pairs)

    def gradient(theta):
        return np.exp(theta) * lk.pareto_nbd(np.exp(theta), heavy_rows, pairs, gradient=True)[1]

    theta = np.log(params)
    assert lk.pareto_nbd(np.exp(theta), heavy_rows, pairs, gradient=True)[0] == value(theta)
    assert _check_grad_relative(value, gradient, theta) < 1e-5
    # and against central differences, much tighter
    np.testing.assert_allclose(
        gradient(theta), central_gradient(value, theta), rtol=1e-6, atol=1e-6
    )


def test_pareto_tail_series_matches_scipy_hyp2f1():
    # the power series route (z <= 1/2) against scipy's 2F1 and against finite differences of it
    from memberlens.clv._likelihoods import _tail_series

    x = np.array([0.0, 1.0, 3.0, 40.0, 800.0])
    t = np.array([0.0, 2.0, 5.0, 10.0, 30.0])
    x_values, x_index = np.unique(x, return_inverse=True)
    for r, alpha, s, beta in [
        (0.55, 10.5, 0.6, 11.7),
        (0.55, 11.7, 0.6, 10.5),
        (1.3, 3.0, 0.2, 5.5),
    ]:
        log_a, log_b = np.log(alpha + t), np.log(beta + t)
        z = abs(alpha - beta) / (max(alpha, beta) + t)
        tail, grad = _tail_series(r, s, alpha, beta, x, x_values, x_index, t, z, log_a, log_b)
        assert tail == pytest.approx(lk.pareto_log_tail(r, s, alpha, beta, x, t), rel=1e-13)
        params = np.array([r, alpha, s, beta])
        for k in range(4):
            up, down = params.copy(), params.copy()
            up[k] += 1e-5
            down[k] -= 1e-5
            numeric = (
                lk.pareto_log_tail(up[0], up[2], up[1], up[3], x, t)
                - lk.pareto_log_tail(down[0], down[2], down[1], down[3], x, t)
            ) / 2e-5
            np.testing.assert_allclose(grad[k], numeric, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("modified", [False, True])
def test_beta_geo_hessian_passes_check_grad(rows, modified):
    params = np.array([0.4, 3.0, 0.8, 2.5])
    hessian = lk.beta_geo(params, rows, modified=modified, hessian=True)[2]
    for k in range(4):  # row k of the Hessian is the gradient of the k-th gradient component

        def component(p, k=k):
            return lk.beta_geo(p, rows, modified=modified)[1][k]

        def row(p, k=k):
            return lk.beta_geo(p, rows, modified=modified, hessian=True)[2][k]

        assert check_grad(component, row, params, epsilon=1e-7) < 1e-5 * max(
            np.linalg.norm(hessian[k]), 1.0
        )


def test_gamma_gamma_hessian_passes_check_grad():
    rng = np.random.default_rng(7)
    data = lk.Spend.from_arrays(
        rng.integers(1, 20, 200).astype(float),
        rng.gamma(3.0, 10.0, 200),
        rng.integers(1, 4, 200) * 1.0,
    )
    params = np.array([6.0, 3.5, 15.0])
    hessian = lk.gamma_gamma(params, data, hessian=True)[2]
    for k in range(3):

        def component(p, k=k):
            return lk.gamma_gamma(p, data)[1][k]

        def row(p, k=k):
            return lk.gamma_gamma(p, data, hessian=True)[2][k]

        assert check_grad(component, row, params, epsilon=1e-7) < 1e-5 * max(
            np.linalg.norm(hessian[k]), 1.0
        )


def test_expectations_stay_finite_when_a_and_b_are_in_the_thousands():
    # a line-level export (tests/data/online_retail, issue 14) fitted MBG/NBD with a = 1191,
    # b = 14746 (a drop-out probability pinned near 7.5 %): Euler's form of the 2F1 overflowed
    # and expected purchases came out -inf, which emptied every CLV. Reference: the original
    # series of Batislam et al. (2007), eq. 7, summed term by term in plain Python
    import math

    from memberlens.clv import ModifiedBetaGeoModel

    r, alpha, a, b = 1.461614238424008, 3.644745205167122, 1191.15365383345, 14745.726006910962
    x, t_x, T, t = 7, 9.0, 11.571428571428571, 90 / 7

    def series(A, B, C, z):
        total, term, j = 1.0, 1.0, 0
        while term > 1e-17 * total:
            term *= (A + j) * (B + j) / ((C + j) * (j + 1)) * z
            total += term
            j += 1
        return total

    z = t / (alpha + T + t)
    c = a + b + x
    alive = 1 / (1 + a / (b + x) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    expected = c / (a - 1) * (1 - (1 - z) ** (r + x) * series(r + x, b + x + 1, c, z)) * alive
    model = ModifiedBetaGeoModel()
    model.params_ = pd.Series({"r": r, "alpha": alpha, "a": a, "b": b})
    model.by_ = None
    one = pd.DataFrame({"member_id": ["m"], "frequency": [x], "recency": [t_x], "T": [T]})
    got = model.expected_purchases(one, horizon=t).iloc[0]
    assert math.isfinite(got) and got == pytest.approx(expected, rel=1e-9)
