"""Frequent itemsets: Groceries counts by size (arules threshold ceil(support * n), verified
with mlxtend 0.25.0 fpgrowth, see tests/reference/README.md), the floor off-by-one trap, and a
naive counter on random baskets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memberlens.baskets import frequent_itemsets, min_count
from memberlens.exceptions import ConfigError


@pytest.mark.parametrize("case", range(6), ids=["0.001", "0.002", "0.005", "0.01", "0.02", "0.05"])
def test_groceries_itemset_counts_by_size(groceries, arules_reference, case):
    expected = arules_reference["frequent_itemsets"][case]
    itemsets = frequent_itemsets(groceries, min_support=expected["min_support"])
    assert len(itemsets) == expected["n_itemsets"]
    by_size = {str(k): int(v) for k, v in itemsets["size"].value_counts().sort_index().items()}
    assert by_size == expected["by_size"]
    assert itemsets.attrs["min_count"] == expected["min_count"]
    assert itemsets["count"].min() >= expected["min_count"]


def test_floor_threshold_is_the_off_by_one_trap(groceries, arules_reference):
    trap = arules_reference["off_by_one_trap"]
    # arules prints floor(0.001 * 9835) = 9 as "Absolute minimum support count" but mines with 10
    assert min_count(0.001, 9835) == 10
    itemsets = frequent_itemsets(groceries, min_support=0.0009)  # ceil(8.85) = 9
    assert itemsets.attrs["min_count"] == trap["min_count"]
    assert len(itemsets) == trap["n_itemsets"]


def test_min_count_is_arules_ceiling():
    assert [min_count(s, 9835) for s in (0.001, 0.005, 0.01, 0.02, 0.05)] == [10, 50, 99, 197, 492]
    assert min_count(1e-9, 10) == 1


def test_top_single_items_match_arules_summary(groceries, arules_reference):
    singles = frequent_itemsets(groceries, min_support=0.05, max_len=1)
    got = dict(zip(singles["itemset"].str[0], singles["count"]))
    for item, count in arules_reference["top_items"].items():
        assert got[item] == count
    assert singles["itemset"].iloc[0] == ("whole milk",)


def test_length_limits_and_layout(groceries, arules_reference):
    expected = arules_reference["frequent_itemsets"][0]["by_size"]
    three = frequent_itemsets(groceries, min_support=0.001, min_len=3, max_len=3)
    assert set(three["size"]) == {3} and len(three) == expected["3"]
    assert list(three.columns) == ["itemset", "size", "count", "support"]
    assert three["count"].is_monotonic_decreasing
    assert all(list(t) == sorted(t) for t in three["itemset"])
    np.testing.assert_allclose(three["support"], three["count"] / 9835)


def test_trailing_space_labels_are_kept(groceries):
    singles = frequent_itemsets(groceries, min_support=0.001, max_len=1)
    assert ("cream cheese ",) in set(singles["itemset"])


def test_nothing_frequent_gives_an_empty_frame():
    itemsets = frequent_itemsets([["a"], ["b"], ["c"]], min_support=0.9)
    assert itemsets.empty and list(itemsets.columns) == ["itemset", "size", "count", "support"]


def test_bad_lengths_raise():
    with pytest.raises(ConfigError, match="max_len"):
        frequent_itemsets([["a"]], min_support=0.5, max_len=0)


@settings(max_examples=150, deadline=None)
@given(
    baskets=st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=7), min_size=1, max_size=30),
    min_support=st.floats(0.01, 1.0),
    max_len=st.none() | st.integers(1, 5),
)
def test_itemsets_equal_a_naive_counter(naive_itemsets, baskets, min_support, max_len):
    itemsets = frequent_itemsets(baskets, min_support=min_support, max_len=max_len)
    got = dict(zip(itemsets["itemset"].map(frozenset), itemsets["count"]))
    assert len(got) == len(itemsets)
    assert got == naive_itemsets(baskets, min_support, max_len)


def test_many_baskets_with_planted_pairs_equal_a_naive_counter(naive_itemsets):
    # longer baskets over a skewed catalogue: exercises multi-word tid-lists and deep levels
    rng = np.random.default_rng(11)
    popularity = 1 / np.arange(1, 31)
    sizes = rng.integers(0, 9, 700)
    baskets = [list(rng.choice(30, size=s, p=popularity / popularity.sum())) for s in sizes]
    baskets = [b + [29] if 0 in b else b for b in baskets]  # planted: item 0 pulls item 29
    itemsets = frequent_itemsets(baskets, min_support=0.01)
    got = dict(zip(itemsets["itemset"].map(frozenset), itemsets["count"]))
    assert got == naive_itemsets(baskets, 0.01)
    pair = itemsets[itemsets["itemset"] == (0, 29)]
    assert pair["count"].item() == sum(0 in b for b in baskets)
    assert isinstance(itemsets, pd.DataFrame)
