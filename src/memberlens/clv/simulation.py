"""Draw member summaries from the generative processes of the purchase models (numpy only).

Used to check parameter recovery and to benchmark fits at scale. Each function returns a summary
frame (member_id, frequency, recency, T) for members observed for ``T`` time units each.
``resolution`` rounds recency to a grid (e.g. 1/7 for whole days on a weekly summary), as real
summaries built from day stamps are (the difference of two day stamps is unbiased for the time
between two moments, hence rounding to the nearest point rather than down).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulate_beta_geo", "simulate_beta_geo_cnbd", "simulate_pareto_nbd"]


def _frame(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, resolution: float | None):
    if resolution is not None:
        t_x = np.minimum(np.round(t_x / resolution) * resolution, T)
    return pd.DataFrame(
        {
            "member_id": np.char.add("m", np.arange(x.size).astype(str)),
            "frequency": x.astype(np.int64),
            "recency": np.where(x > 0, t_x, 0.0),
            "T": T,
        }
    )


def _last_purchase(
    x: np.ndarray, n: np.ndarray, window: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Time of the x-th of n Poisson arrivals in [0, window]: window * Beta(x, n - x + 1)."""
    out = np.zeros(x.size)
    some = x > 0
    out[some] = window[some] * rng.beta(x[some], n[some] - x[some] + 1)
    return out


def simulate_beta_geo(
    n_members: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | np.ndarray,
    rng: np.random.Generator,
    modified: bool = False,
    resolution: float | None = None,
) -> pd.DataFrame:
    """BG/NBD (or with ``modified`` MBG/NBD) members: lambda ~ Gamma(r, alpha), p ~ Beta(a, b);
    each repeat purchase (MBG/NBD: also the first purchase) ends activity with probability p
    (Fader, Hardie & Lee 2005, sec. 3)."""
    T = np.broadcast_to(np.asarray(T, dtype=float), (n_members,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n_members)
    p = rng.beta(a, b, n_members)
    n = rng.poisson(lam * T)
    last = rng.geometric(p) - (1 if modified else 0)  # repeat purchases made before dropping out
    x = np.minimum(n, last)
    return _frame(x, _last_purchase(x, n, T, rng), T, resolution)


def simulate_pareto_nbd(
    n_members: int,
    *,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    T: float | np.ndarray,
    rng: np.random.Generator,
    resolution: float | None = None,
) -> pd.DataFrame:
    """Pareto/NBD members: lambda ~ Gamma(r, alpha), lifetime ~ Exponential(mu),
    mu ~ Gamma(s, beta) (Schmittlein, Morrison & Colombo 1987)."""
    T = np.broadcast_to(np.asarray(T, dtype=float), (n_members,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n_members)
    mu = rng.gamma(s, 1.0 / beta, n_members)
    window = np.minimum(rng.exponential(1.0 / mu), T)
    n = rng.poisson(lam * window)
    return _frame(n, _last_purchase(n, n, window, rng), T, resolution)


def simulate_beta_geo_cnbd(
    n_members: int,
    *,
    k: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | np.ndarray,
    rng: np.random.Generator,
    max_purchases: int = 2000,
) -> pd.DataFrame:
    """MBG/CNBD-k members (Platzer & Reutterer 2016): inter-purchase times Erlang-k with rate
    lambda ~ Gamma(r, alpha); right after each purchase (the first one included) the member
    drops out with probability p ~ Beta(a, b). Adds ``litt``, the sum of the log inter-purchase
    times. Simulated purchase by purchase, all members at once (``max_purchases`` steps at most).
    """
    T = np.broadcast_to(np.asarray(T, dtype=float), (n_members,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n_members)
    p = rng.beta(a, b, n_members)
    x = np.zeros(n_members, dtype=np.int64)
    t_x = np.zeros(n_members)
    litt = np.zeros(n_members)
    active = rng.random(n_members) >= p  # drop-out right after the first purchase
    for _ in range(max_purchases):
        if not active.any():
            break
        gap = rng.gamma(k, 1.0 / lam[active])
        when = t_x[active] + gap
        bought = when <= T[active]
        idx = np.flatnonzero(active)[bought]
        x[idx] += 1
        t_x[idx] = when[bought]
        litt[idx] += np.log(gap[bought])
        active[np.flatnonzero(active)[~bought]] = False
        active[idx] = rng.random(idx.size) >= p[idx]
    frame = _frame(x, t_x, T, None)
    frame["litt"] = litt
    return frame
