"""Vectorised operations on ragged rows grouped by owner (members, orders, sessions).

Rows are always stored owner by owner (``owner`` sorted ascending), so a ragged array is a flat
array plus ``counts`` per owner. These helpers replace Python loops over members.
"""

from __future__ import annotations

import numpy as np


def owners(counts: np.ndarray) -> np.ndarray:
    """The owner index of each row, for ``counts[i]`` rows owned by owner ``i``."""
    return np.repeat(np.arange(len(counts)), counts)


def starts(counts: np.ndarray) -> np.ndarray:
    """Index of the first row of each owner."""
    out = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def rank_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... restarting at each owner."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(starts(counts), counts)


def cumsum_within(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at each owner."""
    total = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    return total[1:] - np.repeat(total[starts(counts)], counts)


def sum_within(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum of ``values`` per owner (zero for owners without rows)."""
    return np.bincount(owners(counts), weights=values, minlength=len(counts))


def counts_of(owner: np.ndarray, n: int) -> np.ndarray:
    """Rows per owner for a sorted owner array."""
    return np.bincount(owner, minlength=n).astype(np.int64)


def sample_rows(cdf: np.ndarray, u: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws: for each ``u[k]`` the column index of ``cdf[row[k]]`` it falls in.

    ``cdf`` is a (n_rows, n_cols) matrix of cumulative probabilities ending in 1.
    """
    return np.minimum((u[:, None] > cdf[row]).sum(axis=1), cdf.shape[1] - 1)
