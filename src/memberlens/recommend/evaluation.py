"""Offline evaluation on a time split: fit on what happened up to a cutoff, score the top-k
against what members bought after it.

Training data: :func:`interactions_from_warehouse` as of the cutoff (purchases and events on or
before the cutoff day). Test data: the distinct products each member bought on paid orders in
``(cutoff, cutoff + horizon_days]`` (to the last order day when no horizon is given). Members
scored: test buyers the model knows (with an interaction by the cutoff); test buyers new at the
cutoff are counted in ``n_cold_members`` (they get the popularity list whatever the kind). Every
kind is fitted on the same data, so the popularity baseline is measured side by side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from memberlens.exceptions import ConfigError, DataError
from memberlens.features.purchases import as_day
from memberlens.recommend.interactions import (
    interactions_from_warehouse,
    named_tables,
    purchase_lines,
)
from memberlens.recommend.metrics import ranking_metrics
from memberlens.recommend.model import KINDS, Recommender

__all__ = ["RankingScores", "RecommenderEvaluation", "evaluate_recommender"]


@dataclass(frozen=True)
class RankingScores:
    """Mean metrics of one kind of recommender at k."""

    kind: str
    precision: float
    recall: float
    ndcg: float
    hit_rate: float
    coverage: float


@dataclass(frozen=True)
class RecommenderEvaluation:
    """A time-split evaluation: one :class:`RankingScores` per kind."""

    cutoff: dt.date
    end: dt.date
    k: int
    n_train_interactions: int
    n_members: int
    n_cold_members: int
    scores: tuple[RankingScores, ...]

    def score(self, kind: str) -> RankingScores:
        for s in self.scores:
            if s.kind == kind:
                return s
        raise KeyError(
            f"kind {kind!r} was not evaluated; evaluated: {[s.kind for s in self.scores]}"
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(s) for s in self.scores])

    def to_dict(self) -> dict:
        return {
            "cutoff": self.cutoff.isoformat(),
            "end": self.end.isoformat(),
            "k": self.k,
            "n_train_interactions": self.n_train_interactions,
            "n_members": self.n_members,
            "n_cold_members": self.n_cold_members,
            "scores": [asdict(s) for s in self.scores],
        }


def _last_day(orders) -> dt.date:
    last = orders.ordered_at.max().execute()
    if last is None or pd.isna(last):
        raise DataError("orders is empty: nothing to evaluate on")
    return pd.Timestamp(last).date()


def evaluate_recommender(
    con_or_tables,
    *,
    cutoff: dt.date | str,
    k: int = 10,
    kinds: tuple[str, ...] = ("popular", "als", "item_knn", "hybrid"),
    horizon_days: int | None = None,
    weights: dict | None = None,
    params: dict | None = None,
    max_members: int | None = None,
    seed: int = 0,
) -> RecommenderEvaluation:
    """Fit each of ``kinds`` on interactions up to ``cutoff`` and score its top-``k`` on the
    purchases after it (see the module notes). ``con_or_tables``: as for
    :func:`interactions_from_warehouse` (``products`` is used as the catalogue when present).
    ``params``: settings passed to every :class:`Recommender`; ``max_members``: score a seeded
    random sample of the test members (for very large shops)."""
    day = as_day(cutoff, name="cutoff")
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds:
        raise ConfigError(f"kinds: choose among {', '.join(KINDS)}; got {list(kinds)!r}")
    tables = named_tables(con_or_tables)
    train = interactions_from_warehouse(tables, as_of=day, weights=weights)
    if train.num_rows == 0:
        raise DataError(
            f"cutoff {day}: no purchase or event on or before it; choose a later cutoff"
        )
    end = (
        day + dt.timedelta(days=int(horizon_days)) if horizon_days else _last_day(tables["orders"])
    )
    if end <= day:
        raise DataError(
            f"cutoff {day}: no day after it in the data (last order {end}); choose "
            "an earlier cutoff"
        )
    lines = purchase_lines(tables["orders"], tables["order_items"], end=end, start=day)
    test = lines.select("member_id", "product_id").distinct().to_pandas()
    if test.empty:
        raise DataError(f"no purchase between {day} and {end}; choose an earlier cutoff")
    known = pd.Index(pd.unique(train.column("member_id").to_numpy(zero_copy_only=False)))
    buyers = pd.Index(test["member_id"].unique())
    warm = buyers[buyers.isin(known)]
    if max_members is not None and len(warm) > int(max_members):
        rng = np.random.default_rng(seed)
        warm = pd.Index(np.sort(rng.choice(np.asarray(warm), int(max_members), replace=False)))
    relevant = test[test["member_id"].isin(warm)]
    products = tables["products"].to_pyarrow() if "products" in tables else None
    results = []
    for kind in kinds:
        model = Recommender(**{**(params or {}), "kind": kind}).fit(train, products=products)
        recs = model.recommend(np.asarray(warm), k=k)
        m = ranking_metrics(recs, relevant, k=k, catalogue_size=int(model.recommendable_.sum()))
        results.append(
            RankingScores(
                kind=kind,
                precision=m["precision"],
                recall=m["recall"],
                ndcg=m["ndcg"],
                hit_rate=m["hit_rate"],
                coverage=m["coverage"],
            )
        )
    return RecommenderEvaluation(
        cutoff=day,
        end=end,
        k=int(k),
        n_train_interactions=int(train.num_rows),
        n_members=int(len(warm)),
        n_cold_members=int(len(buyers) - buyers.isin(known).sum()),
        scores=tuple(results),
    )
