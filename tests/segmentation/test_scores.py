"""RFM quantile scores. Outside references: numpy / pandas quantiles and pandas.qcut."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from memberlens.exceptions import DataError
from memberlens.features import rfm_summary
from memberlens.segmentation import RFMScorer, quantile_edges, scores_from_edges


@pytest.fixture(scope="module")
def cdnow_summary(cdnow_orders):
    return rfm_summary(cdnow_orders, as_of="1998-06-30").to_pandas()


def test_edges_equal_pandas_quantiles(cdnow_summary):
    for column in ("days_since_last", "frequency", "total_spend"):
        expected = cdnow_summary[column].quantile([0.2, 0.4, 0.6, 0.8]).to_numpy()
        np.testing.assert_allclose(quantile_edges(cdnow_summary[column]), expected, rtol=1e-15)


def test_scores_equal_pandas_qcut_on_distinct_values():
    values = np.random.default_rng(7).gamma(2.0, 30.0, size=1_000)
    expected = pd.qcut(values, 5, labels=False) + 1
    got = scores_from_edges(values, quantile_edges(values))
    np.testing.assert_array_equal(got, expected)
    assert np.bincount(got)[1:].tolist() == [200] * 5


def test_ties_share_a_score_and_leave_scores_empty(cdnow_summary):
    """CDNOW: 60 % never repeat, so two F edges coincide at 0 and score 2 stays empty."""
    scorer = RFMScorer().fit(cdnow_summary)
    np.testing.assert_array_equal(scorer.edges_["F"], [0.0, 0.0, 1.0, 3.0])
    scores = scorer.transform(cdnow_summary)
    by_value = scores.groupby(cdnow_summary.frequency).F.nunique()
    assert (by_value == 1).all()  # equal values, equal score
    assert set(scores.F) == {1, 3, 4, 5}  # frequency 1 -> 3, 2..3 -> 4, 4+ -> 5
    assert scores.F[cdnow_summary.frequency == 0].eq(1).all()


def test_recency_more_recent_scores_higher():
    summary = pd.DataFrame(
        {
            "member_id": list("abcdefghij"),
            "days_since_last": np.arange(10) * 10,
            "frequency": np.arange(10),
            "total_spend": np.arange(10) * 1.0,
        }
    )
    scores = RFMScorer().fit_transform(summary)
    assert scores.R.tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert scores.F.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores.rfm_cell.iloc[0] == "511" and scores.rfm_total.iloc[0] == 7


def test_estimator_contract(cdnow_summary):
    scorer = RFMScorer(n_bins=4, monetary="monetary_value")
    with pytest.raises(NotFittedError):
        scorer.transform(cdnow_summary)
    before = cdnow_summary.copy()
    assert scorer.fit(cdnow_summary) is scorer
    pd.testing.assert_frame_equal(cdnow_summary, before)
    assert clone(scorer).get_params() == scorer.get_params()
    assert not hasattr(clone(scorer), "edges_")
    assert len(scorer.edges_["M"]) == 3
    assert scorer.edges_frame().shape == (9, 4)


def test_bad_settings_are_refused(cdnow_summary):
    with pytest.raises(DataError, match="n_bins"):
        RFMScorer(n_bins=1).fit(cdnow_summary)
    with pytest.raises(DataError, match="lacks column.*spend"):
        RFMScorer(monetary="spend").fit(cdnow_summary)
    with pytest.raises(DataError, match="finite"):
        quantile_edges([1.0, np.nan])


def test_engine_scores_equal_numpy_scores(backend, on_backend, cdnow_orders, cdnow_summary):
    scorer = RFMScorer().fit(cdnow_summary)
    orders = on_backend(cdnow_orders, "cdnow_orders")
    table = scorer.score_table(rfm_summary(orders, as_of="1998-06-30"))
    got = backend.to_pandas(table.select("member_id", "R", "F", "M", "rfm_cell", "rfm_total"))
    got = got.sort_values("member_id").reset_index(drop=True)
    expected = scorer.transform(cdnow_summary).sort_values("member_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
