"""BG/BB: the discrete-time BG/NBD (Fader, Hardie & Shang 2010, "Customer-Base Analysis in a
Discrete-Time Noncontractual Setting", Marketing Science 29(6)).

Members have ``periods`` transaction opportunities (e.g. yearly campaigns); while active they
buy at each with probability p ~ Beta(alpha, beta) and drop out before each with probability
theta ~ Beta(gamma, delta). The summary has ``frequency`` (repeat transactions), ``recency``
(the opportunity of the last one, 0 if none) and ``periods``, optionally ``weights`` (members per
row, as in the donations data).
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, comb, gammaln

from memberlens.clv import _likelihoods
from memberlens.clv._mle import MaximumLikelihood, maximize
from memberlens.clv._purchase import PurchaseModel
from memberlens.clv._summary import compress

__all__ = ["BetaGeoBetaBinomModel"]


class BetaGeoBetaBinomModel(PurchaseModel):
    """BG/BB purchase model on discrete opportunities; ``params_``: alpha, beta, gamma, delta.

    ``horizon`` arguments count future opportunities. Settings: ``initial_params``, ``max_iter``.
    """

    _param_names = ("alpha", "beta", "gamma", "delta")
    _columns = ("frequency", "recency", "periods")
    _age_column = "periods"

    def _fit_arrays(self, arrays) -> MaximumLikelihood:
        data = compress(arrays, self._columns)
        x, t_x, n = (data.columns[k] for k in self._columns)
        start = self._start({"alpha": 1.0, "beta": 1.0, "gamma": 1.0, "delta": 1.0})

        def loglik(theta):
            return _likelihoods.beta_geo_beta_binom(np.exp(theta), x, t_x, n, data.weights)

        return maximize(loglik, start, max_iter=self.max_iter, who=type(self).__name__)

    def _log_l(self, p, x, t_x, n):
        """log L per member (eq. 5), grouping members that share a segment's parameters."""
        if self.by_ is None:
            return _likelihoods.beta_geo_beta_binom_rows(
                [p[k] for k in self._param_names], x, t_x, n
            )
        stacked = np.column_stack([np.broadcast_to(p[k], x.shape) for k in self._param_names])
        keys, group = np.unique(stacked, axis=0, return_inverse=True)
        out = np.empty(x.shape)
        for k, key in enumerate(keys):  # loop over segments, not members
            mask = group.ravel() == k
            out[mask] = _likelihoods.beta_geo_beta_binom_rows(key, x[mask], t_x[mask], n[mask])
        return out

    # Fader, Hardie & Shang (2010), eq. 11: P(alive in period n + 1 | x, t_x, n).
    def _alive(self, p, x, t_x, n):
        a, b, g, d = p["alpha"], p["beta"], p["gamma"], p["delta"]
        log_alive = betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n + 1) - betaln(g, d)
        return np.exp(log_alive - self._log_l(p, x, t_x, n))

    # Fader, Hardie & Shang (2010), eq. 13: E[X(n, n + n*) | x, t_x, n].
    def _expected(self, p, x, t_x, n, t):
        a, b, g, d = p["alpha"], p["beta"], p["gamma"], p["delta"]
        log_k = (
            betaln(a + x + 1, b + n - x)
            - betaln(a, b)
            + np.log(d)
            + gammaln(g + d)
            - gammaln(1 + d)
            - self._log_l(p, x, t_x, n)
        )
        bracket = np.exp(gammaln(1 + d + n) - gammaln(g + d + n)) - np.exp(
            gammaln(1 + d + n + t) - gammaln(g + d + n + t)
        )
        return np.exp(log_k) * bracket / (g - 1)

    # Fader, Hardie & Shang (2010), eq. 9: E[X(n)] for a new member.
    def _new_member(self, p, t):
        a, b, g, d = p["alpha"], p["beta"], p["gamma"], p["delta"]
        ratio = np.exp(gammaln(g + d) + gammaln(1 + d + t) - gammaln(g + d + t) - gammaln(1 + d))
        return a / (a + b) * d / (g - 1) * (1 - ratio)

    # Fader, Hardie & Shang (2010), eq. 7: P(X(n) = x) for a new member.
    def _pmf(self, p, x, t):
        a, b, g, d = (np.asarray(p[k], dtype=float) for k in self._param_names)
        n = int(round(t))
        if x > n:
            return np.zeros_like(a)
        base = betaln(a, b) + betaln(g, d)
        total = comb(n, x) * np.exp(betaln(a + x, b + n - x) + betaln(g, d + n) - base)
        for i in range(x, n):  # loop over opportunities, not members
            total = total + comb(i, x) * np.exp(
                betaln(a + x, b + i - x) + betaln(g + 1, d + i) - base
            )
        return total

    # Posterior p of an active member is Beta(alpha + x, beta + n - x); its gamma approximation
    # gives the wait until the next purchase.
    def _rate(self, p, x, t_x, n):
        return (p["alpha"] + x) / (p["alpha"] + p["beta"] + n), p["alpha"] + x
