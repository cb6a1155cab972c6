"""Frequent-itemset counting: pair counts from the baskets, then Eclat on projected bitsets.

Pairs are counted directly from the item pairs inside each basket (:func:`pair_counts`). Longer
itemsets are found class by class (Zaki 2000, *Scalable algorithms for association mining*,
IEEE TKDE 12(3)): the class of item ``a`` holds the itemsets whose first item is ``a``, and
its tid-lists are ``uint64`` bitsets over ``a``'s own transactions only (bit ``j``: the
``j``-th basket holding ``a``), built from the basket lines (:func:`basket_layout`) of the
baskets holding ``a``. The
support of ``P + {i, j}`` is the popcount of the AND of the bitsets of ``P + {i}`` and
``P + {j}``; one numpy call joins every such pair of a level, for a run of classes of similar
size, so Python does a few steps per level, not one per candidate.

Memory stays bounded: beyond the lines themselves (4 + 2 bytes each) and one offset per
basket, every step works in blocks of ``_BLOCK_LINES`` lines or ``_BLOCK_WORDS`` words; a run of
classes holds at most ``_BATCH_WORDS`` words of bitsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BasketLayout",
    "ItemsetCounts",
    "basket_layout",
    "line_starts",
    "longest_basket",
    "mine_itemsets",
    "pair_counts",
    "sort_within_baskets",
]

# Intersect at most this many uint64 words per numpy call (2 MB: the gathered rows stay in cache).
_BLOCK_WORDS = 1 << 18
# Lines per block when building tid-lists and pair counts (a few MB of temporaries).
_BLOCK_LINES = 1 << 18
# Join at most this many projected words per run of classes (see _class_runs).
_BATCH_WORDS = 1 << 19
# Pair keys gathered before one bincount over the whole pair-count matrix (32 MB of keys).
_BLOCK_PAIRS = 1 << 22


@dataclass(frozen=True)
class ItemsetCounts:
    """Frequent itemsets grouped by size: ``rows[k]`` is an ``(n_k, k)`` array of item codes
    (ascending within a row) and ``counts[k]`` the number of transactions holding each."""

    rows: dict[int, np.ndarray]
    counts: dict[int, np.ndarray]


@dataclass(frozen=True)
class BasketLayout:
    """The lines of the frequent items: ``basket`` (sorted) and its ``item``, and
    ``line_start[t]``, the first line of basket ``t`` (so basket ``t`` is lines
    ``line_start[t]:line_start[t + 1]``)."""

    basket: np.ndarray
    item: np.ndarray
    line_start: np.ndarray


def line_starts(basket: np.ndarray, n_transactions: int) -> np.ndarray:
    """First line of every basket and one past the last line (``basket`` sorted), so basket
    ``t`` is lines ``starts[t]:starts[t + 1]``."""
    starts = np.searchsorted(basket, np.arange(n_transactions + 1, dtype=basket.dtype))
    return starts.astype(np.int32) if basket.size < 2**31 else starts


def longest_basket(starts: np.ndarray) -> int:
    """Most lines in one basket (blockwise, without a full-length difference array)."""
    longest = 0
    for start in range(0, starts.size - 1, _BLOCK_LINES):
        longest = max(longest, int(np.diff(starts[start : start + _BLOCK_LINES + 1]).max()))
    return longest


def basket_layout(basket: np.ndarray, item: np.ndarray, starts: np.ndarray) -> BasketLayout:
    """Index (basket, item) lines: ``basket`` sorted, items ascending within each basket
    (:func:`sort_within_baskets`), ``starts`` from :func:`line_starts`."""
    return BasketLayout(basket=basket, item=item, line_start=starts)


def sort_within_baskets(basket: np.ndarray, item: np.ndarray) -> None:
    """Sort ``item`` in place within each basket (``basket`` sorted), block by block."""
    start = 0
    while start < basket.size:
        stop = _block_end(basket, start)
        order = np.lexsort((item[start:stop], basket[start:stop]))
        item[start:stop] = item[start:stop][order]
        start = stop


def _block_end(basket: np.ndarray, start: int) -> int:
    """End of the block of whole baskets starting at line ``start`` (about _BLOCK_LINES)."""
    stop = min(basket.size, start + _BLOCK_LINES)
    if stop < basket.size:
        stop = int(np.searchsorted(basket, basket[stop], side="left"))
        if stop == start:  # one basket longer than a block: take it whole
            stop = int(np.searchsorted(basket, basket[start], side="right"))
    return stop


def pair_counts(basket: np.ndarray, row: np.ndarray, n_rows: int) -> np.ndarray:
    """The symmetric ``(n_rows, n_rows)`` matrix of how many transactions hold both rows.

    ``basket`` must be sorted and the pairs distinct. Pairs of lines ``d`` apart in the same
    basket are counted for ``d = 1, 2, ...``; the positions still inside a basket shrink at
    each step, so the work is the number of item pairs. Runs over blocks of whole baskets."""
    counts = np.zeros(n_rows * n_rows, dtype=np.int64)
    pending: list[np.ndarray] = []  # pair keys, counted together once they reach a block
    held = 0
    start = 0
    while start < basket.size:
        stop = _block_end(basket, start)
        tid, code = basket[start:stop], row[start:stop].astype(np.int64)
        at = np.arange(tid.size - 1)
        for d in range(1, tid.size):
            at = at[at + d < tid.size]
            at = at[tid[at + d] == tid[at]]
            if not at.size:
                break
            low, high = code[at], code[at + d]
            pending.append(np.minimum(low, high) * n_rows + np.maximum(low, high))
            held += at.size
            # one bincount (a pass over all n_rows^2 counts) per _BLOCK_PAIRS pairs, not per
            # distance: long baskets (wholesale orders of hundreds of lines) made it per distance
            if held >= _BLOCK_PAIRS:
                counts += np.bincount(np.concatenate(pending), minlength=n_rows * n_rows)
                pending, held = [], 0
        start = stop
    if pending:
        counts += np.bincount(np.concatenate(pending), minlength=n_rows * n_rows)
    counts = counts.reshape(n_rows, n_rows)
    return counts + counts.T


def _group_pairs(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``i < j`` of rows with the same (contiguous) group id."""
    n = group.size
    bounds = np.flatnonzero(np.diff(group)) + 1
    ends = np.repeat(np.append(bounds, n), np.diff(np.concatenate([[0], bounds, [n]])))
    partners = ends - np.arange(n) - 1
    first = np.repeat(np.arange(n), partners)
    offset = np.arange(first.size) - np.repeat(np.cumsum(partners) - partners, partners)
    return first, first + 1 + offset


