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
from scipy.special import (
    betaln,
    digamma,
    expit,
    gammaln,
    hyp2f1,
    logsumexp,
    roots_laguerre,
    zeta,
)

from memberlens.clv._tail_quadrature import pareto_log_tail_quadrature

_LAGUERRE_NODES, _LAGUERRE_WEIGHTS = roots_laguerre(48)


def _trigamma(x):
    """psi'(x) = zeta(2, x) (Hurwitz zeta): scipy's polygamma(1, x) without its Python wrapper."""
    return zeta(2.0, x)


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
    def from_arrays(
        cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray
    ) -> Rows:
        x_values, x_index = np.unique(x, return_inverse=True)
        t_x_values, t_x_index = np.unique(t_x, return_inverse=True)
        T_values, T_index = np.unique(T, return_inverse=True)
        return cls(
            x,
            t_x,
            T,
            weights,
            x_values,
            x_index,
            np.bincount(x_index, weights=weights, minlength=x_values.size),
            t_x_values,
            t_x_index,
            T_values,
            T_index,
        )

    @classmethod
    def from_compressed(cls, data) -> Rows:
        """From a :class:`~memberlens.clv._summary.Compressed` (frequency, recency, T)."""
        x_index = data.index["frequency"]
        x_values = data.values["frequency"]
        return cls(
            data.columns["frequency"],
            data.columns["recency"],
            data.columns["T"],
            data.weights,
            x_values,
            x_index,
            np.bincount(x_index, weights=data.weights, minlength=x_values.size),
            data.values["recency"],
            data.index["recency"],
            data.values["T"],
            data.index["T"],
        )


