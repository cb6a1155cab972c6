"""Score matrices of one batch of members for each kind of recommender.

Every kind returns ``key`` (what is ranked; higher first), ``score`` (what is reported) and
``source`` (which part produced the item: an index into :data:`SOURCES`), all ``rows x items``.

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

import numpy as np

__all__ = [
    "SOURCES",
    "als_scores",
    "knn_scores",
    "score_batch",
    "similarity_function",
    "unit_item_factors",
]

SOURCES = ("als", "item_knn", "popular")
_ALS, _KNN, _POP = range(3)


def _row_scaled(values: np.ndarray) -> np.ndarray:
    top = values.max(axis=1, keepdims=True)
    return values / np.where(top > 0, top, 1.0)


_SMALL_BATCH = 16


def als_scores(model, rows: np.ndarray) -> np.ndarray:
    users = model.user_factors_[rows]
    if len(rows) <= _SMALL_BATCH:
        # a few members (serving one at a time): numpy's own loop. A threaded BLAS call for a
        # matrix-vector product costs more in thread hand-offs than it saves, badly so on a
        # busy machine (measured: 1.6 ms against 25 ms for 50,000 items x 64 factors)
        return np.einsum("ij,kj->ik", users, model.item_factors_)
    return users @ model.item_factors_.T


def knn_scores(model, rows: np.ndarray) -> np.ndarray:
    return (model.user_items_[rows] @ model.similarity_).toarray().astype(np.float32)


def score_batch(model, rows: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(key, score, source) for warm member ``rows`` of a fitted Recommender."""
    b, n = len(rows), len(model.items_)
    share = model.popularity_share_.astype(np.float32)
    if kind == "popular":
        key = np.broadcast_to(model.popularity_key_, (b, n)).copy()
        return key, np.broadcast_to(share, (b, n)), np.full((b, n), _POP, np.int8)
    if kind == "als":
        score = als_scores(model, rows)
        return score.copy(), score, np.full((b, n), _ALS, np.int8)
    if kind == "item_knn":
        score = knn_scores(model, rows)
        evidence = score > 0
        key = np.where(evidence, score, model.popularity_key_ - 2.0)
        source = np.where(evidence, _KNN, _POP).astype(np.int8)
        return key, np.where(evidence, score, share), source
    w_als, w_knn, w_pop = (float(w) for w in model.hybrid_weights)
    pop = np.float32(w_pop / max(float(share.max()), 1e-12)) * share
    parts = np.stack(
        [
            w_als * _row_scaled(als_scores(model, rows)),
            w_knn * _row_scaled(knn_scores(model, rows)),
            np.broadcast_to(pop, (b, n)),
        ]
    ).astype(np.float32, copy=False)
    score = parts.sum(axis=0)
    source = parts.argmax(axis=0).astype(np.int8)
    return score, score, source


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
