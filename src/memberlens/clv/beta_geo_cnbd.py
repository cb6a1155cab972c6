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

The probability of n purchases and the expected purchases of a new member are exact
(BTYDplus ``xbgcnbd_pmf_cpp`` and ``xbgcnbd_exp_cpp``, the sum of n P(n)). Conditional
expectations for k > 1 have no closed form; like BTYDplus we use the MBG/NBD expression with the
rate scale k * alpha (``xbgcnbd.ConditionalExpectedTransactions``). BTYDplus then rescales a
whole cohort (100 members or more) so its total matches the exact unconditional expectation:
:meth:`ModifiedBetaGeoCNBDModel.expected_purchases_cohort` does the same, while
``expected_purchases`` scores members one by one (no correction, as BTYDplus does for fewer than
100 members). At k = 1 every formula is MBG/NBD's exactly.

>>> import numpy as np
>>> from memberlens.clv.simulation import simulate_beta_geo_cnbd
>>> summary = simulate_beta_geo_cnbd(4000, k=3, r=4.0, alpha=12.0, a=1.0, b=8.0, T=52.0,
...                                  rng=np.random.default_rng(1))
>>> int(ModifiedBetaGeoCNBDModel().fit(summary).params_["k"])
3
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaln, expit, gammaln, logsumexp
from scipy.stats import nbinom

from memberlens.clv._likelihoods import survival_bracket
from memberlens.clv._mle import MaximumLikelihood, maximize
from memberlens.clv._purchase import PurchaseModel, check_horizon
from memberlens.clv._summary import compress
from memberlens.exceptions import ConfigError, ConvergenceError

__all__ = ["ModifiedBetaGeoCNBDModel", "mbgcnbd_log_likelihood", "mbgcnbd_pmf"]

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


def mbgcnbd_pmf(k, r, alpha, a, b, n, t) -> np.ndarray:
    """P(X(t) = n) for a new member of MBG/CNBD-k: Platzer & Reutterer (2016), appendix;
    BTYDplus ``xbgcnbd_pmf_cpp`` with ``dropout_at_zero = TRUE``. The member survives n purchases
    with probability B(a, b + n + 1) / B(a, b); then either makes purchase n but not n + 1 by t
    (Erlang events kn .. kn + k - 1 of an NBD count) or drops out right after purchase n, which
    needs kn events by t."""
    k, n, t = np.asarray(k, dtype=float), np.asarray(n, dtype=float), np.asarray(t, dtype=float)
    q = alpha / (alpha + t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        survive = np.exp(betaln(a, b + n + 1) - betaln(a, b))
        window = nbinom.cdf(k * n + k - 1, r, q) - nbinom.cdf(k * n - 1, r, q)
        dropped = a / (b + n) * nbinom.sf(k * n - 1, r, q)
    return np.where(t > 0, survive * (window + dropped), np.where(n == 0, 1.0, 0.0))


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
        bracket = survival_bracket(r + x, b + x + 1, c, z)
        return c / (a - 1) * bracket * self._alive(p, x, t_x, T)

    # k = 1: MBG/NBD's closed form (Batislam et al. 2007); k > 1: the exact sum of n P(n).
    def _new_member(self, p, t):
        k = p["k"]
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        z = t / (alpha + t)
        closed = b / (a - 1) * survival_bracket(r, b + 1, a + b, z)
        if np.all(k == 1):
            return closed
        if np.ndim(k) == 0:  # one model: t may be an array (the back-test's ages)
            ages, where = np.unique(np.ravel(t), return_inverse=True)
            return self._exact_new_member(p, ages)[where].reshape(np.shape(t))
        exact = [  # one model per segment, one horizon
            self._exact_new_member({name: np.ravel(v)[i] for name, v in p.items()}, t)[0]
            for i in range(np.size(k))
        ]
        return np.where(np.asarray(k) == 1, closed, np.reshape(exact, np.shape(k)))

    def _pmf(self, p, n, t):
        return mbgcnbd_pmf(p["k"], p["r"], p["alpha"], p["a"], p["b"], n, t)

    def _exact_new_member(self, p, t):
        """E[X(t)] of a new member, exact: sum of n P(n) (BTYDplus ``xbgcnbd_exp_cpp``); ``t``
        an array (one value per member) with scalar parameters."""
        k, r, alpha = p["k"], p["r"], p["alpha"]
        t = np.atleast_1d(np.asarray(t, dtype=float))
        # BTYDplus: sum to k times the NBD's 99.99 % quantile, at least 100 terms
        top = int(max(100, np.max(np.max(k) * nbinom.ppf(0.9999, r, alpha / (alpha + t))) + 1))
        n = np.arange(1, top + 1, dtype=float)[:, None]
        step = max(1, 2_000_000 // top)  # bounded memory: blocks of horizons
        return np.concatenate(
            [
                (n * mbgcnbd_pmf(k, r, alpha, p["a"], p["b"], n, block[None, :])).sum(axis=0)
                for block in np.array_split(t, max(1, -(-t.size // step)))
            ]
        )

    def expected_purchases_cohort(self, summary: pd.DataFrame, *, horizon: float) -> pd.Series:
        """Expected purchases of a whole cohort in the next ``horizon`` time units: the
        member-level approximation rescaled so the cohort's total equals the exact unconditional
        expectation sum_i E[X(T_i + horizon)] - E[X(T_i)] (BTYDplus
        ``xbgcnbd.ConditionalExpectedTransactions``, applied there to 100 members or more). Use
        it for totals and back-tests; member rankings are the same as ``expected_purchases``."""
        t = check_horizon(horizon, type(self).__name__)
        member = self.expected_purchases(summary, horizon=t)
        if self.by_ is not None:
            raise ConfigError(
                f"{type(self).__name__}: expected_purchases_cohort needs one model for all "
                "members; call it per segment"
            )
        p, _ = self._population_params()
        if p["k"] == 1 or float(member.sum()) <= 0:
            return member
        ages, counts = np.unique(self._read(summary, ("T",))["T"], return_counts=True)
        total = counts @ (self._exact_new_member(p, ages + t) - self._exact_new_member(p, ages))
        return member * (total / float(member.sum()))

    def _rate(self, p, x, t_x, T):
        """Posterior Erlang rate Gamma(r + kx, alpha + T): purchases at 1/k of it."""
        k = p["k"]
        return (p["r"] + k * x) / (k * (p["alpha"] + T)), p["r"] + k * x
