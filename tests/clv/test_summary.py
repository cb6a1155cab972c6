"""Summary validation and compression into counts of identical rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.clv._summary import compress, read_summary
from memberlens.exceptions import DataError

COLUMNS = ("frequency", "recency", "T")


def test_compress_keeps_the_sufficient_statistics(cdnow_summary):
    arrays = read_summary(cdnow_summary, COLUMNS, who="test")
    data = compress(arrays, COLUMNS)
    assert data.n_members == 2357
    expected = cdnow_summary.astype({"frequency": float}).groupby(list(COLUMNS)).size()
    got = pd.Series(
        data.weights,
        index=pd.MultiIndex.from_arrays([data.columns[c] for c in COLUMNS], names=list(COLUMNS)),
    ).sort_index()
    pd.testing.assert_series_equal(got, expected.astype(float), check_names=False)


def test_zero_weights_are_dropped_and_weights_add():
    frame = pd.DataFrame(
        {
            "frequency": [1, 1, 0],
            "recency": [2.0, 2.0, 0.0],
            "T": [5.0] * 3,
            "weights": [2.0, 3.0, 0.0],
        }
    )
    data = compress(read_summary(frame, COLUMNS, who="test"), COLUMNS)
    assert data.weights.tolist() == [5.0]


def test_messages_name_member_rule_and_fix():
    frame = pd.DataFrame(
        {"member_id": ["a", "b"], "frequency": [0, 2], "recency": [1.5, 3.0], "T": [4.0, 4.0]}
    )
    with pytest.raises(DataError) as info:
        read_summary(frame, COLUMNS, who="BetaGeoModel")
    text = str(info.value)
    assert "recency must be 0 when frequency is 0" in text and "'a'" in text and "fix" in text
    with pytest.raises(DataError, match="pandas DataFrame"):
        read_summary(np.zeros((2, 3)), COLUMNS, who="x")
