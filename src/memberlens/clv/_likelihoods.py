"""Log-likelihoods of the CLV models: small pure functions of arrays, in log space.

Each takes the parameters and a compressed summary (distinct rows plus how many members each
stands for) and returns the weighted total log-likelihood and, where written out, its gradient
with respect to the parameters. Terms that depend on the frequency only are computed once per
distinct frequency and looked up, so the per-row work is a few logarithms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln, hyp2f1, logsumexp, roots_laguerre

_LAGUERRE_NODES, _LAGUERRE_WEIGHTS = roots_laguerre(48)


@dataclass(frozen=True)
class Rows:
    """Distinct (frequency, recency, T) rows and their member counts, with each column's distinct
    values (``*_values``) and where each row finds its value (``*_index``): terms that depend on
    one column only are computed once per distinct value and gathered."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weights: np.ndarray
    x_values: np.ndarray
    x_index: np.ndarray
    x_weights: np.ndarray  # members per distinct frequency
    t_x_values: np.ndarray
    t_x_index: np.ndarray
    T_values: np.ndarray
    T_index: np.ndarray

    @classmethod
    def from_arrays(cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                    weights: np.ndarray) -> Rows:
        x_values, x_index = np.unique(x, return_inverse=True)
        t_x_values, t_x_index = np.unique(t_x, return_inverse=True)
        T_values, T_index = np.unique(T, return_inverse=True)
        return cls(x, t_x, T, weights, x_values, x_index,
                   np.bincount(x_index, weights=weights, minlength=x_values.size),
                   t_x_values, t_x_index, T_values, T_index)

    @classmethod
    def from_compressed(cls, data) -> Rows:
        """From a :class:`~memberlens.clv._summary.Compressed` (frequency, recency, T)."""
        x_index = data.index["frequency"]
        x_values = data.values["frequency"]
        return cls(data.columns["frequency"], data.columns["recency"], data.columns["T"],
                   data.weights, x_values, x_index,
                   np.bincount(x_index, weights=data.weights, minlength=x_values.size),
                   data.values["recency"], data.index["recency"], data.values["T"],
                   data.index["T"])


def beta_geo(params: np.ndarray, rows: Rows, *, modified: bool = False,
             gradient: bool = True) -> tuple[float, np.ndarray | None]:
    """BG/NBD total log-likelihood and gradient in (r, alpha, a, b).

    Fader, Hardie & Lee (2005), eq. 6; with ``modified`` the MBG/NBD of Batislam, Denizel &
    Filiztekin (2007), eq. 3 (drop-out is also possible right after the first purchase).
    Per row: log L = u1 + softplus(u2 - u1), u1 the "still active" term and u2 the "dropped out
    after the last purchase" term; one exp and one log1p per row.
    """
    r, alpha, a, b = params
    xv, idx, x, wts = rows.x_values, rows.x_index, rows.x, rows.weights
    shift = 1.0 if modified else 0.0
    has_second = np.ones_like(xv, dtype=bool) if modified else xv > 0
    head = gammaln(r + xv) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    first = betaln(a, b + xv + shift)
    second = np.where(has_second, betaln(a + 1, np.maximum(b + xv + shift - 1, 1e-300)), -np.inf)
    log_t = np.log(alpha + rows.T_values)[rows.T_index]
    log_tx = np.log(alpha + rows.t_x_values)[rows.t_x_index]
    rx = r + x
    u1 = first[idx] - rx * log_t
    diff = (second - first)[idx] - rx * (log_tx - log_t)
    with np.errstate(over="ignore"):
        e = np.exp(np.minimum(diff, 700.0))
    soft = np.where(diff > 35.0, diff, np.log1p(e))
    value = float(np.dot(rows.x_weights, head) + np.dot(wts, u1) + np.dot(wts, soft))
    if not gradient:
        return value, None
    w2 = e / (1.0 + e)  # share of the "dropped out" term in the row's likelihood
    ww2 = wts * w2
    inv_t = (1.0 / (alpha + rows.T_values))[rows.T_index]
    inv_tx = (1.0 / (alpha + rows.t_x_values))[rows.t_x_index]
    d_r = (np.dot(rows.x_weights, digamma(r + xv) - digamma(r) + np.log(alpha))
           - np.dot(wts, log_t) - np.dot(ww2, log_tx - log_t))
    d_alpha = (r / alpha * wts.sum() - np.dot(wts * rx, inv_t) - np.dot(ww2 * rx, inv_tx - inv_t))
    ab = digamma(a + b)
    big = digamma(a + b + xv + shift)
    d_a = ww2.sum() / a + np.dot(rows.x_weights, ab - big)
    inv = np.where(has_second, 1.0 / np.maximum(b + xv + shift - 1, 1e-300), 0.0)
    d_b = (np.dot(rows.x_weights, digamma(b + xv + shift) - big - digamma(b) + ab)
           - np.dot(ww2, inv[idx]))
    return value, np.array([d_r, d_alpha, d_a, d_b])


