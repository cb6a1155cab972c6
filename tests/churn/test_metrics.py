"""Metrics against scikit-learn and hand-built lift tables."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from memberlens.churn import lift_table, score_metrics


def test_perfect_score_puts_every_positive_in_the_top_deciles():
    # reference: by hand, 30 positives out of 100 fill deciles 1-3 exactly
    y = np.r_[np.ones(30), np.zeros(70)]
    score = np.linspace(1, 0, 100)
    lift = lift_table(y, score)
    assert lift["positives"].tolist() == [10, 10, 10, 0, 0, 0, 0, 0, 0, 0]
    assert lift["capture_rate"].tolist()[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert lift["lift"].iloc[0] == pytest.approx(1 / 0.3)


def test_score_metrics_agree_with_sklearn():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 500)
    s = np.clip(0.3 * y + rng.random(500) * 0.7, 0, 1)
    m = score_metrics("x", y, s)
    assert m.auc == pytest.approx(roc_auc_score(y, s))
    assert m.brier == pytest.approx(np.mean((s - y) ** 2))
    assert m.to_dict()["model"] == "x"