def beta_geo(
    params: np.ndarray,
    rows: Rows,
    *,
    modified: bool = False,
    gradient: bool = True,
    hessian: bool = False,
):
    """BG/NBD total log-likelihood, gradient and (optionally) Hessian in (r, alpha, a, b).

    Fader, Hardie & Lee (2005), eq. 6; with ``modified`` the MBG/NBD of Batislam, Denizel &
    Filiztekin (2007), eq. 3 (drop-out is also possible right after the first purchase).
    Per row: log L = u1 + softplus(u2 - u1), u1 the "still active" term and u2 the "dropped out
    after the last purchase" term; one exp and one log1p per row. Returns ``(value, gradient)``,
    or ``(value, gradient, hessian)`` with ``hessian=True`` (the derivatives of u1 and of
    d = u2 - u1 are elementary; softplus' = w2 = expit(d), softplus'' = w2 (1 - w2)).
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
    if not gradient and not hessian:
        return value, None
    w2 = e / (1.0 + e)  # share of the "dropped out" term in the row's likelihood
    ww2 = wts * w2
    inv_t = (1.0 / (alpha + rows.T_values))[rows.T_index]
    inv_tx = (1.0 / (alpha + rows.t_x_values))[rows.t_x_index]
    total = float(rows.x_weights.sum())
    d_log = log_tx - log_t
    d_inv = inv_tx - inv_t
    d_r = (
        np.dot(rows.x_weights, digamma(r + xv) - digamma(r) + np.log(alpha))
        - np.dot(wts, log_t)
        - np.dot(ww2, d_log)
    )
    d_alpha = r / alpha * total - np.dot(wts * rx, inv_t) - np.dot(ww2 * rx, d_inv)
    ab = digamma(a + b)
    big = digamma(a + b + xv + shift)
    d_a = ww2.sum() / a + np.dot(rows.x_weights, ab - big)
    inv = np.where(has_second, 1.0 / np.maximum(b + xv + shift - 1, 1e-300), 0.0)
    inv_row = inv[idx]
    d_b = np.dot(rows.x_weights, digamma(b + xv + shift) - big - digamma(b) + ab) - np.dot(
        ww2, inv_row
    )
    grad = np.array([d_r, d_alpha, d_a, d_b])
    if not hessian:
        return value, grad
    # derivatives of d = u2 - u1 per row: (-d_log, -rx d_inv, 1/a, -inv); of softplus(d):
    # w2 * d'' + w2 (1 - w2) d' d'^T (the outer products summed by one matrix product)
    q = ww2 * (1.0 - w2)
    slopes = np.empty((4, x.size))
    np.negative(d_log, out=slopes[0])
    np.multiply(-rx, d_inv, out=slopes[1])
    slopes[2] = 1.0 / a
    np.negative(inv_row, out=slopes[3])
    hess = (slopes * q) @ slopes.T
    tri_ab, tri_big = _trigamma(a + b), _trigamma(a + b + xv + shift)
    tri_a = _trigamma(a)
    hess[0, 0] += np.dot(rows.x_weights, _trigamma(r + xv) - _trigamma(r))
    hess[0, 1] += total / alpha - np.dot(wts, inv_t) - np.dot(ww2, d_inv)
    hess[1, 1] += (
        -r / alpha**2 * total + np.dot(wts * rx, inv_t**2) + np.dot(ww2 * rx, inv_tx**2 - inv_t**2)
    )
    hess[2, 2] += (
        -total * (tri_a - tri_ab) + np.dot(rows.x_weights, tri_a - tri_big) - ww2.sum() / a**2
    )
    hess[2, 3] += total * tri_ab - np.dot(rows.x_weights, tri_big)
    hess[3, 3] += (
        -total * (_trigamma(b) - tri_ab)
        + np.dot(rows.x_weights, _trigamma(b + xv + shift) - tri_big)
        + np.dot(ww2, inv_row**2)
    )
    hess[1, 0], hess[3, 2] = hess[0, 1], hess[2, 3]
    return value, grad, hess


def _pareto_tail_laguerre(r, s, alpha, beta, x, t):
    """log of (r+s+x) * integral_t^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du, by Gauss-Laguerre.

    Substituting (1+v)^(r+x-1) = e^w makes the integrand e^-w times a smooth bounded function;
    used for the rows where scipy's hyp2f1 overflows (hundreds of repeat purchases).
    """
    n = r + x - 1.0
    k = (alpha + t) / (beta + t)
    v = np.expm1(_LAGUERRE_NODES[None, :] / n[:, None])
    inner = np.log(np.dot((1.0 + k[:, None] * v) ** -(s[:, None] + 1.0), _LAGUERRE_WEIGHTS))
    return (
        np.log(r + s + x)
        + (1.0 - r - x) * np.log(alpha + t)
        - (s + 1.0) * np.log(beta + t)
        + inner
        - np.log(n)
    )


def pareto_log_tail(r, s, alpha, beta, x, t):
    """log[2F1(.) / (max(alpha, beta) + t)^(r+s+x)]: the hypergeometric term of the Pareto/NBD.

    Fader & Hardie (2005), "A Note on Implementing the Pareto/NBD Model in MATLAB", eq. 22-23,
    rewritten with Euler's transformation so that 2F1(1, .; .; z) stays bounded. It equals
    (r+s+x) * integral_t^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du.
    """
    if np.ndim(alpha) == 0 and np.ndim(beta) == 0:  # one branch only (the fit's case)
        r, s, x, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r, s, x, t)))
        alpha, beta = float(alpha), float(beta)
        c = r + s + x + 1.0
        log_a, log_b = np.log(alpha + t), np.log(beta + t)
        with np.errstate(all="ignore"):
            if alpha >= beta:
                out = (
                    np.log(hyp2f1(1.0, r + x, c, (alpha - beta) / (alpha + t)))
                    - s * log_b
                    - (r + x) * log_a
                )
            else:
                out = (
                    np.log(hyp2f1(1.0, s + 1.0, c, (beta - alpha) / (beta + t)))
                    + (1.0 - r - x) * log_a
                    - (s + 1.0) * log_b
                )
        bad = ~np.isfinite(out)
        if bad.any():
            out[bad] = _pareto_tail_laguerre(
                r[bad], s[bad], np.full(bad.sum(), alpha), np.full(bad.sum(), beta), x[bad], t[bad]
            )
        return out
    r, s, alpha, beta, x, t = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (r, s, alpha, beta, x, t))
    )
    c = r + s + x + 1.0
    alpha_big = alpha >= beta
    z = np.where(alpha_big, (alpha - beta) / (alpha + t), (beta - alpha) / (beta + t))
    with np.errstate(all="ignore"):
        h = np.where(alpha_big, hyp2f1(1.0, r + x, c, z), hyp2f1(1.0, s + 1.0, c, z))
        log_h = np.log(h)
    out = (
        np.where(
            alpha_big,
            -s * np.log(beta + t) - (r + x) * np.log(alpha + t),
            (1.0 - r - x) * np.log(alpha + t) - (s + 1.0) * np.log(beta + t),
        )
        + log_h
    )
    bad = ~np.isfinite(out)
    if bad.any():
        out = out.copy()
        out[bad] = _pareto_tail_laguerre(r[bad], s[bad], alpha[bad], beta[bad], x[bad], t[bad])
    return out


_SERIES_MAX_Z = 0.5  # the power series of 2F1 needs ~55 terms at z = 0.5, 16 at z = 0.1
_QUADRATURE_MIN_Z = 0.9  # beyond, scipy's 2F1 slows down (x100 at z = 0.9999): quadrature
_SERIES_CHUNK = 8192  # (frequency, time) pairs per block of the series' polynomial evaluation


def _hyp_series(b, c, index, z):
    """2F1(1, b; c; z) for 0 <= z <= 1/2 and b < c by its power series, with the sums that give
    its parameter derivatives, as polynomials in z whose coefficients depend on (b, c) only.

    ``b`` and ``c`` hold one value per distinct frequency and ``index`` picks each row's, so the
    Pochhammer ratios a_n = (b)_n / (c)_n are built once per frequency. Returns, per row,
    G = sum_{n>=1} a_n z^(n-1) (so 2F1 = 1 + z G and 2F1(1, b+1; c+1; z) = c / b G),
    dF/db = sum a_n B_n z^n, -dF/dc = sum a_n C_n z^n (B_n = sum_{k<n} 1 / (b+k), C_n likewise)
    and K = sum a_n / (c+n) z^n (2F1(1, b; c+1; z) = c K). Terms up to z^n < 2e-16 are kept:
    every term is positive and a_n <= 1, so the remainder is below that relative to the sum.
    """
    z_max = float(z.max()) if z.size else 0.0
    terms = 2 if z_max <= 0.0 else int(np.ceil(np.log(2e-16) / np.log(z_max))) + 2
    n = np.arange(terms, dtype=float)[:, None]
    b_n = b + n  # (terms, distinct frequencies)
    inv_b = 1.0 / b_n
    inv_c = 1.0 / (c + n)
    a_next = np.cumprod(b_n * inv_c, axis=0)  # a_{n+1}
    coef = np.empty((4, terms, b.size))
    coef[0] = a_next  # G: a_{n+1} z^n
    a_n = coef[3]  # a_n (scratch, overwritten below)
    a_n[0] = 1.0
    a_n[1:] = a_next[:-1]
    np.multiply(a_n, np.cumsum(inv_b, axis=0) - inv_b, out=coef[1])
    np.multiply(a_n, np.cumsum(inv_c, axis=0) - inv_c, out=coef[2])
    np.multiply(a_n, inv_c, out=coef[3])
    out = np.empty((4, z.size))
    for begin in range(0, z.size, _SERIES_CHUNK):  # bounded memory: terms x chunk
        part = slice(begin, begin + _SERIES_CHUNK)
        z_part = z[part]
        powers = np.empty((terms, z_part.size))
        powers[0] = 1.0
        for power in range(1, terms):
            np.multiply(powers[power - 1], z_part, out=powers[power])
        out[:, part] = np.einsum("knp,np->kp", coef[:, :, index[part]], powers)
    return out


def _tail_series(r, s, alpha, beta, x, x_values, x_index, t, z, log_a, log_b):
    """:func:`pareto_log_tail` and its derivatives (rows of r, alpha, s, beta) by the series."""
    rsx = r + s + x
    if alpha >= beta:  # 2F1(1, r+x; r+s+x+1; z)
        g, f_b, f_c, k = _hyp_series(r + x_values, r + s + x_values + 1.0, x_index, z)
        f = 1.0 + z * g
        out = np.log(f) - s * log_b - (r + x) * log_a
        return out, np.array(
            [
                -log_a + (f_b - f_c) / f,
                -rsx * g / (f * (alpha + t)),
                -log_b - f_c / f,
                -(s + 1.0) * rsx * k / (f * (beta + t)),
            ]
        )
    # 2F1(1, s+1; r+s+x+1; z)
    g, f_b, f_c, k = _hyp_series(
        np.full(x_values.shape, s + 1.0), r + s + x_values + 1.0, x_index, z
    )
    f = 1.0 + z * g
    out = np.log(f) + (1.0 - r - x) * log_a - (s + 1.0) * log_b
    return out, np.array(
        [
            -log_a - f_c / f,
            -(r + x) * rsx * k / (f * (alpha + t)),
            -log_b + (f_b - f_c) / f,
            -rsx * g / (f * (beta + t)),
        ]
    )


def _tail_differences(r, s, alpha, beta, x, t):
    """:func:`pareto_log_tail` and its derivatives by scipy's 2F1: exact shifted terms for alpha
    and beta, central differences in r and s."""
    tail = pareto_log_tail(r, s, alpha, beta, x, t)
    share = (r + s + x) / (r + s + x + 1.0)
    grad = np.empty((4,) + x.shape)
    grad[1] = -(r + x) * share * np.exp(pareto_log_tail(r + 1.0, s, alpha, beta, x, t) - tail)
    grad[3] = -(s + 1.0) * share * np.exp(pareto_log_tail(r, s + 1.0, alpha, beta, x, t) - tail)
    h = 1e-5 * max(r, 1e-3)
    grad[0] = (
        pareto_log_tail(r + h, s, alpha, beta, x, t) - pareto_log_tail(r - h, s, alpha, beta, x, t)
    ) / (2.0 * h)
    h = 1e-5 * max(s, 1e-3)
    grad[2] = (
        pareto_log_tail(r, s + h, alpha, beta, x, t) - pareto_log_tail(r, s - h, alpha, beta, x, t)
    ) / (2.0 * h)
    return tail, grad


def _pair_z(alpha: float, beta: float, t: np.ndarray) -> np.ndarray:
    """The argument of the Euler-form 2F1 of :func:`pareto_log_tail` (scalar alpha, beta)."""
    return (alpha - beta) / (alpha + t) if alpha >= beta else (beta - alpha) / (beta + t)


def pareto_pair_tails(r, s, alpha, beta, pairs: TailPairs) -> np.ndarray:
    """:func:`pareto_log_tail` of every pair for scalar parameters: scipy's 2F1 up to
    z = 0.9, the trapezoidal quadrature of :mod:`memberlens.clv._tail_quadrature` beyond (where
    2F1 slows down), the same values as :func:`pareto_log_tail_gradient`'s."""
    hard = _pair_z(alpha, beta, pairs.t) > _QUADRATURE_MIN_Z
    if not hard.any():
        return pareto_log_tail(r, s, alpha, beta, pairs.x, pairs.t)
    out = np.empty(pairs.x.shape)
    easy = ~hard
    out[easy] = pareto_log_tail(r, s, alpha, beta, pairs.x[easy], pairs.t[easy])
    out[hard] = pareto_log_tail_quadrature(r, s, alpha, beta, pairs.x[hard], pairs.t[hard])
    return out


