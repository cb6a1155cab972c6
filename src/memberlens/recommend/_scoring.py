"""Score matrices of one batch of members for each kind of recommender.

Every kind returns ``key`` (what is ranked; higher first), ``score`` (what is reported) and
``source`` (which part produced the item: an index into :data:`SOURCES`); only the key is a
full ``rows x items`` matrix, score and source are read for the chosen items
(:class:`BatchScores`).

- ``als``: ``x_u . y_i`` with the factors ``implicit`` learned (Hu, Koren & Volinsky 2008) —
  exactly what ``AlternatingLeastSquares.recommend`` ranks by.
- ``item_knn``: ``sum_j r_uj s_ji`` over the member's items ``j`` with the cosine item-item
  similarity of ``implicit.nearest_neighbours.CosineRecommender`` (top ``K`` neighbours per
  item; Sarwar et al. 2001) — what its ``recommend`` ranks by. Items with no neighbour among the
  member's items score 0; they follow, in popularity order, with source ``popular``.
- ``popular``: the share of buying members who bought the item (ties by total weight).
- ``hybrid``: ``w_als * als / max(als) + w_knn * knn / max(knn) + w_pop * pop / max(pop)``
  per member (each part scaled to at most 1 in the member's row); the source is the part that
  contributes most.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SOURCES",
    "BatchScores",
    "als_scores",
    "knn_scores",
    "score_batch",
    "similarity_function",
    "unit_item_factors",
]

SOURCES = ("als", "item_knn", "popular")
_ALS, _KNN, _POP = range(3)


def _scale_rows(values: np.ndarray, weight: float) -> np.ndarray:
    """``weight * values / max(row)`` (rows with no positive value untouched), in place."""
    top = values.max(axis=1, keepdims=True)
    values *= np.float32(weight) / np.where(top > 0, top, 1.0).astype(np.float32)
    return values


_SMALL_BATCH = 16


def member_factors(model, rows: np.ndarray) -> np.ndarray:
    """The ALS factors of member ``rows`` (solved now when the fit left them unsolved)."""
    if model.user_factors_ is not None:
        return model.user_factors_[rows]
    from memberlens.recommend._factors import fold_in_users
    from memberlens.recommend.model import _threads

    return fold_in_users(model, model.item_factors_, _threads(model.num_threads), rows)


def als_scores(model, rows: np.ndarray) -> np.ndarray:
    users = member_factors(model, rows)
    if len(rows) <= _SMALL_BATCH:
        # a few members (serving one at a time): numpy's own loop. A threaded BLAS call for a
        # matrix-vector product costs more in thread hand-offs than it saves, badly so on a
        # busy machine (measured: 1.6 ms against 25 ms for 50,000 items x 64 factors)
        return np.einsum("ij,kj->ik", users, model.item_factors_)
    return users @ model.item_factors_.T


def knn_scores(model, rows: np.ndarray) -> np.ndarray:
    return (model.user_items_[rows] @ model.similarity_).toarray().astype(np.float32, copy=False)


@dataclass(frozen=True)
class BatchScores:
    """What one batch of members is ranked by: ``key`` (``rows x items``, higher first; the
    caller may set excluded items to ``-inf`` in place) and ``at(r, items)``, the reported
    score and source of the chosen (row, item) pairs. One full matrix per batch (two for the
    hybrid), not one per part plus copies: the score and source of the few chosen items are
    read back from the parts."""

    key: np.ndarray
    at: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def score_batch(model, rows: np.ndarray, kind: str) -> BatchScores:
    """The :class:`BatchScores` of warm member ``rows`` of a fitted Recommender."""
    b, n = len(rows), len(model.items_)
    share = model.popularity_share_.astype(np.float32)
    if kind == "popular":
        key = np.broadcast_to(model.popularity_key_.astype(np.float32), (b, n)).copy()
        return BatchScores(key, lambda r, i: (share[i], np.full(len(i), _POP, np.int8)))
    if kind == "als":
        key = als_scores(model, rows)
        return BatchScores(key, lambda r, i: (key[r, i], np.full(len(i), _ALS, np.int8)))
    if kind == "item_knn":
        key = knn_scores(model, rows)
        # members with no neighbour evidence for an item: popularity order, below all evidence
        np.copyto(key, (model.popularity_key_ - 2.0).astype(np.float32)[None, :], where=key <= 0)

        def knn_at(r: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            evidence = key[r, i] > 0
            return (
                np.where(evidence, key[r, i], share[i]),
                np.where(evidence, _KNN, _POP).astype(np.int8),
            )

        return BatchScores(key, knn_at)
    w_als, w_knn, w_pop = (float(w) for w in model.hybrid_weights)
    pop = np.float32(w_pop / max(float(share.max()), 1e-12)) * share
    key = _scale_rows(als_scores(model, rows).astype(np.float32, copy=False), w_als)
    knn = _scale_rows(knn_scores(model, rows), w_knn)
    key += knn
    key += pop[None, :]

    def hybrid_at(r: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        total, knn_part, pop_part = key[r, i], knn[r, i], pop[i]
        parts = np.stack([total - knn_part - pop_part, knn_part, pop_part])
        return total, parts.argmax(axis=0).astype(np.int8)

    return BatchScores(key, hybrid_at)


def unit_item_factors(model) -> np.ndarray:
    """ALS item factors scaled to length 1 (cached on the model until it is refitted)."""
    cached = getattr(model, "_unit_factors", None)
    if cached is None or cached[0] is not model.item_factors_:
        norms = np.linalg.norm(model.item_factors_, axis=1, keepdims=True)
        cached = (model.item_factors_, model.item_factors_ / np.where(norms > 0, norms, 1.0))
        model._unit_factors = cached
    return cached[1]


def similarity_function(model, kind: str):
    """``f(a, b)`` = similarity of item arrays ``a`` and ``b`` used to find the anchor of a
    recommendation (see :mod:`memberlens.recommend.explanations`), or None (popularity)."""
    if kind == "popular":
        return None
    unit = unit_item_factors(model) if kind in ("als", "hybrid") else None

    def als(a, b):
        return np.einsum("ij,ij->i", unit[a], unit[b])

    def knn(a, b):
        return np.asarray(model.similarity_[a, b]).ravel()

    if kind == "als":
        return als
    if kind == "item_knn":
        return knn
    w_als, w_knn = float(model.hybrid_weights[0]), float(model.hybrid_weights[1])
    return lambda a, b: w_als * als(a, b) + w_knn * knn(a, b)