def _pareto_tail_laguerre(r, s, alpha, beta, x, t):
    """log of (r+s+x) * integral_t^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du, by Gauss-Laguerre.

    Substituting (1+v)^(r+x-1) = e^w makes the integrand e^-w times a smooth bounded function;
    used for the rows where scipy's hyp2f1 overflows (hundreds of repeat purchases).
    """
    n = r + x - 1.0
    k = (alpha + t) / (beta + t)
    v = np.expm1(_LAGUERRE_NODES[None, :] / n[:, None])
    inner = np.log(np.dot((1.0 + k[:, None] * v) ** -(s + 1.0), _LAGUERRE_WEIGHTS))
    return (np.log(r + s + x) + (1.0 - r - x) * np.log(alpha + t) - (s + 1.0) * np.log(beta + t)
            + inner - np.log(n))


def pareto_log_tail(r, s, alpha, beta, x, t):
    """log[2F1(.) / (max(alpha, beta) + t)^(r+s+x)]: the hypergeometric term of the Pareto/NBD.

    Fader & Hardie (2005), "A Note on Implementing the Pareto/NBD Model in MATLAB", eq. 22-23,
    rewritten with Euler's transformation so that 2F1(1, .; .; z) stays bounded.
    """
    r, s, alpha, beta, x, t = np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                                     for v in (r, s, alpha, beta, x, t)))
    c = r + s + x + 1.0
    alpha_big = alpha >= beta
    z = np.where(alpha_big, (alpha - beta) / (alpha + t), (beta - alpha) / (beta + t))
    with np.errstate(all="ignore"):
        h = np.where(alpha_big, hyp2f1(1.0, r + x, c, z), hyp2f1(1.0, s + 1.0, c, z))
        log_h = np.log(h)
    out = np.where(alpha_big,
                   -s * np.log(beta + t) - (r + x) * np.log(alpha + t),
                   (1.0 - r - x) * np.log(alpha + t) - (s + 1.0) * np.log(beta + t)) + log_h
    bad = ~np.isfinite(out)
    if bad.any():
        out = out.copy()
        out[bad] = _pareto_tail_laguerre(r[bad], s[bad], alpha[bad], beta[bad], x[bad], t[bad])
    return out


def pareto_log_a0(r, s, alpha, beta, x, t_x, T):
    """log A_0 of Fader & Hardie (2005), eq. 22 (minus infinity when t_x == T)."""
    upper = pareto_log_tail(r, s, alpha, beta, x, t_x)
    lower = pareto_log_tail(r, s, alpha, beta, x, T)
    with np.errstate(divide="ignore"):
        return upper + np.log1p(-np.exp(np.minimum(lower - upper, 0.0)))


def pareto_nbd_rows(params, x, t_x, T):
    """Pareto/NBD log-likelihood per row: Fader & Hardie (2005, MATLAB note), eq. 22."""
    r, alpha, s, beta = params
    first = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    second = np.log(s) - np.log(r + s + x) + pareto_log_a0(r, s, alpha, beta, x, t_x, T)
    return (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
            + np.logaddexp(first, second))


@dataclass(frozen=True)
class TailPairs:
    """Distinct (frequency, time) pairs among a Pareto/NBD summary's (x, t_x) and (x, T): the
    hypergeometric term depends on those only, and there are far fewer of them than rows."""

    x: np.ndarray
    t: np.ndarray
    at_recency: np.ndarray  # rows' (x, t_x) == pairs[at_recency]
    at_age: np.ndarray      # rows' (x, T) == pairs[at_age]

    @classmethod
    def from_rows(cls, rows: Rows) -> TailPairs:
        x = np.concatenate([rows.x, rows.x])
        t = np.concatenate([rows.t_x, rows.T])
        inverse = pd.DataFrame({"x": x, "t": t}).groupby(["x", "t"], sort=False).ngroup()
        inverse = inverse.to_numpy()
        first = np.zeros(int(inverse.max()) + 1 if inverse.size else 0, dtype=np.int64)
        first[inverse[::-1]] = np.arange(inverse.size)[::-1]  # a row holding each pair
        return cls(x[first], t[first], inverse[:rows.x.size], inverse[rows.x.size:])