def pareto_log_tail_gradient(r, s, alpha, beta, pairs: TailPairs):
    """:func:`pareto_log_tail` for scalar parameters and its derivatives in (r, alpha, s, beta).

    With I(t) = integral_t^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du, d I / d alpha =
    -(r+x) I(r+1) and d I / d beta = -(s+1) I(s+1) (shifted 2F1 terms); the r and s derivatives
    come from the power series of 2F1 differentiated term by term. Pairs with z > 1/2 (alpha and
    beta far apart relative to t) use scipy's 2F1 with central differences in r and s instead,
    and beyond z = 0.9, where 2F1 slows down, the trapezoidal quadrature of
    :mod:`memberlens.clv._tail_quadrature` (value and exact derivatives).
    Returns (log tail, 4 x n array of derivatives).
    """
    x, t = pairs.x, pairs.t
    log_a, log_b = np.log(alpha + t), np.log(beta + t)
    z = _pair_z(alpha, beta, t)
    easy = z <= _SERIES_MAX_Z
    if easy.all():
        return _tail_series(r, s, alpha, beta, x, pairs.x_values, pairs.x_index, t, z, log_a, log_b)
    out = np.empty(x.shape)
    grad = np.empty((4,) + x.shape)
    if easy.any():
        out[easy], grad[:, easy] = _tail_series(
            r,
            s,
            alpha,
            beta,
            x[easy],
            pairs.x_values,
            pairs.x_index[easy],
            t[easy],
            z[easy],
            log_a[easy],
            log_b[easy],
        )
    far = z > _QUADRATURE_MIN_Z
    hard = ~easy & ~far
    if hard.any():
        out[hard], grad[:, hard] = _tail_differences(r, s, alpha, beta, x[hard], t[hard])
    if far.any():
        out[far], grad[:, far] = pareto_log_tail_quadrature(
            r, s, alpha, beta, x[far], t[far], gradient=True
        )
    return out, grad


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
    return (
        gammaln(r + x)
        - gammaln(r)
        + r * np.log(alpha)
        + s * np.log(beta)
        + np.logaddexp(first, second)
    )


