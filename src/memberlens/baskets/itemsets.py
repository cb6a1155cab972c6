"""Frequent itemsets with the semantics of R's arules.

An itemset is frequent when it occurs in at least ``ceil(min_support * n_transactions)``
baskets, the count arules' C code uses (``(int)ceil(tacnt *supp)`` in ``istree.c``, Borgelt's
apriori); its verbose "Absolute minimum support count" message prints the floor, one less, which
is the usual off-by-one trap (on Groceries at support 0.001: 13,492 itemsets with 10, 16,188
with 9).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from memberlens.baskets._eclat import (
    ItemsetCounts,
    basket_layout,
    line_starts,
    longest_basket,
    mine_itemsets,
    pair_counts,
    sort_within_baskets,
)
from memberlens.baskets.transactions import blockwise_take, encode_baskets
from memberlens.exceptions import ConfigError

__all__ = ["frequent_itemsets", "min_count"]


def min_count(min_support: float, n_transactions: int) -> int:
    """The basket count a frequent itemset needs: ``ceil(min_support * n_transactions)``, at
    least 1 (arules ``src/istree.c``: ``s_min = (int)ceil(ist->tacnt *ist->supp)``).

    >>> min_count(0.001, 9835), min_count(0.005, 9835)
    (10, 50)
    """
    return max(1, math.ceil(min_support * n_transactions))


def check_support(min_support) -> float:
    if (
        isinstance(min_support, bool)
        or not isinstance(min_support, numbers.Real)
        or not 0 < min_support <= 1
    ):
        raise ConfigError(
            f"min_support must be a share of baskets in (0, 1]; got {min_support!r}. "
            "For an absolute count c over n baskets pass c / n (e.g. 0.001 for 10 in 9,835)"
        )
    return float(min_support)


def check_lengths(min_len, max_len, *, max_len_name: str = "max_len") -> None:
    for name, value in (("min_len", min_len), (max_len_name, max_len)):
        if value is None and name != "min_len":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ConfigError(
                f"{name} must be a whole number >= 1 (items per itemset or rule, "
                f"left and right sides together); got {value!r}"
            )
    if max_len is not None and max_len < min_len:
        raise ConfigError(
            f"max_len ({max_len}) is below min_len ({min_len}); raise max_len or lower min_len"
        )


@dataclass(frozen=True)
class MinedItemsets:
    """Frequent itemsets as rows of item codes (ascending, i.e. in label order) by size, with
    what rule building needs: every item's count, the labels, n and the count threshold."""

    itemsets: ItemsetCounts
    item_counts: np.ndarray
    labels: np.ndarray
    n_transactions: int
    min_count: int


def count_itemsets(baskets, *, min_support: float, max_len: int | None) -> MinedItemsets:
    """Encode ``baskets`` and mine every frequent itemset of at most ``max_len`` items."""
    transactions = encode_baskets(baskets)
    n, labels = transactions.n_transactions, transactions.labels
    threshold = min_count(min_support, n)
    item_counts = transactions.item_counts()
    frequent = np.flatnonzero(item_counts >= threshold)
    # rank frequent items by ascending count (ties by code): short tid-lists come first
    frequent = frequent[np.argsort(item_counts[frequent], kind="stable")]
    rank = np.full(transactions.n_items, -1, dtype=np.int16 if frequent.size < 2**15 else np.int32)
    rank[frequent] = np.arange(frequent.size)
    ranked = blockwise_take(rank, transactions.item)
    on = ranked >= 0
    basket = transactions.basket if on.all() else transactions.basket[on]
    ranked = ranked if on.all() else ranked[on]
    del transactions, on  # only the frequent items' lines are needed from here on
    starts = line_starts(basket, n)
    longest = longest_basket(starts)
    limit = longest if max_len is None else min(max_len, longest)
    pairs = pair_counts(basket, ranked, frequent.size)
    layout = None
    if limit >= 3:
        sort_within_baskets(basket, ranked)
        layout = basket_layout(basket, ranked, starts)
    del starts, basket, ranked
    found = mine_itemsets(
        layout, pairs, item_counts=item_counts[frequent], min_count=threshold, max_len=limit
    )
    del layout
    rows = {
        size: np.sort(frequent[ranked], axis=1)  # back to item codes, in label order
        for size, ranked in found.rows.items()
    }
    return MinedItemsets(
        itemsets=ItemsetCounts(rows=rows, counts=found.counts),
        item_counts=item_counts,
        labels=labels,
        n_transactions=n,
        min_count=threshold,
    )


def _sorted_order(rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Count descending, then items in label order."""
    keys = [rows[:, j] for j in range(rows.shape[1] - 1, -1, -1)] + [-counts]
    return np.lexsort(keys)


def itemset_tuples(labels: np.ndarray, rows: np.ndarray) -> list[tuple]:
    """Rows of item codes as tuples of labels."""
    if rows.shape[1] == 0:
        return [()] * rows.shape[0]
    return list(map(tuple, labels[rows].tolist()))


def frequent_itemsets(
    baskets, *, min_support: float, min_len: int = 1, max_len: int | None = None
) -> pd.DataFrame:
    """Itemsets held by at least ``ceil(min_support * n)`` of the ``n`` baskets (arules rule).

    Returns a frame with ``itemset`` (tuple of items in sorted order), ``size``, ``count`` and
    ``support`` (= count / n), sorted by size, then count descending, then items.
    ``frame.attrs`` holds ``n_transactions`` and ``min_count``.

    >>> baskets = [["milk", "bread"], ["milk", "eggs"], ["milk", "bread", "eggs"], ["tea"]]
    >>> frequent_itemsets(baskets, min_support=0.5)[["itemset", "count"]]
             itemset  count
    0        (milk,)      3
    1       (bread,)      2
    2        (eggs,)      2
    3  (bread, milk)      2
    4   (eggs, milk)      2
    """
    min_support = check_support(min_support)
    check_lengths(min_len, max_len)
    mined = count_itemsets(baskets, min_support=min_support, max_len=max_len)
    found, labels, n = mined.itemsets, mined.labels, mined.n_transactions
    sizes = [size for size in sorted(found.rows) if size >= min_len]
    orders = {size: _sorted_order(found.rows[size], found.counts[size]) for size in sizes}
    counts = np.concatenate(
        [np.empty(0, np.int64)] + [found.counts[size][orders[size]] for size in sizes]
    )
    frame = pd.DataFrame(
        {
            "itemset": [
                t for size in sizes for t in itemset_tuples(labels, found.rows[size][orders[size]])
            ],
            "size": np.repeat(
                np.array(sizes, dtype=np.int64), [orders[size].size for size in sizes]
            ),
            "count": counts,
            "support": counts / n,
        },
        columns=["itemset", "size", "count", "support"],
    )
    frame.attrs.update(n_transactions=n, min_count=mined.min_count)
    return frame