def pareto_nbd(params: np.ndarray, rows: Rows, pairs: TailPairs) -> float:
    """Pareto/NBD total log-likelihood: Fader & Hardie (2005, MATLAB note), eq. 22, with the
    hypergeometric terms computed once per distinct (x, t) pair and the logarithms of
    alpha + T and beta + T once per distinct T."""
    r, alpha, s, beta = params
    xv, idx, x = rows.x_values, rows.x_index, rows.x
    tail = pareto_log_tail(r, s, alpha, beta, pairs.x, pairs.t)
    upper, lower = tail[pairs.at_recency], tail[pairs.at_age]
    with np.errstate(divide="ignore"):
        log_a0 = upper + np.log1p(-np.exp(np.minimum(lower - upper, 0.0)))
    first = (-(r + x) * np.log(alpha + rows.T_values)[rows.T_index]
             - (s * np.log(beta + rows.T_values))[rows.T_index])
    second = (np.log(s) - np.log(r + s + xv))[idx] + log_a0
    head = gammaln(r + xv) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return float(np.dot(rows.x_weights, head)
                 + np.dot(rows.weights, np.logaddexp(first, second)))


@dataclass(frozen=True)
class Spend:
    """Distinct (frequency, mean spend) rows of repeat buyers, with their member counts, and the
    constants of the Gamma-Gamma likelihood that do not depend on the parameters."""

    x: np.ndarray
    m: np.ndarray
    weights: np.ndarray
    x_values: np.ndarray
    x_index: np.ndarray
    x_weights: np.ndarray
    sum_log_m: float        # sum of w * log m
    sum_x_log_m: np.ndarray  # per distinct x: sum of w * log m

    @classmethod
    def from_arrays(cls, x: np.ndarray, m: np.ndarray, weights: np.ndarray) -> Spend:
        values, index = np.unique(x, return_inverse=True)
        log_m = np.log(m)
        return cls(x, m, weights, values, index,
                   np.bincount(index, weights=weights, minlength=values.size),
                   float(np.dot(weights, log_m)),
                   np.bincount(index, weights=weights * log_m, minlength=values.size))


def gamma_gamma(params: np.ndarray, data: Spend) -> tuple[float, np.ndarray]:
    """Gamma-Gamma spend log-likelihood and gradient in (p, q, gamma).

    Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value", eq. 3 (density of the
    mean spend m_x of x transactions); one logarithm per row, the rest per distinct x.
    """
    p, q, gam = params
    xv, wx = data.x_values, data.x_weights
    pxv = p * xv
    log_sum = np.log(gam + data.m * data.x)
    px_q = (pxv + q)[data.x_index]
    value = (np.dot(wx, gammaln(pxv + q) - gammaln(pxv) + pxv * np.log(xv))
             + wx.sum() * (q * np.log(gam) - gammaln(q))
             + p * np.dot(xv, data.sum_x_log_m) - data.sum_log_m
             - np.dot(data.weights * px_q, log_sum))
    dig = digamma(pxv + q)
    x_log_sum = np.bincount(data.x_index, weights=data.weights * log_sum, minlength=xv.size)
    d_p = (np.dot(wx * xv, dig - digamma(pxv) + np.log(xv)) + np.dot(xv, data.sum_x_log_m)
           - np.dot(xv, x_log_sum))
    d_q = np.dot(wx, dig) - wx.sum() * (digamma(q) - np.log(gam)) - x_log_sum.sum()
    d_gam = q / gam * wx.sum() - np.dot(data.weights * px_q, 1.0 / (gam + data.m * data.x))
    return float(value), np.array([d_p, d_q, d_gam])


def beta_geo_beta_binom_rows(params, x, t_x, n):
    """BG/BB log-likelihood per row: Fader, Hardie & Shang (2010), eq. 5.

    The sum over possible drop-out periods runs over a dense (rows, max n - t_x) grid; the
    compressed BG/BB summary has at most (n+1)(n+2)/2 distinct rows.
    """
    alpha, beta, gam, delta = params
    base = betaln(alpha, beta) + betaln(gam, delta)
    alive = betaln(alpha + x, beta + n - x) + betaln(gam, delta + n) - base
    width = int(np.max(n - t_x)) if len(n) else 0
    if width <= 0:
        return alive
    i = np.arange(width)[None, :]
    valid = i < (n - t_x - 1)[:, None] + 1
    i_safe = np.where(valid, i, 0)
    terms = (betaln(alpha + x[:, None], beta + t_x[:, None] - x[:, None] + i_safe)
             + betaln(gam + 1, delta + t_x[:, None] + i_safe) - base)
    terms = np.where(valid, terms, -np.inf)
    return np.logaddexp(alive, logsumexp(terms, axis=1))


def beta_geo_beta_binom(params: np.ndarray, x, t_x, n, weights) -> float:
    """BG/BB total log-likelihood (weighted sum of :func:`beta_geo_beta_binom_rows`)."""
    return float(np.dot(weights, beta_geo_beta_binom_rows(params, x, t_x, n)))
