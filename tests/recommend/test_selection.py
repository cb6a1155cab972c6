"""Top-k selection (``memberlens.recommend._selection.top_k``) against its definition: a full
stable sort of each row (score descending, ties to the lower item index), then the items taken in
that order, skipping excluded (non-finite) ones and any beyond ``max_per_category`` per category.
The reference is that definition written as a plain Python loop over ``sorted``."""

from __future__ import annotations

import numpy as np
import pytest

from memberlens.recommend._selection import top_k


def reference_top_k(key, k, category=None, cap=None):
    out = np.full((key.shape[0], min(k, key.shape[1])), -1, dtype=np.int64)
    for r, row in enumerate(key):
        taken: list[int] = []
        per_category: dict[int, int] = {}
        for item in sorted(range(len(row)), key=lambda i: (-row[i], i)):
            if len(taken) == out.shape[1]:
                break
            if not np.isfinite(row[item]):
                continue
            c = -1 if category is None else int(category[item])
            if cap is not None and category is not None and c >= 0:
                if per_category.get(c, 0) >= cap:
                    continue
                per_category[c] = per_category.get(c, 0) + 1
            taken.append(item)
        out[r, : len(taken)] = taken
    return out


@pytest.mark.parametrize("cap", [None, 1, 4])
@pytest.mark.parametrize("seed", range(4))
def test_top_k_is_the_full_sort_with_ties_exclusions_and_caps(seed, cap):
    rng = np.random.default_rng(seed)
    b, n, k = 60, 400, 10
    # few distinct values: many ties, also at the edge of the first candidates
    key = rng.integers(0, 40, size=(b, n)).astype(np.float32)
    key[rng.random((b, n)) < 0.3] = -np.inf  # excluded items
    key[0, :] = -np.inf  # a row with nothing allowed
    key[1, 5:] = -np.inf  # a row with fewer allowed items than k
    key[2, :] = 7.0  # a row of equal keys
    category = rng.integers(-1, 6, size=n)  # few categories: the cap leaves rows short
    got = top_k(key, k, category=category, max_per_category=cap)
    np.testing.assert_array_equal(got, reference_top_k(key, k, category, cap))


def test_top_k_of_one_row_and_of_continuous_scores():
    rng = np.random.default_rng(11)
    key = rng.normal(size=(200, 1500)).astype(np.float32)
    category = rng.integers(0, 30, size=1500)
    np.testing.assert_array_equal(
        top_k(key, 10, category=category, max_per_category=4),
        reference_top_k(key, 10, category, 4),
    )
    np.testing.assert_array_equal(
        top_k(key[:1], 10, category=category, max_per_category=2),
        reference_top_k(key[:1], 10, category, 2),
    )
    np.testing.assert_array_equal(top_k(key, 10), reference_top_k(key, 10))
