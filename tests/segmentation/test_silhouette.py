"""Mean silhouettes of several clusterings at once against scikit-learn's silhouette_score
(the peer library the k choice used before, Rousseeuw 1987)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from memberlens.segmentation import _silhouette
from memberlens.segmentation._silhouette import mean_silhouettes


def test_matches_scikit_learn_for_every_k(monkeypatch):
    rng = np.random.default_rng(4)
    points = np.vstack([rng.normal(c, 1.0, (300, 5)) for c in (0.0, 3.0, 6.0)])
    labelings = [
        KMeans(n_clusters=k, n_init=3, random_state=0).fit(points).labels_ for k in range(2, 9)
    ]
    labelings.append(np.r_[np.zeros(len(points) - 1, dtype=int), 1])  # a cluster of one
    expected = [silhouette_score(points, labels) for labels in labelings]
    np.testing.assert_allclose(mean_silhouettes(points, labelings), expected, rtol=1e-12)
    # in blocks of a few rows (bounded memory): the same figures
    monkeypatch.setattr(_silhouette, "BLOCK_CELLS", 7 * len(points))
    np.testing.assert_allclose(mean_silhouettes(points, labelings), expected, rtol=1e-12)


def test_labels_must_form_two_to_n_minus_one_clusters():
    points = np.arange(10.0).reshape(5, 2)
    with pytest.raises(ValueError, match="1 distinct labels"):
        mean_silhouettes(points, [np.zeros(5, dtype=int)])
    with pytest.raises(ValueError, match="5 distinct labels"):
        mean_silhouettes(points, [np.arange(5)])
