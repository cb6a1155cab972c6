"""Top-k ranking metrics for offline evaluation (binary relevance: bought in the test period).

Per member, with ``hits[i]`` true when the item at rank ``i + 1`` is relevant and ``n_relevant``
the number of relevant items:

- precision@k = hits in the top k / k
- recall@k = hits in the top k / n_relevant
- hit rate@k = 1 when at least one hit in the top k
- NDCG@k = DCG@k / IDCG@k with ``DCG@k = sum_{i=1..k} rel_i / log2(i + 1)`` and IDCG@k the
  DCG of the ideal ranking (``min(n_relevant, k)`` hits first). This is the form of Burges et al.
  (2005) used by scikit-learn's ``ndcg_score``, trec_eval and ``implicit``; Järvelin &
  Kekäläinen (2002), section 2.2, define ``DCG[i] = CG[i]`` for ``i < b`` and
  ``DCG[i-1] + G[i] / log_b(i)`` from ``i = b`` on (:func:`dcg` with ``variant="jarvelin"``).
- catalogue coverage = distinct items recommended to anyone / items that could be recommended.

Each metric is a pure function of arrays; :func:`ranking_metrics` builds the arrays from frames
and averages over the members who bought something in the test period.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from memberlens.exceptions import DataError

__all__ = [
    "catalogue_coverage",
    "dcg",
    "hit_rate",
    "hits_matrix",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_metrics",
    "recall_at_k",
]


def _hits(hits, k: int) -> np.ndarray:
    array = np.asarray(hits, dtype=bool)
    if array.ndim != 2:
        raise DataError(f"hits: expected a members x ranks 0/1 matrix, got shape {array.shape}")
    if isinstance(k, bool) or int(k) < 1:
        raise DataError(f"k: must be a positive integer, got {k!r}")
    top = array[:, : int(k)]
    if top.shape[1] < k:  # fewer recommendations than k: the missing ranks are misses
        top = np.pad(top, ((0, 0), (0, int(k) - top.shape[1])))
    return top


def _relevant(n_relevant, rows: int) -> np.ndarray:
    counts = np.asarray(n_relevant, dtype=float)
    if counts.shape != (rows,) or (counts < 1).any():
        raise DataError(
            "n_relevant: one count >= 1 per member (members with nothing "
            "relevant cannot be scored; leave them out)"
        )
    return counts


def precision_at_k(hits, k: int) -> np.ndarray:
    """Per member: hits among the first ``k`` ranks / ``k``."""
    return _hits(hits, k).sum(axis=1) / float(k)


def recall_at_k(hits, n_relevant, k: int) -> np.ndarray:
    """Per member: hits among the first ``k`` ranks / relevant items."""
    top = _hits(hits, k)
    return top.sum(axis=1) / _relevant(n_relevant, top.shape[0])


def hit_rate(hits, k: int) -> np.ndarray:
    """Per member: 1.0 when any of the first ``k`` ranks is a hit."""
    return _hits(hits, k).any(axis=1).astype(float)


def dcg(
    gains, *, variant: Literal["standard", "jarvelin"] = "standard", base: float = 2.0
) -> np.ndarray:
    """Cumulated DCG vector of one ranked list of ``gains`` (graded or 0/1).

    ``"standard"``: ``sum_{j<=i} g_j / log_base(j + 1)``; ``"jarvelin"``: Järvelin &
    Kekäläinen (2002), ``DCG[i] = CG[i]`` for ``i < base``, else
    ``DCG[i-1] + g_i / log_base(i)``.
    """
    g = np.asarray(gains, dtype=float)
    rank = np.arange(1, len(g) + 1, dtype=float)
    if variant == "standard":
        discount = np.log(rank + 1) / np.log(base)
    elif variant == "jarvelin":
        discount = np.where(rank < base, 1.0, np.log(np.maximum(rank, 1.0)) / np.log(base))
    else:
        raise DataError(f"variant: 'standard' or 'jarvelin', got {variant!r}")
    return np.cumsum(g / discount)


def ndcg_at_k(hits, n_relevant, k: int) -> np.ndarray:
    """Per member: DCG@k / ideal DCG@k for 0/1 relevance (standard discount ``log2(i + 1)``)."""
    top = _hits(hits, k)
    counts = _relevant(n_relevant, top.shape[0])
    discount = 1.0 / np.log2(np.arange(2, int(k) + 2))
    ideal = np.cumsum(discount)[np.minimum(counts, k).astype(int) - 1]
    return (top * discount).sum(axis=1) / ideal


def catalogue_coverage(recommended_items, catalogue_size: int) -> float:
    """Distinct recommended items / items that could be recommended."""
    if isinstance(catalogue_size, bool) or int(catalogue_size) < 1:
        raise DataError(f"catalogue_size: must be a positive integer, got {catalogue_size!r}")
    return len(pd.unique(np.asarray(recommended_items, dtype=object))) / int(catalogue_size)


def hits_matrix(
    recommendations: pd.DataFrame, relevant: pd.DataFrame, k: int
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """(members, hits ``members x k``, relevant counts) for the members of ``relevant``
    (member_id, product_id; duplicates ignored) from ``recommendations`` (member_id, rank,
    product_id)."""
    for name, frame, columns in (
        ("recommendations", recommendations, ("member_id", "rank", "product_id")),
        ("relevant", relevant, ("member_id", "product_id")),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{name}: missing column(s) {missing}; found {list(frame.columns)}")
    truth = relevant[["member_id", "product_id"]].drop_duplicates()
    members = pd.Index(truth["member_id"].unique())
    counts = truth.groupby("member_id", sort=False).size().reindex(members).to_numpy()
    top = recommendations.loc[recommendations["rank"] <= k, ["member_id", "rank", "product_id"]]
    found = top.merge(truth, on=["member_id", "product_id"])
    hits = np.zeros((len(members), int(k)), dtype=bool)
    hits[members.get_indexer(found["member_id"]), found["rank"].to_numpy() - 1] = True
    return members, hits, counts


def ranking_metrics(
    recommendations: pd.DataFrame, relevant: pd.DataFrame, *, k: int, catalogue_size: int
) -> dict[str, float]:
    """Mean precision@k, recall@k, NDCG@k and hit rate over the members of ``relevant``, and
    the catalogue coverage of ``recommendations`` (ranks up to ``k``)."""
    members, hits, counts = hits_matrix(recommendations, relevant, k)
    if len(members) == 0:
        raise DataError(
            "relevant: no member bought anything in the test period; choose an earlier cutoff"
        )
    shown = recommendations.loc[recommendations["rank"] <= k, "product_id"]
    return {
        "members": int(len(members)),
        "precision": float(precision_at_k(hits, k).mean()),
        "recall": float(recall_at_k(hits, counts, k).mean()),
        "ndcg": float(ndcg_at_k(hits, counts, k).mean()),
        "hit_rate": float(hit_rate(hits, k).mean()),
        "coverage": catalogue_coverage(shown, catalogue_size),
    }
