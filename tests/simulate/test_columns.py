"""Column builders and ragged-array helpers (reference: Python's decimal module and plain loops)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from memberlens.simulate import _columns as col
from memberlens.simulate import _segments as seg


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-(10**15), 10**15), max_size=50))
def test_money_is_exact_cents(cents):
    values = col.money(np.array(cents, dtype=np.int64)).to_pylist()
    assert values == [Decimal(c).scaleb(-2) for c in cents]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=30))
def test_ragged_helpers_match_loops(counts):
    counts = np.array(counts, dtype=np.int64)
    values = np.arange(int(counts.sum()), dtype=float) + 1
    expected_rank, expected_cumsum, expected_sum, k = [], [], [], 0
    for c in counts:  # the loop the helpers replace
        part = values[k : k + c]
        expected_rank += list(range(c))
        expected_cumsum += list(np.cumsum(part))
        expected_sum.append(part.sum())
        k += c
    assert seg.rank_within(counts).tolist() == expected_rank
    assert np.allclose(seg.cumsum_within(values, counts), expected_cumsum)
    assert np.allclose(seg.sum_within(values, counts), expected_sum)
    assert seg.owners(counts).tolist() == [i for i, c in enumerate(counts) for _ in range(c)]


def test_ids_and_timestamps():
    assert col.ids("M", np.array([1, 123]), 9).to_pylist() == ["M000000001", "M000000123"]
    ts = col.timestamps(
        np.datetime64("2024-01-01"), np.array([0.5, 1.25]), valid=np.array([True, False])
    )
    assert [str(v) if v else v for v in ts.to_pylist()] == ["2024-01-01 12:00:00", None]
