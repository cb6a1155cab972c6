"""Fixtures for the basket tests: Groceries, its arules reference figures and a naive counter.

The naive counter is the definition itself (every subset of every basket, counted with Python
sets, threshold ``ceil(min_support * n)`` as in arules), small enough to trust by reading.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest

from memberlens.datasets import load_groceries

REFERENCE = Path(__file__).parents[1] / "reference" / "groceries_arules.json"


@pytest.fixture(scope="session")
def groceries() -> list[list[str]]:
    return load_groceries()


@pytest.fixture(scope="session")
def arules_reference() -> dict:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def _naive_itemsets(baskets, min_support, max_len=None):
    """{frozenset(items): count} of every itemset held by >= ceil(min_support * n) baskets."""
    n = len(baskets)
    threshold = max(1, math.ceil(min_support * n))
    counts = Counter()
    for basket in baskets:
        items = sorted(set(basket))
        top = len(items) if max_len is None else min(max_len, len(items))
        for size in range(1, top + 1):
            counts.update(frozenset(c) for c in combinations(items, size))
    return {s: c for s, c in counts.items() if c >= threshold}


def _naive_rules(baskets, min_support, min_confidence, min_len=1, max_len=10):
    """{(antecedent frozenset, consequent): (count, antecedent count)} as arules builds them."""
    n = len(baskets)
    frequent = _naive_itemsets(baskets, min_support, max_len)
    rules = {}
    for itemset, count in frequent.items():
        if len(itemset) < min_len:
            continue
        for item in itemset:
            lhs = itemset - {item}
            lhs_count = frequent[lhs] if lhs else n
            if count / lhs_count >= min_confidence - 1e-12:
                rules[(lhs, item)] = (count, lhs_count)
    return rules


@pytest.fixture(scope="session")
def naive_itemsets():
    return _naive_itemsets


@pytest.fixture(scope="session")
def naive_rules():
    return _naive_rules
