"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005 MATLAB note).

While active a member buys at Poisson rate lambda ~ Gamma(r, alpha) and stays active for an
exponential lifetime of rate mu ~ Gamma(s, beta).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, roots_legendre
from scipy.stats import nbinom

from memberlens.clv import _likelihoods
from memberlens.clv._mle import MaximumLikelihood, maximize
from memberlens.clv._purchase import PurchaseModel
from memberlens.clv._summary import compress

__all__ = ["ParetoNBDModel"]

_LEGENDRE_NODES, _LEGENDRE_WEIGHTS = roots_legendre(64)


def _one_minus_power_over(y, e):
    """(1 - y^e) / e, with its limit -log(y) at e = 0."""
    e = np.asarray(e, dtype=float)
    safe = np.where(np.abs(e) < 1e-12, 1.0, e)
    return np.where(np.abs(e) < 1e-12, -np.log(y), -np.expm1(e * np.log(y)) / safe)


class ParetoNBDModel(PurchaseModel):
    """Pareto/NBD purchase model; ``params_``: r, alpha, s, beta.

    Settings: ``initial_params`` (dict of starting values), ``max_iter``.
    """

    _param_names = ("r", "alpha", "s", "beta")

    def _fit_arrays(self, arrays) -> MaximumLikelihood:
        data = compress(arrays, self._columns)
        rows = _likelihoods.Rows.from_compressed(data)
        # Start: the mean purchase rate r / alpha = repeat purchases per unit of age and a mean
        # lifetime beta / (s - 1) of the order of the observed ages, with r = s = 0.5. Only a
        # starting point.
        mean_t = float(np.average(rows.T, weights=rows.weights)) or 1.0
        mean_x = max(float(np.average(rows.x, weights=rows.weights)), 0.1)
        start = self._start(
            {
                "r": 0.5,
                "alpha": max(0.5 * mean_t / mean_x, 1e-3),
                "s": 0.5,
                "beta": max(0.5 * mean_t, 1e-3),
            }
        )

        pairs = _likelihoods.TailPairs.from_rows(rows)

        def loglik(theta):
            return _likelihoods.pareto_nbd(np.exp(theta), rows, pairs)

        def value_and_gradient(theta):
            params = np.exp(theta)
            value, grad = _likelihoods.pareto_nbd(params, rows, pairs, gradient=True)
            return value, params * grad

        return maximize(
            loglik,
            start,
            value_and_gradient=value_and_gradient,
            max_iter=self.max_iter,
            who=type(self).__name__,
        )

    # Fader & Hardie (2005, MATLAB note), eq. 24 (P(alive) = first term of eq. 22 / L).
    def _alive(self, p, x, t_x, T):
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        log_a0 = _likelihoods.pareto_log_a0(r, s, alpha, beta, x, t_x, T)
        log_odds = (
            np.log(s)
            - np.log(r + s + x)
            + (r + x) * np.log(alpha + T)
            + s * np.log(beta + T)
            + log_a0
        )
        return expit(-log_odds)

    # Fader & Hardie (2005, MATLAB note), eq. 25 (conditional expectation).
    def _expected(self, p, x, t_x, T, t):
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        y = (beta + T) / (beta + T + t)
        return (
            (r + x)
            * (beta + T)
            / (alpha + T)
            * _one_minus_power_over(y, s - 1)
            * self._alive(p, x, t_x, T)
        )

    # Schmittlein, Morrison & Colombo (1987), eq. 17 (E[X(t)] of a new member).
    def _new_member(self, p, t):
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        return r * beta / alpha * _one_minus_power_over(beta / (beta + t), s - 1)

    # P(X(t) = n): Fader, Hardie & Lee (2005, "Deriving ... the Pareto/NBD"), eq. 18 written as
    # E over the lifetime tau of the NBD count to min(tau, t); the integral over the lifetime's
    # CDF u = 1 - (beta / (beta + tau))^s is done by 64-point Gauss-Legendre.
    def _pmf(self, p, n, t):
        r, alpha, s, beta = (np.asarray(p[k], dtype=float) for k in ("r", "alpha", "s", "beta"))
        survive = (beta / (beta + t)) ** s
        alive_part = survive * nbinom.pmf(n, r, alpha / (alpha + t))
        u_end = 1.0 - survive
        u = np.asarray(u_end)[..., None] * (_LEGENDRE_NODES + 1.0) / 2.0
        tau = beta[..., None] * np.expm1(-np.log1p(-u) / s[..., None])
        dead = nbinom.pmf(n, r[..., None], alpha[..., None] / (alpha[..., None] + tau))
        return alive_part + u_end / 2.0 * np.sum(dead * _LEGENDRE_WEIGHTS, axis=-1)
