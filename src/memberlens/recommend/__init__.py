"""Recommendations from implicit feedback (purchases > carts > views), with the filters a shop
needs, reasons in English and Chinese, "bought together" lists and a time-split evaluation.

>>> import pandas as pd
>>> interactions = pd.DataFrame({"member_id": ["m1", "m1", "m2", "m2", "m3"],
...                              "product_id": ["a", "b", "a", "c", "b"],
...                              "weight": [10.0, 10.0, 10.0, 10.0, 10.0]})
>>> model = Recommender(kind="popular").fit(interactions)
>>> model.recommend(["m3", "new"], k=2)[["member_id", "rank", "product_id", "source"]]
  member_id  rank product_id   source
0        m3     1          a  popular
1        m3     2          c  popular
2       new     1          a  popular
3       new     2          b  popular

Engine-side pieces (``interactions_from_warehouse``, ``recommendation_mart``,
``evaluate_recommender``) load Ibis on first use.
"""

from memberlens.recommend._weights import DEFAULT_WEIGHTS
from memberlens.recommend.metrics import (
    catalogue_coverage,
    hit_rate,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)
from memberlens.recommend.model import KINDS, RECOMMENDATION_COLUMNS, Recommender
from memberlens.recommend.together import BOUGHT_TOGETHER_COLUMNS, bought_together

__all__ = [
    "BOUGHT_TOGETHER_COLUMNS",
    "DEFAULT_WEIGHTS",
    "KINDS",
    "RECOMMENDATION_COLUMNS",
    "Recommender",
    "RecommenderEvaluation",
    "bought_together",
    "catalogue_coverage",
    "evaluate_recommender",
    "hit_rate",
    "interactions_from_warehouse",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_metrics",
    "recall_at_k",
    "recommendation_mart",
]

_LAZY = {
    "interactions_from_warehouse": "interactions",
    "evaluate_recommender": "evaluation",
    "RecommenderEvaluation": "evaluation",
    "recommendation_mart": "mart",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"memberlens.recommend.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'memberlens.recommend' has no attribute {name!r}")