@dataclass(frozen=True)
class TailPairs:
    """Distinct (frequency, time) pairs among a Pareto/NBD summary's (x, t_x) and (x, T): the
    hypergeometric term depends on those only, and there are far fewer of them than rows."""

    x: np.ndarray
    t: np.ndarray
    x_values: np.ndarray  # the distinct frequencies, x == x_values[x_index]
    x_index: np.ndarray
    at_recency: np.ndarray  # rows' (x, t_x) == pairs[at_recency]
    at_age: np.ndarray  # rows' (x, T) == pairs[at_age]

    @classmethod
    def from_rows(cls, rows: Rows) -> TailPairs:
        where, times = pd.factorize(np.concatenate([rows.t_x_values, rows.T_values]))
        t_x_code = where[: rows.t_x_values.size][rows.t_x_index]
        T_code = where[rows.t_x_values.size :][rows.T_index]
        keys = np.concatenate(
            [rows.x_index * times.size + t_x_code, rows.x_index * times.size + T_code]
        )
        inverse, unique = pd.factorize(keys)
        x_index, t_code = np.divmod(unique, times.size)
        return cls(
            rows.x_values[x_index],
            times[t_code],
            rows.x_values,
            x_index,
            inverse[: rows.x.size],
            inverse[rows.x.size :],
        )


