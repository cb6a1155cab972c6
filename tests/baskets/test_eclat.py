"""The tid-list machinery against plain numpy definitions, and the block/run splitting.

Reference: the dense incidence matrix (``X.T @ X``, its columns' non-zeros) for the building
blocks; the Groceries itemset count at support 0.002 (4,223, tests/reference) for a search
forced into tiny blocks and runs.
"""

from __future__ import annotations

import numpy as np
import pytest

from memberlens.baskets import _eclat, frequent_itemsets
from memberlens.baskets._eclat import (
    basket_layout,
    line_starts,
    longest_basket,
    pair_counts,
    sort_within_baskets,
)


@pytest.fixture
def incidence():
    rng = np.random.default_rng(21)
    dense = rng.random((300, 12)) < rng.uniform(0.02, 0.5, 12)
    basket, item = np.nonzero(dense)  # sorted by basket
    return dense, basket.astype(np.int32), item.astype(np.int16)


def test_pair_counts_equal_the_incidence_product(incidence, monkeypatch):
    dense, basket, item = incidence
    expected = dense.T.astype(np.int64) @ dense.astype(np.int64)
    np.fill_diagonal(expected, 0)
    np.testing.assert_array_equal(pair_counts(basket, item, 12), expected)
    monkeypatch.setattr(_eclat, "_BLOCK_LINES", 7)  # blocks must end on basket boundaries
    np.testing.assert_array_equal(pair_counts(basket, item, 12), expected)


def test_basket_layout_finds_each_baskets_lines(incidence, monkeypatch):
    dense, basket, item = incidence
    monkeypatch.setattr(_eclat, "_BLOCK_LINES", 13)
    starts = line_starts(basket, dense.shape[0] + 2)  # two baskets without lines
    assert longest_basket(starts) == dense.sum(axis=1).max()
    layout = basket_layout(basket, item, starts)
    np.testing.assert_array_equal(np.diff(layout.line_start), np.append(dense.sum(axis=1), [0, 0]))
    t = 17
    lines = slice(layout.line_start[t], layout.line_start[t + 1])
    np.testing.assert_array_equal(layout.item[lines], np.flatnonzero(dense[t]))


def test_sort_within_baskets_keeps_each_baskets_items(incidence, monkeypatch):
    dense, basket, item = incidence
    rng = np.random.default_rng(4)
    shuffled = item.copy()
    for t in range(dense.shape[0]):  # scramble the items inside every basket
        at = np.flatnonzero(basket == t)
        shuffled[at] = rng.permutation(shuffled[at])
    monkeypatch.setattr(_eclat, "_BLOCK_LINES", 10)
    sort_within_baskets(basket, shuffled)
    np.testing.assert_array_equal(shuffled, item)


def test_tiny_blocks_and_runs_find_the_same_itemsets(groceries, arules_reference, monkeypatch):
    expected = frequent_itemsets(groceries, min_support=0.002)
    monkeypatch.setattr(_eclat, "_BLOCK_WORDS", 64)
    monkeypatch.setattr(_eclat, "_BLOCK_LINES", 256)
    monkeypatch.setattr(_eclat, "_BATCH_WORDS", 50)  # about one class per run
    small = frequent_itemsets(groceries, min_support=0.002)
    assert len(small) == arules_reference["frequent_itemsets"][1]["n_itemsets"]
    assert small.equals(expected)
