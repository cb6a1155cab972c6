"""BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam, Denizel & Filiztekin 2007).

While active a member buys at Poisson rate lambda ~ Gamma(r, alpha); after each repeat purchase
(MBG/NBD: also right after the first one) the member drops out with probability p ~ Beta(a, b).

>>> import numpy as np
>>> from memberlens.clv import BetaGeoModel
>>> from memberlens.clv.simulation import simulate_beta_geo
>>> summary = simulate_beta_geo(20_000, r=0.25, alpha=4.0, a=0.8, b=2.5, T=52.0,
...                             rng=np.random.default_rng(0))
>>> model = BetaGeoModel().fit(summary)
>>> sorted(model.params_.index)
['a', 'alpha', 'b', 'r']
>>> bool(abs(model.params_["r"] - 0.25) < 3 * model.standard_errors_["r"])
True
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, expit
from scipy.stats import nbinom

from memberlens.clv import _likelihoods
from memberlens.clv._mle import MaximumLikelihood, log_scale_hessian, maximize
from memberlens.clv._purchase import PurchaseModel
from memberlens.clv._summary import compress

__all__ = ["BetaGeoModel", "ModifiedBetaGeoModel"]


class BetaGeoModel(PurchaseModel):
    """BG/NBD purchase model; ``params_``: r, alpha, a, b.

    Settings: ``initial_params`` (dict of starting values), ``max_iter``.
    """

    _param_names = ("r", "alpha", "a", "b")
    _modified = False

    def _fit_arrays(self, arrays) -> MaximumLikelihood:
        data = compress(arrays, self._columns)
        rows = _likelihoods.Rows.from_compressed(data)
        # Start: the mean purchase rate r / alpha = repeat purchases per unit of age, with
        # r = 0.5 (rates vary a lot between members) and a 25 % chance of dropping out after a
        # purchase (a = 1, b = 3). Only a starting point: Newton's method takes it from there.
        mean_t = float(np.average(rows.T, weights=rows.weights)) or 1.0
        mean_x = max(float(np.average(rows.x, weights=rows.weights)), 0.1)
        start = self._start(
            {"r": 0.5, "alpha": max(0.5 * mean_t / mean_x, 1e-3), "a": 1.0, "b": 3.0}
        )

        def loglik(theta):
            return _likelihoods.beta_geo(
                np.exp(theta), rows, modified=self._modified, gradient=False
            )[0]

        def value_gradient_hessian(theta):
            params = np.exp(theta)
            value, grad, hess = _likelihoods.beta_geo(
                params, rows, modified=self._modified, hessian=True
            )
            return value, params * grad, log_scale_hessian(params, grad, hess)

        return maximize(
            loglik,
            start,
            value_gradient_hessian=value_gradient_hessian,
            max_iter=self.max_iter,
            who=type(self).__name__,
        )

    # Fader, Hardie & Lee (2005), eq. 13 (P(alive)).
    def _alive(self, p, x, t_x, T):
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (
                np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
            )
        return np.where(x > 0, expit(-log_odds), 1.0)

    # Fader, Hardie & Lee (2005), eq. 10, with Euler's transformation of 2F1 so that members with
    # hundreds of purchases do not overflow: (1-z)^(r+x) 2F1(r+x, b+x; c; z)
    # = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z).
    def _expected(self, p, x, t_x, T, t):
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        c = a + b + x - 1
        z = t / (alpha + T + t)
        # degenerate fits (a tiny shop) can give inf * 0 here: a missing value, not a warning
        # on the user's console
        with np.errstate(invalid="ignore", over="ignore"):
            bracket = _likelihoods.survival_bracket(r + x, b + x, c, z)
            return c / (a - 1) * bracket * self._alive(p, x, t_x, T)

    # Fader, Hardie & Lee (2005), eq. 9, transformed as in eq. 10 above.
    def _new_member(self, p, t):
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        z = t / (alpha + t)
        return (a + b - 1) / (a - 1) * _likelihoods.survival_bracket(r, b, a + b - 1, z)

    # Fader, Hardie & Lee (2005), eq. 8: the inner sum is a negative binomial survival function.
    def _pmf(self, p, n, t):
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        q = alpha / (alpha + t)
        stay = np.exp(betaln(a, b + n) - betaln(a, b)) * nbinom.pmf(n, r, q)
        if n == 0:
            return stay
        return stay + np.exp(betaln(a + 1, b + n - 1) - betaln(a, b)) * nbinom.sf(n - 1, r, q)


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD purchase model (members may drop out right after the first purchase);
    ``params_``: r, alpha, a, b."""

    _modified = True

    # Batislam, Denizel & Filiztekin (2007), eq. 6 (P(alive), for every x including 0).
    def _alive(self, p, x, t_x, T):
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        log_odds = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return expit(-log_odds)

    # Batislam, Denizel & Filiztekin (2007), eq. 7, with the Euler transformation of 2F1.
    def _expected(self, p, x, t_x, T, t):
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        c = a + b + x
        z = t / (alpha + T + t)
        bracket = _likelihoods.survival_bracket(r + x, b + x + 1, c, z)
        return c / (a - 1) * bracket * self._alive(p, x, t_x, T)

    # Batislam, Denizel & Filiztekin (2007), eq. 5 (new member: eq. 7 at x = t_x = T = 0).
    def _new_member(self, p, t):
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        z = t / (alpha + t)
        return b / (a - 1) * _likelihoods.survival_bracket(r, b + 1, a + b, z)

    # Drop-out after purchase j (j = 0, 1, ...) has probability p (1-p)^j: X(t) = n when still
    # active after n purchases and N(t) = n, or dropped right after the n-th with N(t) >= n.
    def _pmf(self, p, n, t):
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        q = alpha / (alpha + t)
        stay = np.exp(betaln(a, b + n + 1) - betaln(a, b)) * nbinom.pmf(n, r, q)
        tail = nbinom.sf(n - 1, r, q) if n > 0 else 1.0
        return stay + np.exp(betaln(a + 1, b + n) - betaln(a, b)) * tail
