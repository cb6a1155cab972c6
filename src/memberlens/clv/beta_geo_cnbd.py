"""MBG/CNBD-k: MBG/NBD with regular (Erlang-k) purchase timing (Platzer & Reutterer 2016,
"Ticking Away the Moments: Timing Regularity Helps to Better Predict Customer Activity",
Marketing Science 35(5); R package BTYDplus, ``mbgcnbd.*``).

While active a member's inter-purchase times are Erlang-k with rate lambda ~ Gamma(r, alpha)
(k = 1: exponential, i.e. MBG/NBD); right after each purchase, the first one included, the
member drops out with probability p ~ Beta(a, b). k > 1 means purchases come at regular
intervals (grocery, replenishment): a member who stays silent well past their usual gap is then
more likely to have left than the Poisson models think. The likelihood needs one statistic more
than frequency, recency and T: ``litt``, the sum of the logarithms of the member's
inter-purchase times (:func:`memberlens.features.interpurchase_log_times`).

``k`` is an integer setting; ``k=None`` (the default) searches k = 1..12 by likelihood and stops
once it falls twice in a row (BTYDplus ``xbgcnbd.EstimateParameters``).

Conditional expectations for k > 1 have no closed form; like BTYDplus we use the MBG/NBD
expression with the rate scale k * alpha (``xbgcnbd.ConditionalExpectedTransactions``), without
BTYDplus' cohort-level bias correction. At k = 1 every formula is MBG/NBD's exactly.

>>> import numpy as np
>>> from memberlens.clv.simulation import simulate_beta_geo_cnbd
>>> summary = simulate_beta_geo_cnbd(4000, k=3, r=4.0, alpha=12.0, a=1.0, b=8.0, T=52.0,
...                                  rng=np.random.default_rng(1))
>>> int(ModifiedBetaGeoCNBDModel().fit(summary).params_["k"])
3
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, expit, gammaln, hyp2f1, logsumexp

from memberlens.clv._mle import MaximumLikelihood, maximize
from memberlens.clv._purchase import PurchaseModel
from memberlens.clv._summary import compress
from memberlens.exceptions import ConfigError, ConvergenceError

__all__ = ["ModifiedBetaGeoCNBDModel", "mbgcnbd_log_likelihood"]

MAX_K = 12


def _log_s2(k, r, alpha, x, t_x, T) -> np.ndarray:
    """log(1 + sum_{j=1}^{k-1} (r+kx)_j (T - t_x)^j / (j! (alpha + T)^j)), (.)_j rising;
    ``k`` a whole number or one per row (segment fits)."""
    shape = np.broadcast_to(r + k * x, np.broadcast(r, k, x, t_x, T, alpha).shape)
    gap = np.log(np.maximum(T - t_x, 0.0)) - np.log(alpha + T)
    terms = [np.zeros(shape.shape)]
    for j in range(1, int(np.max(k))):
        term = gammaln(shape + j) - gammaln(shape) + j * gap - gammaln(j + 1.0)
        terms.append(np.where(j < k, term, -np.inf))
    return logsumexp(np.vstack(terms), axis=0)


def _log_s1(k: int, r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """log(a / (b + x) * ((alpha + T) / (alpha + t_x))^(r + kx)) (MBG: drop-out at x = 0 too)."""
    return np.log(a) - np.log(b + x) + (r + k * x) * (np.log(alpha + T) - np.log(alpha + t_x))


def mbgcnbd_log_likelihood(params, k: int, x, t_x, T, litt) -> np.ndarray:
    """Per-member log-likelihood of MBG/CNBD-k; ``params`` = (r, alpha, a, b).

    Platzer & Reutterer (2016), appendix, eq. (A.10); BTYDplus ``xbgcnbd.LL`` with
    ``dropout_at_zero = TRUE``.
    """
    r, alpha, a, b = params
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p1 = (k - 1) * litt - x * gammaln(k)
        p2 = betaln(a, b + x + 1) - betaln(a, b)
        p3 = gammaln(r + k * x) - gammaln(r) + r * np.log(alpha)
        p4 = -(r + k * x) * np.log(alpha + T)
        s = np.logaddexp(_log_s1(k, r, alpha, a, b, x, t_x, T), _log_s2(k, r, alpha, x, t_x, T))
    return p1 + p2 + p3 + p4 + s


class ModifiedBetaGeoCNBDModel(PurchaseModel):
    """MBG/CNBD-k purchase model; ``params_``: k (fixed or searched), r, alpha, a, b.

    Settings: ``k`` (an integer 1..12, or None to search it), ``initial_params`` (r, alpha, a,
    b), ``max_iter``. The summary needs ``litt`` besides frequency, recency and T.
    """

    _param_names = ("k", "r", "alpha", "a", "b")
    _columns = ("frequency", "recency", "T", "litt")

    def __init__(
        self,
        *,
        k: int | None = None,
        initial_params: dict[str, float] | None = None,
        max_iter: int = 1000,
    ) -> None:
        self.k = k
        self.initial_params = initial_params
        self.max_iter = max_iter

    def _member_arrays(self, summary):
        # predictions need only frequency, recency and T (litt enters the likelihood only)
        arrays = self._read(summary, ("frequency", "recency", "T"))
        return self._row_params(summary), arrays["frequency"], arrays["recency"], arrays["T"]

    def _fit_arrays(self, arrays) -> MaximumLikelihood:
        if self.k is not None and (int(self.k) != self.k or not 1 <= self.k <= MAX_K):
            raise ConfigError(
                f"{type(self).__name__}: k must be a whole number from 1 to {MAX_K} or None "
                f"(search it); found {self.k!r}"
            )
        data = compress(arrays, self._columns)
        x, t_x, T, litt = (data.columns[c] for c in self._columns)
        w = data.weights
        given = dict(self.initial_params or {})
        unknown = sorted(set(given) - {"r", "alpha", "a", "b"})
        if unknown:
            raise ConfigError(
                f"{type(self).__name__}: initial_params has unknown name(s) {unknown}; "
                "allowed: ['r', 'alpha', 'a', 'b']"
            )
        mean_t = float(np.average(T, weights=w)) or 1.0
        mean_x = max(float(np.average(x, weights=w)), 0.1)
        default = {"r": 1.0, "alpha": max(mean_t / mean_x, 1e-3), "a": 1.0, "b": 3.0}
        start_values = [float(given.get(n, default[n])) for n in ("r", "alpha", "a", "b")]
        if min(start_values) <= 0:
            raise ConfigError(f"{type(self).__name__}: initial_params must be > 0; found {given}")

        def fit_k(k: int) -> MaximumLikelihood:
            def loglik(theta):
                return float(w @ mbgcnbd_log_likelihood(np.exp(theta), k, x, t_x, T, litt))

            # alpha scales the Erlang rate: k events per purchase, so start it k times smaller
            start = np.log(start_values) - np.array([0.0, np.log(k), 0.0, 0.0])
            found = maximize(loglik, start, max_iter=self.max_iter, who=type(self).__name__)
            return MaximumLikelihood(
                np.r_[float(k), found.params],
                found.log_likelihood,
                np.r_[0.0, found.standard_errors],
                found.n_iterations,
            )

        if self.k is not None:
            return fit_k(int(self.k))
        fits: list[MaximumLikelihood] = []
        for k in range(1, MAX_K + 1):
            try:
                fits.append(fit_k(k))
            except ConvergenceError:
                if not fits:
                    raise
                break
            lls = [f.log_likelihood for f in fits]
            if len(lls) > 2 and lls[-1] < lls[-2] < lls[-3]:
                break
        return max(fits, key=lambda f: f.log_likelihood)

    # Platzer & Reutterer (2016), eq. (A.12); BTYDplus xbgcnbd.PAlive (drop-out at zero).
    def _alive(self, p, x, t_x, T):
        k = p["k"]
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return expit(_log_s2(k, r, alpha, x, t_x, T) - _log_s1(k, r, alpha, a, b, x, t_x, T))

    # BTYDplus xbgcnbd.ConditionalExpectedTransactions: the MBG/NBD expression (Batislam et al.
    # 2007, eq. 7, Euler-transformed 2F1) with the rate scale k * alpha, times P(alive).
    def _expected(self, p, x, t_x, T, t):
        k = p["k"]
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        c = a + b + x
        z = t / (k * alpha + T + t)
        bracket = 1 - (1 - z) ** (a - 1) * hyp2f1(a + b - r, a - 1, c, z)
        return c / (a - 1) * bracket * self._alive(p, x, t_x, T)

    # The same approximation at x = t_x = T = 0 (P(alive) = b / (a + b)).
    def _new_member(self, p, t):
        k = p["k"]
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        z = t / (k * alpha + t)
        return b / (a - 1) * (1 - (1 - z) ** (a - 1) * hyp2f1(a + b - r, a - 1, a + b, z))

    def _pmf(self, p, n, t):
        raise ConfigError(
            f"{type(self).__name__}: probability_of_purchases has no closed form for MBG/CNBD-k; "
            "use ModifiedBetaGeoModel (k = 1) or simulate with "
            "memberlens.clv.simulation.simulate_beta_geo_cnbd"
        )

    def _rate(self, p, x, t_x, T):
        """Posterior Erlang rate Gamma(r + kx, alpha + T): purchases at 1/k of it."""
        k = p["k"]
        return (p["r"] + k * x) / (k * (p["alpha"] + T)), p["r"] + k * x
