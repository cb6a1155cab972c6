"""Top-k per member from a score matrix: excluded items, and a cap per category (diversity).

Everything is vectorised over the rows of a batch: ``argpartition`` keeps a few of the best
candidates (``3k``), a stable sort ranks each candidate within its (row, category) group, and
the first ``k`` kept candidates of each row are returned in score order; the rows whose answer
could change with more candidates are done again with more.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from memberlens.exceptions import DataError

__all__ = ["opt_out_pairs", "top_k"]


def _occurrence(rows: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """For each position (in row-major order) the number of earlier positions of the same row
    with the same group."""
    flat = rows.ravel() * (int(groups.max()) + 1) + groups.ravel()
    order = np.argsort(flat, kind="stable")
    ranked = flat[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    run = np.repeat(starts, np.diff(np.r_[starts, len(ranked)]))
    occurrence = np.empty(len(flat), dtype=np.int64)
    occurrence[order] = np.arange(len(flat)) - run
    return occurrence.reshape(groups.shape)


def _select(
    key: np.ndarray, k: int, candidates: int, category: np.ndarray | None, cap: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` allowed items of each row among its ``candidates`` highest keys, and
    whether each row's answer is settled: it holds ``k`` items and the ``k``-th key is above
    every key left out, so looking at more items cannot change it (ties included)."""
    b, n = key.shape
    if candidates < n and b == 1:  # one member (serving): a value partition is cheaper
        row = key[0]
        threshold = np.partition(row, n - candidates)[n - candidates]
        found = np.flatnonzero(row >= threshold)
        if len(found) > 4 * candidates:  # many equal keys (e.g. excluded items): exact path
            found = np.argpartition(row, n - candidates)[n - candidates :]
        cand = found[None, :]
    elif candidates < n:  # the largest keys sit at the end of an ascending partition
        cand = np.argpartition(key, n - candidates, axis=1)[:, n - candidates :]
    else:
        cand = np.broadcast_to(np.arange(n), (b, n))
    values = np.take_along_axis(key, cand, axis=1)
    # every key left out of the candidates is at most the smallest candidate key
    floor = values.min(axis=1) if candidates < n else np.full(b, -np.inf, dtype=key.dtype)
    # score descending, ties by item index (deterministic whatever argpartition returned)
    order = np.lexsort((cand, -values), axis=1)
    cand = np.take_along_axis(cand, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    keep = np.isfinite(values)
    if cap is not None and category is not None:
        cats = category[cand]
        groups = np.where(cats >= 0, cats + 1, 0)
        occurrence = _occurrence(np.broadcast_to(np.arange(b)[:, None], cand.shape), groups)
        keep &= (occurrence < cap) | (cats < 0)
    position = np.cumsum(keep, axis=1)
    take = keep & (position <= k)
    rows, cols = np.nonzero(take)
    out = np.full((b, k), -1, dtype=np.int64)
    out[rows, position[rows, cols] - 1] = cand[rows, cols]
    last = np.full(b, -np.inf, dtype=np.float64)
    at_k = take & (position == k)
    last[np.nonzero(at_k)[0]] = values[at_k]
    settled = (take.sum(axis=1) == k) & (last > floor) if candidates < n else np.ones(b, bool)
    return out, settled


def top_k(
    key: np.ndarray,
    k: int,
    *,
    category: np.ndarray | None = None,
    max_per_category: int | None = None,
) -> np.ndarray:
    """Item indices (``rows x k``, ``-1`` where fewer than ``k`` items are allowed) of the
    highest finite ``key`` per row, at most ``max_per_category`` per category (``category``:
    code per item, ``-1`` = none, never capped). Ties go to the lower item index.

    One partial pass (``argpartition``) keeps a few candidates per row (``3k``); only the rows
    those leave unsettled (too many items capped or excluded, or a tie at the edge) are
    looked at again with more candidates, then with all items: the answer is the one a full
    sort of every row gives."""
    n = key.shape[1]
    k = min(int(k), n)
    if k == 0:
        return np.full((key.shape[0], 0), -1, dtype=np.int64)
    capped = max_per_category is not None and category is not None
    tiers = [min(n, 3 * k), min(n, k * 20 + 100) if capped else min(n, 6 * k), n]
    rows = np.arange(key.shape[0])
    out = np.full((key.shape[0], k), -1, dtype=np.int64)
    for candidates in sorted(set(tiers)):
        part = key if len(rows) == key.shape[0] else key[rows]
        found, settled = _select(part, k, candidates, category, max_per_category)
        out[rows] = found
        rows = rows[~settled]
        if rows.size == 0:
            break
    return out


def opt_out_pairs(opted_out, categories: np.ndarray) -> pd.DataFrame | None:
    """(member_id, code) of the catalogue categories members opted out of, from a mapping
    ``member_id -> categories`` or a frame with member_id and category; unknown categories
    are dropped (nothing of theirs can be recommended anyway)."""
    if opted_out is None:
        return None
    if isinstance(opted_out, pd.DataFrame):
        if not {"member_id", "category"} <= set(opted_out.columns):
            raise DataError(
                "opted_out: a frame needs member_id and category columns; found "
                f"{list(opted_out.columns)}"
            )
        pairs = opted_out[["member_id", "category"]]
    elif isinstance(opted_out, Mapping):
        rows = [
            (m, c)
            for m, cats in opted_out.items()
            for c in ([cats] if isinstance(cats, str) else cats)
        ]
        pairs = pd.DataFrame(rows, columns=["member_id", "category"], dtype=object)
    else:
        raise DataError(
            "opted_out: pass a mapping member_id -> categories or a frame with "
            f"member_id and category; got {type(opted_out).__name__}"
        )
    codes = pd.Index(categories).get_indexer(pairs["category"].astype(str))
    out = pd.DataFrame({"member_id": pairs["member_id"].to_numpy(), "code": codes})
    return out[out["code"] >= 0]