def pareto_nbd(params: np.ndarray, rows: Rows, pairs: TailPairs, *, gradient: bool = False):
    """Pareto/NBD total log-likelihood: Fader & Hardie (2005, MATLAB note), eq. 22, with the
    hypergeometric terms computed once per distinct (x, t) pair and the logarithms of
    alpha + T and beta + T once per distinct T. With ``gradient``, returns (value, gradient in
    (r, alpha, s, beta)) (tail derivatives from :func:`pareto_log_tail_gradient`)."""
    r, alpha, s, beta = params
    xv, idx, x = rows.x_values, rows.x_index, rows.x
    if gradient:
        tail, d_tail = pareto_log_tail_gradient(r, s, alpha, beta, pairs)
    else:
        tail = pareto_pair_tails(r, s, alpha, beta, pairs)
    upper, lower = tail[pairs.at_recency], tail[pairs.at_age]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.exp(np.minimum(lower - upper, 0.0))
        log_a0 = upper + np.log1p(-ratio)
    log_at = np.log(alpha + rows.T_values)[rows.T_index]
    log_bt = np.log(beta + rows.T_values)[rows.T_index]
    first = -(r + x) * log_at - s * log_bt
    second = (np.log(s) - np.log(r + s + xv))[idx] + log_a0
    head = gammaln(r + xv) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    value = float(np.dot(rows.x_weights, head) + np.dot(rows.weights, np.logaddexp(first, second)))
    if not gradient:
        return value
    w_second = rows.weights * expit(second - first)  # weight of the "died before T" term
    w_first = rows.weights - w_second
    # d log A0 = (d upper - ratio * d lower) / (1 - ratio); A0 = 0 (t_x = T) has weight 0.
    # The rows' weighted sums of pair derivatives are gathered per pair first (bincount).
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = w_second * np.where(ratio < 1.0, 1.0 / (1.0 - ratio), 0.0)
    size = pairs.x.size
    per_pair = np.bincount(pairs.at_recency, weights=spread, minlength=size) - np.bincount(
        pairs.at_age, weights=spread * ratio, minlength=size
    )
    d_a0 = d_tail @ per_pair
    inv_rsx = np.dot(w_second, (1.0 / (r + s + xv))[idx])
    total = float(rows.x_weights.sum())
    sum_second = float(w_second.sum())
    d_r = (
        np.dot(rows.x_weights, digamma(r + xv) - digamma(r))
        + total * np.log(alpha)
        - np.dot(w_first, log_at)
        + d_a0[0]
        - inv_rsx
    )
    d_alpha = (
        total * r / alpha
        - np.dot(w_first * (r + x), 1.0 / (alpha + rows.T_values)[rows.T_index])
        + d_a0[1]
    )
    d_s = total * np.log(beta) - np.dot(w_first, log_bt) + sum_second / s - inv_rsx + d_a0[2]
    d_beta = (
        total * s / beta
        - s * np.dot(w_first, (1.0 / (beta + rows.T_values))[rows.T_index])
        + d_a0[3]
    )
    return value, np.array([d_r, d_alpha, d_s, d_beta])


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
    sum_log_m: float  # sum of w * log m
    sum_x_log_m: np.ndarray  # per distinct x: sum of w * log m
    mx: np.ndarray  # m * x: a row's total spend

    @classmethod
    def from_arrays(cls, x: np.ndarray, m: np.ndarray, weights: np.ndarray) -> Spend:
        """From one row per member (or per group of identical members, ``weights``): mean spend
        is nearly always distinct between members, so rows are not grouped further; only the
        frequencies are (hashing, no sort)."""
        index, values = pd.factorize(x)
        return cls._build(x, m, weights, np.asarray(values, dtype=float), index)

    @classmethod
    def from_compressed(cls, data) -> Spend:
        """From a :class:`~memberlens.clv._summary.Compressed` (frequency, monetary_value)."""
        return cls._build(
            data.columns["frequency"],
            data.columns["monetary_value"],
            data.weights,
            data.values["frequency"],
            data.index["frequency"],
        )

    @classmethod
    def _build(cls, x, m, weights, values, index) -> Spend:
        log_m = np.log(m)
        return cls(
            x,
            m,
            weights,
            values,
            index,
            np.bincount(index, weights=weights, minlength=values.size),
            float(np.dot(weights, log_m)),
            np.bincount(index, weights=weights * log_m, minlength=values.size),
            m * x,
        )


