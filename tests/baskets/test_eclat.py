"""The tid-list machinery against plain numpy definitions, and the block/run splitting.

Reference: dense incidence-matrix products (``X.T @ X``) and ``np.packbits`` for the building
blocks; the Groceries itemset count at support 0.002 (4,223, tests/reference) for a search
forced into tiny blocks and runs.
"""

from __future__ import annotations

import numpy as np
import pytest

from memberlens.baskets import _eclat, frequent_itemsets
from memberlens.baskets._eclat import packed_tidlists, pair_counts


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


def test_packed_tidlists_equal_packbits(incidence, monkeypatch):
    dense, basket, item = incidence
    monkeypatch.setattr(_eclat, "_BLOCK_LINES", 13)
    bits = packed_tidlists(basket, item, 12, dense.shape[0])
    assert bits.shape == (12, 6)  # five words for 300 baskets and one spare, always zero
    unpacked = np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")
    np.testing.assert_array_equal(unpacked[:, :300].astype(bool), dense.T)
    assert not unpacked[:, 300:].any()


def test_tiny_blocks_and_runs_find_the_same_itemsets(groceries, arules_reference, monkeypatch):
    expected = frequent_itemsets(groceries, min_support=0.002)
    monkeypatch.setattr(_eclat, "_BLOCK_WORDS", 64)
    monkeypatch.setattr(_eclat, "_BATCH_WORDS", 50)  # about one class per run
    small = frequent_itemsets(groceries, min_support=0.002)
    assert len(small) == arules_reference["frequent_itemsets"][1]["n_itemsets"]
    assert small.equals(expected)
