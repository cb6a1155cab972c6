"""Ranking metrics against hand-computed cases, Järvelin & Kekäläinen (2002) and scikit-learn.

References:
- Järvelin, K. & Kekäläinen, J. (2002). Cumulated gain-based evaluation of IR techniques. ACM
  TOIS 20(4), section 2.2: the gain vector G' = <3, 2, 3, 0, 0, 1, 2, 2, 3, 0> has
  DCG' = <3, 5, 6.89, 6.89, 6.89, 7.28, 7.99, 8.66, 9.61, 9.61> (log base 2).
- scikit-learn's ``ndcg_score`` (the log2(i + 1) discount) run side by side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.exceptions import DataError
from memberlens.recommend.metrics import (
    catalogue_coverage,
    dcg,
    hit_rate,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)


def test_dcg_reproduces_jarvelin_kekalainen_example():
    gains = [3, 2, 3, 0, 0, 1, 2, 2, 3, 0]
    published = [3, 5, 6.89, 6.89, 6.89, 7.28, 7.99, 8.66, 9.61, 9.61]
    np.testing.assert_allclose(dcg(gains, variant="jarvelin"), published, atol=0.005)
    # cumulated gain is DCG without discount (the paper's CG' = <3, 5, 8, 8, 8, 9, 11, 13, 16, 16>)
    np.testing.assert_array_equal(np.cumsum(gains), [3, 5, 8, 8, 8, 9, 11, 13, 16, 16])


def test_binary_metrics_on_a_hand_computed_case():
    # member A: hits at ranks 1 and 3 of 4, 3 relevant items; member B: one hit at rank 2 of 4,
    # 1 relevant item; member C: no hit, 2 relevant items
    hits = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=bool)
    relevant = np.array([3, 1, 2])
    np.testing.assert_allclose(precision_at_k(hits, 4), [0.5, 0.25, 0.0])
    np.testing.assert_allclose(recall_at_k(hits, relevant, 4), [2 / 3, 1.0, 0.0])
    np.testing.assert_allclose(hit_rate(hits, 4), [1, 1, 0])
    # A: DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/log2(4) = 2.1309
    # B: DCG = 1/log2(3) = 0.6309; IDCG = 1
    np.testing.assert_allclose(
        ndcg_at_k(hits, relevant, 4), [1.5 / (1 + 1 / np.log2(3) + 0.5), 1 / np.log2(3), 0.0]
    )
    # k shorter than the list, and a list shorter than k (missing ranks are misses)
    np.testing.assert_allclose(precision_at_k(hits, 2), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(precision_at_k(hits[:, :2], 4), [0.25, 0.25, 0.0])


def test_ndcg_matches_scikit_learn():
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(5)
    n_items, k = 30, 10
    truth = (rng.random((40, n_items)) < 0.15).astype(float)
    truth[truth.sum(axis=1) == 0, 0] = 1.0
    scores = rng.random((40, n_items))
    ranked = np.argsort(-scores, axis=1)
    hits = np.take_along_axis(truth, ranked, axis=1).astype(bool)
    ours = ndcg_at_k(hits, truth.sum(axis=1), k)
    theirs = [ndcg_score(truth[i : i + 1], scores[i : i + 1], k=k) for i in range(len(truth))]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_ranking_metrics_from_frames():
    recs = pd.DataFrame(
        {
            "member_id": ["a", "a", "b", "b", "x"],
            "rank": [1, 2, 1, 2, 1],
            "product_id": ["p1", "p2", "p3", "p1", "p9"],
        }
    )
    truth = pd.DataFrame(
        {"member_id": ["a", "a", "b", "c"], "product_id": ["p2", "p2", "p5", "p1"]}
    )
    m = ranking_metrics(recs, truth, k=2, catalogue_size=10)
    # a: hit at rank 2 (1 relevant); b: none; c: no list at all (a miss)
    assert m["members"] == 3
    assert m["precision"] == pytest.approx((0.5 + 0 + 0) / 3)
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["ndcg"] == pytest.approx((1 / np.log2(3)) / 3)
    assert m["hit_rate"] == pytest.approx(1 / 3)
    assert m["coverage"] == pytest.approx(4 / 10)  # p1, p2, p3, p9
    assert catalogue_coverage(["a", "a", "b"], 4) == 0.5


def test_bad_input_is_named():
    with pytest.raises(DataError, match="n_relevant"):
        recall_at_k(np.ones((2, 3), bool), [1, 0], 3)
    with pytest.raises(DataError, match="k: must be"):
        precision_at_k(np.ones((2, 3), bool), 0)
    with pytest.raises(DataError, match="variant"):
        dcg([1, 0], variant="other")