def gamma_gamma(params: np.ndarray, data: Spend, *, hessian: bool = False):
    """Gamma-Gamma spend log-likelihood and gradient in (p, q, gamma); with ``hessian`` also the
    Hessian.

    Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value", eq. 3 (density of the
    mean spend m_x of x transactions); one logarithm per row, the rest per distinct x.
    """
    p, q, gam = params
    xv, wx = data.x_values, data.x_weights
    pxv = p * xv
    px_q = pxv + q
    total = float(wx.sum())
    size = xv.size
    # per row only gamma + m x, its log and reciprocal; the rest is summed per distinct x
    shifted = np.add(data.mx, gam)
    inv_sum = np.reciprocal(shifted)
    log_sum = np.log(shifted, out=shifted)
    x_log_sum = np.bincount(data.x_index, weights=data.weights * log_sum, minlength=size)
    x_inv_sum = np.bincount(data.x_index, weights=data.weights * inv_sum, minlength=size)
    value = (
        np.dot(wx, gammaln(px_q) - gammaln(pxv) + pxv * np.log(xv))
        + total * (q * np.log(gam) - gammaln(q))
        + p * np.dot(xv, data.sum_x_log_m)
        - data.sum_log_m
        - np.dot(px_q, x_log_sum)
    )
    dig = digamma(px_q)
    d_p = (
        np.dot(wx * xv, dig - digamma(pxv) + np.log(xv))
        + np.dot(xv, data.sum_x_log_m)
        - np.dot(xv, x_log_sum)
    )
    d_q = np.dot(wx, dig) - total * (digamma(q) - np.log(gam)) - x_log_sum.sum()
    d_gam = q / gam * total - np.dot(px_q, x_inv_sum)
    grad = np.array([d_p, d_q, d_gam])
    if not hessian:
        return float(value), grad
    x_inv_sq = np.bincount(data.x_index, weights=data.weights * inv_sum * inv_sum, minlength=size)
    tri = _trigamma(px_q)
    hess = np.empty((3, 3))
    hess[0, 0] = np.dot(wx * xv**2, tri - _trigamma(pxv))
    hess[0, 1] = hess[1, 0] = np.dot(wx * xv, tri)
    hess[0, 2] = hess[2, 0] = -np.dot(xv, x_inv_sum)
    hess[1, 1] = np.dot(wx, tri) - total * _trigamma(q)
    hess[1, 2] = hess[2, 1] = total / gam - x_inv_sum.sum()
    hess[2, 2] = -q / gam**2 * total + np.dot(px_q, x_inv_sq)
    return float(value), grad, hess


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
    terms = (
        betaln(alpha + x[:, None], beta + t_x[:, None] - x[:, None] + i_safe)
        + betaln(gam + 1, delta + t_x[:, None] + i_safe)
        - base
    )
    terms = np.where(valid, terms, -np.inf)
    return np.logaddexp(alive, logsumexp(terms, axis=1))


def beta_geo_beta_binom(params: np.ndarray, x, t_x, n, weights) -> float:
    """BG/BB total log-likelihood (weighted sum of :func:`beta_geo_beta_binom_rows`)."""
    return float(np.dot(weights, beta_geo_beta_binom_rows(params, x, t_x, n)))


def survival_bracket(A, B, C, z):
    """1 - (1 - z)^A 2F1(A, B; C; z), the bracket of the (M)BG/NBD expectations (Fader, Hardie &
    Lee 2005, eq. 9-10; Batislam et al. 2007, eq. 5, 7). Euler's transformation, (1 - z)^(C-B)
    2F1(C-A, C-B; C; z), keeps members with hundreds of purchases finite; where it overflows
    (a and b in the thousands: a drop-out probability the shop's data pin down tightly) the
    original form is finite and used instead."""
    with np.errstate(all="ignore"):
        euler = 1 - (1 - z) ** (C - B) * hyp2f1(C - A, C - B, C, z)
        ok = np.isfinite(euler)
        if np.all(ok):
            return euler
        direct = 1 - (1 - z) ** A * hyp2f1(A, B, C, z)
    return np.where(ok, euler, direct)
