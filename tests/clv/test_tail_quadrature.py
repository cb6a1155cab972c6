"""The Pareto/NBD tail by trapezoidal quadrature (memberlens.clv._tail_quadrature) against
mpmath's 2F1 (tests/reference/pareto_tail_mpmath.json), its derivatives against differences,
and the likelihood's use of it where scipy's 2F1 is slow (z near 1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from memberlens.clv import _likelihoods as lk
from memberlens.clv._tail_quadrature import pareto_log_tail_quadrature

REFERENCE = json.loads(
    (Path(__file__).parents[1] / "reference" / "pareto_tail_mpmath.json").read_text()
)


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: f"beta={c['beta']:g}")
def test_quadrature_matches_mpmath_hyp2f1(case):
    # mpmath hyp2f1 at 40 digits: the quadrature agrees to ~1e-14 everywhere, also where scipy's
    # 2F1 drifts to 1e-10 (z = 0.99999)
    x, t = np.array(REFERENCE["x"]), np.array(REFERENCE["t"])
    found = pareto_log_tail_quadrature(case["r"], case["s"], case["alpha"], case["beta"], x, t)
    np.testing.assert_allclose(found, case["log_tail"], rtol=1e-13)


@pytest.mark.parametrize(
    "params",
    [(0.446, 6e-5, 11.933, 126662.0), (0.5, 0.6, 0.3, 40.0), (2.0, 0.3, 50.0, 0.2)],
)
def test_quadrature_derivatives_match_central_differences(params):
    x = np.array([0.0, 0.0, 1.0, 4.0, 30.0, 706.0])
    t = np.array([0.0, 80.0, 20.0, 3.0, 60.0, 100.0])
    r, s, alpha, beta = params
    _, grad = pareto_log_tail_quadrature(r, s, alpha, beta, x, t, gradient=True)
    values = np.array([r, alpha, s, beta])
    for k in range(4):  # order (r, alpha, s, beta)
        step = 1e-5 * max(values[k], 1e-2)  # not smaller: the tails reach -3,000
        up, down = values.copy(), values.copy()
        up[k] += step
        down[k] -= step
        numeric = (
            pareto_log_tail_quadrature(up[0], up[2], up[1], up[3], x, t)
            - pareto_log_tail_quadrature(down[0], down[2], down[1], down[3], x, t)
        ) / (2 * step)
        np.testing.assert_allclose(grad[k], numeric, rtol=1e-6, atol=1e-6)


def test_far_pairs_use_the_quadrature_in_value_and_gradient():
    # beta far above alpha (a fit running to "nobody leaves"): every pair has z > 0.9; the
    # value-only and the gradient routes give the same total, and it matches the per-row
    # likelihood (scipy's 2F1 route) to its precision
    rng = np.random.default_rng(3)
    x = rng.integers(0, 20, 400).astype(float)
    T = rng.uniform(10, 100, 400)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, 400), 0.0)
    rows = lk.Rows.from_arrays(x, t_x, T, np.ones(400))
    pairs = lk.TailPairs.from_rows(rows)
    params = np.array([0.45, 12.0, 1e-4, 1e5])
    assert np.all(lk._pair_z(params[1], params[3], pairs.t) > lk._QUADRATURE_MIN_Z)
    value = lk.pareto_nbd(params, rows, pairs)
    assert lk.pareto_nbd(params, rows, pairs, gradient=True)[0] == value
    per_row = lk.pareto_nbd_rows(params, rows.x, rows.t_x, rows.T)
    assert value == pytest.approx(float(per_row.sum()), rel=1e-12)