def _frequent_pairs(
    tids: np.ndarray, first: np.ndarray, second: np.ndarray, min_count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersect the tid-lists of rows ``first[p]`` and ``second[p]`` for every pair ``p``;
    keep the pairs held by at least ``min_count`` transactions, in pair order. Returns (kept
    pair positions, their counts, their tid-lists); works in blocks of bounded size."""
    step = max(1, _BLOCK_WORDS // max(1, tids.shape[1]))
    kept_pos, kept_counts, kept_tids = [], [], []
    for start in range(0, first.size, step):
        block = tids[first[start : start + step]]
        np.bitwise_and(block, tids[second[start : start + step]], out=block)
        counts = np.bitwise_count(block).sum(axis=1, dtype=np.int64)
        keep = np.flatnonzero(counts >= min_count)
        kept_pos.append(keep + start)
        kept_counts.append(counts[keep])
        kept_tids.append(block[keep])
    if len(kept_pos) <= 1:
        empty = np.empty(0, dtype=np.int64)
        return (
            (kept_pos[0], kept_counts[0], kept_tids[0])
            if kept_pos
            else (empty, empty, np.empty((0, tids.shape[1]), dtype=np.uint64))
        )
    return np.concatenate(kept_pos), np.concatenate(kept_counts), np.concatenate(kept_tids)


def _class_runs(counts: np.ndarray, per_item: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs ``[lo, hi)`` of classes (in ascending count order) mined together, with their
    common projected width in words: the first class's count at most doubles within a run, and
    a run holds at most ``_BATCH_WORDS`` words of pair tid-lists and (unless it is one class)
    ``_BLOCK_LINES`` baskets."""
    runs, lo, n_items = [], 0, counts.size
    while lo < n_items:
        if per_item[lo] < 2:  # a class needs two pairs before anything can be joined
            lo += 1
            continue
        hi, pairs, cap = lo + 1, int(per_item[lo]), 2 * int(counts[lo]) + 64
        lines = int(counts[lo])
        while (
            hi < n_items
            and counts[hi] <= cap  # similar widths: little padding
            and (pairs + per_item[hi]) * (int(counts[hi]) // 64 + 1) <= _BATCH_WORDS
            and lines + counts[hi] <= _BLOCK_LINES
        ):
            pairs, lines, hi = pairs + int(per_item[hi]), lines + int(counts[hi]), hi + 1
        runs.append((lo, hi, int(counts[lo:hi].max()) // 64 + 1))
        lo = hi
    return runs


def _class_lines(
    lo: int, hi: int, layout: BasketLayout
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lines of items ``lo..hi-1`` grouped by item, baskets ascending within an item: their
    basket, their item minus ``lo``, and the line itself. One scan of the lines per run."""
    found = []
    for start in range(0, layout.item.size, _BLOCK_LINES):
        block = layout.item[start : start + _BLOCK_LINES]
        at = np.flatnonzero((block >= lo) & (block < hi))
        found.append(
            (
                layout.basket[start + at],
                (block[at] - lo).astype(np.int32),
                (start + at).astype(layout.line_start.dtype),
            )
        )
    tid, owner, line = (np.concatenate([f[i] for f in found]) for i in range(3))
    del found
    order = np.argsort(owner, kind="stable")  # stable: baskets stay ascending
    return tid[order], owner[order], line[order]


def _project(
    lo: int, hi: int, width: int, pair_row: np.ndarray, n_pairs: int, layout: BasketLayout
) -> np.ndarray:
    """Tid-lists of the frequent pairs of classes ``lo..hi-1``, each over its class's own
    transactions: bit ``j`` of pair ``(a, b)`` is set when the ``j``-th transaction holding
    ``a`` holds ``b``. Built from the transactions' lines, in blocks."""
    tids, owners, lines = _class_lines(lo, hi, layout)
    held = np.bincount(owners, minlength=hi - lo)
    ranks = (np.arange(tids.size) - np.repeat(np.cumsum(held) - held, held)).astype(np.int32)
    out = np.zeros(n_pairs * width, dtype=np.uint64)
    step = max(1, _BLOCK_LINES // 16)
    for start in range(0, tids.size, step):
        tid, owner = tids[start : start + step], owners[start : start + step]
        # items are sorted within a basket, so the partners (later items) follow the class item
        begin = lines[start : start + step] + 1
        size = layout.line_start[tid + 1] - begin
        line = np.repeat(begin - np.cumsum(size) + size, size) + np.arange(int(size.sum()))
        row = pair_row[np.repeat(owner, size), layout.item[line]]
        keep = row >= 0
        rank = np.repeat(ranks[start : start + step], size)[keep]
        np.bitwise_or.at(
            out,
            row[keep].astype(np.int64) * width + (rank >> 6),
            np.left_shift(np.uint64(1), (rank & 63).astype(np.uint64)),
        )
    return out.reshape(n_pairs, width)


def mine_itemsets(
    layout: BasketLayout | None,
    pair_counts: np.ndarray,
    *,
    item_counts: np.ndarray,
    min_count: int,
    max_len: int,
) -> ItemsetCounts:
    """All itemsets of at most ``max_len`` items held by at least ``min_count`` transactions.

    Items are ``0..n_items-1`` in ascending count order, all frequent; ``pair_counts`` is the
    symmetric matrix of co-occurrence counts; ``layout`` is needed for ``max_len >= 3``. The
    search runs over equivalence classes (Zaki
    2000): the class of item ``a`` holds the itemsets whose first item is ``a``, and its
    tid-lists are bitsets over ``a``'s own transactions (a few words for a rare item instead of
    one bit per basket). A class is mined level by level, joining every two itemsets that differ
    only in their last item, all joins of a level (and of a run of classes of similar size) in
    one batch; a join whose two last items are not a frequent pair cannot be frequent
    (Apriori's downward closure) and is skipped.
    """
    counts = np.asarray(item_counts, dtype=np.int64)
    n_items = counts.size
    rows: dict[int, list[np.ndarray]] = {1: [np.arange(n_items, dtype=np.int64)[:, None]]}
    found: dict[int, list[np.ndarray]] = {1: [counts.astype(np.int64)]}
    frequent_pairs = np.triu(pair_counts >= min_count, k=1)
    if max_len >= 2:
        first, second = np.nonzero(frequent_pairs)
        rows[2] = [np.column_stack([first, second]).astype(np.int64)]
        found[2] = [pair_counts[first, second].astype(np.int64)]
    runs = _class_runs(counts, frequent_pairs.sum(axis=1)) if max_len >= 3 else []
    for lo, hi, width in runs:
        first, second = np.nonzero(frequent_pairs[lo:hi])
        pair_row = np.full((hi - lo, n_items), -1, dtype=np.int32)
        pair_row[first, second] = np.arange(first.size)
        tids = _project(lo, hi, width, pair_row, first.size, layout)
        items = np.column_stack([first + lo, second])
        group, size = first, 2
        while size < max_len and items.shape[0] > 1:
            first, second = _group_pairs(group)
            ok = frequent_pairs[items[first, -1], items[second, -1]]
            pos, cnt, tids = _frequent_pairs(tids, first[ok], second[ok], min_count)
            if not pos.size:
                break
            first, second = first[ok][pos], second[ok][pos]
            items = np.column_stack([items[first], items[second, -1]])
            group = first
            size += 1
            rows.setdefault(size, []).append(items)
            found.setdefault(size, []).append(cnt)
    return ItemsetCounts(
        rows={k: np.concatenate(v) for k, v in rows.items()},
        counts={k: np.concatenate(v) for k, v in found.items()},
    )
