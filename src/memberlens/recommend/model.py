"""``Recommender``: implicit-feedback recommendations with the filters a shop needs.

``kind`` chooses the scorer (:mod:`memberlens.recommend._scoring`): ``"als"`` (``implicit``'s
alternating least squares), ``"item_knn"`` (``implicit``'s cosine item-item neighbours),
``"popular"`` or ``"hybrid"`` (the three blended). Whatever the kind, for each member:

- items outside the catalogue (not in ``products``, or ``active`` false) are never shown;
- items the member already bought are left out unless members rebuy them (replenishment items:
  :mod:`memberlens.recommend.repurchase`), per ``exclude_bought``;
- categories the member opted out of (``opted_out=``) are left out;
- at most ``max_per_category`` items of one category are shown (diversity);
- a member unknown to the model (no interaction before the as-of day) gets the popular items;
- every item comes with a reason in English and Chinese (:mod:`...explanations`).

The model keeps the member x item matrices it was fitted on: serving needs each member's
history (for the filters and the reasons) as ``implicit`` itself does.
"""

from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from memberlens.exceptions import ConfigError, DataError
from memberlens.recommend import _factors, _scoring, _storage, explanations
from memberlens.recommend._encoding import as_arrow, encode_interactions
from memberlens.recommend._selection import opt_out_pairs, top_k
from memberlens.recommend._weights import check_weights
from memberlens.recommend.repurchase import declared_replenishment, replenishment_mask

__all__ = ["KINDS", "RECOMMENDATION_COLUMNS", "Recommender"]

Kind = Literal["als", "item_knn", "popular", "hybrid"]
KINDS = ("als", "item_knn", "popular", "hybrid")
RECOMMENDATION_COLUMNS = (
    "member_id",
    "rank",
    "product_id",
    "score",
    "reason_en",
    "reason_zh",
    "source",
)
FORMAT_VERSION = 1
_SCORE_CELLS = 8_000_000  # members x items per scoring batch (a few tens of MB per matrix)


def _threads(value) -> int:
    if value is not None:
        return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{name}: must be a positive integer, got {value!r}")
    return int(value)


def _number(name: str, value, *, low: float = 0.0, high: float = np.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value <= high:
        raise ConfigError(f"{name}: must be a number in [{low}, {high}], got {value!r}")
    return float(value)


class Recommender(BaseEstimator):
    """Implicit-feedback recommender (see the module notes).

    Fitted attributes: ``members_`` / ``items_`` (sorted ids), ``user_items_`` (confidence
    matrix, CSR), ``purchases_`` (purchase days, CSR), ``user_factors_`` / ``item_factors_``
    (ALS), ``similarity_`` (item-item, CSR), ``popularity_share_``, ``popularity_key_``,
    ``replenishment_``, ``recommendable_``, ``item_category_`` (codes into ``categories_``,
    -1 = none), ``item_names_``.
    """

    def __init__(
        self,
        *,
        kind: Kind = "hybrid",
        factors: int = 32,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        neighbours: int = 100,
        hybrid_weights: tuple = (0.3, 0.5, 0.2),
        scaling: Literal["log", "none"] = "log",
        event_weights: dict | None = None,
        exclude_bought: Literal["non_replenishment", "all", "none"] = "non_replenishment",
        replenishment="auto",
        repeat_rate: float = 0.2,
        min_repeat_buyers: int = 5,
        max_per_category: int | None = 4,
        random_state: int | None = 0,
        num_threads: int | None = None,
    ) -> None:
        self.kind = kind
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.neighbours = neighbours
        self.hybrid_weights = hybrid_weights
        self.scaling = scaling
        self.event_weights = event_weights
        self.exclude_bought = exclude_bought
        self.replenishment = replenishment
        self.repeat_rate = repeat_rate
        self.min_repeat_buyers = min_repeat_buyers
        self.max_per_category = max_per_category
        self.random_state = random_state
        self.num_threads = num_threads

    # -- validation ----------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"kind: must be one of {', '.join(KINDS)}, got {self.kind!r}")
        for name in ("factors", "iterations", "neighbours", "min_repeat_buyers"):
            _positive_int(name, getattr(self, name))
        _number("regularization", self.regularization)
        _number("alpha", self.alpha, low=1e-12)
        _number("repeat_rate", self.repeat_rate, high=1.0)
        weights = tuple(self.hybrid_weights)
        if len(weights) != 3 or sum(_number("hybrid_weights", w) for w in weights) <= 0:
            raise ConfigError(
                f"hybrid_weights: three numbers >= 0 (ALS, item kNN, "
                f"popularity) with a positive sum, got {self.hybrid_weights!r}"
            )
        if self.scaling not in ("log", "none"):
            raise ConfigError(
                f"scaling: must be 'log' (log(1 + weight)) or 'none', got {self.scaling!r}"
            )
        if self.exclude_bought not in ("non_replenishment", "all", "none"):
            raise ConfigError(
                f"exclude_bought: must be 'non_replenishment', 'all' or 'none', "
                f"got {self.exclude_bought!r}"
            )
        if self.max_per_category is not None:
            _positive_int("max_per_category", self.max_per_category)
        if self.num_threads is not None and (
            isinstance(self.num_threads, bool) or int(self.num_threads) < 0
        ):
            raise ConfigError(
                f"num_threads: must be >= 0 (0 = all cores) or None, got {self.num_threads!r}"
            )

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        interactions,
        y=None,
        *,
        products=None,
        item_factors: pd.DataFrame | None = None,
        max_shift: float = 0.2,
        solve_members: bool = True,
    ) -> Recommender:
        """Learn from ``interactions`` (member_id, product_id and ``weight`` [+
        ``purchase_days``] as from :func:`interactions_from_warehouse`, or one row per event
        with ``event_type``). ``products`` (product_id [, name, category, active,
        replenishment_days]) is the catalogue: only its items are recommended.

        ``item_factors``: the item side of an earlier fit with the same settings
        (``memberlens.recommend._factors.item_factor_frame`` of it: ALS factors, item-item
        similarity, popularity, replenishment items). It is reused (the members' factors solved
        from it, no ALS iterations, no kNN fit) unless an item lacks one or the items'
        buyer shares moved by a population stability index above ``max_shift``;
        ``als_decision_`` says which happened. Either way the members' factors are the exact
        solve from the item factors (``_factors.fold_in_users``), so a fit given the item
        factors of an earlier fit recommends exactly what that fit recommends.
        ``solve_members=False`` leaves ``user_factors_`` None and solves each member's factors
        when the member is scored (the same factors: one independent solve per member), for a
        caller that scores only some members."""
        self._check_params()
        catalogue = self._catalogue(products)
        encoded = encode_interactions(
            interactions,
            weights=check_weights(self.event_weights),
            extra_items=None if catalogue is None else catalogue["product_id"].to_numpy(),
        )
        self.members_, self.items_ = encoded.members, encoded.items
        confidence = encoded.weights.astype(np.float32)
        if self.scaling == "log":
            confidence.data = np.log1p(confidence.data)
        self.user_items_ = confidence
        self.purchases_ = encoded.purchases.astype(np.float32)
        self._describe_items(catalogue)
        self._popularity(encoded.weights)
        self.replenishment_ = self._replenishment(catalogue)
        threads = _threads(self.num_threads)
        self.user_factors_ = self.item_factors_ = self.similarity_ = None
        self.als_decision_ = None
        if self.kind in ("als", "hybrid"):
            reused, why = (
                (None, "no saved factors")
                if item_factors is None
                else _factors.reusable_factors(item_factors, self, max_shift=max_shift)
            )
            if reused is None:
                self.item_factors_ = self._fit_als(threads)
                self.als_decision_ = f"ALS fitted ({why})"
            else:  # the earlier fit's whole item side, so that unchanged members score as then
                self.item_factors_ = reused.factors
                self.similarity_ = reused.similarity
                self.popularity_share_ = reused.popularity_share
                self.popularity_key_ = reused.popularity_key
                self.replenishment_ = reused.replenishment
                self.als_decision_ = why
            # the members' factors are solved exactly from the item factors whether these were
            # fitted now or reused: a run that reuses a fit's item factors scores as that fit
            if solve_members:
                self.user_factors_ = _factors.fold_in_users(self, self.item_factors_, threads)
        if self.kind in ("item_knn", "hybrid") and self.similarity_ is None:
            self._fit_knn(threads)
        self.n_interactions_ = int(encoded.weights.nnz)
        return self

    def _catalogue(self, products) -> pd.DataFrame | None:
        if products is None:
            return None
        frame = as_arrow(products, name="products").to_pandas()
        if "product_id" not in frame.columns:
            raise DataError(f"products: missing column 'product_id'; found {list(frame.columns)}")
        if frame["product_id"].isna().any():
            raise DataError("products.product_id: empty values; every catalogue row needs an id")
        duplicated = frame["product_id"].duplicated()
        if duplicated.any():
            raise DataError(
                f"products.product_id: {int(duplicated.sum())} duplicate id(s), e.g. "
                f"{frame.loc[duplicated, 'product_id'].iloc[0]!r}; keep one row per "
                "product"
            )
        return frame

    def _describe_items(self, catalogue: pd.DataFrame | None) -> None:
        ids = self.items_
        if catalogue is None:
            self.recommendable_ = np.ones(len(ids), dtype=bool)
            self.item_names_ = np.asarray(ids.astype(str), dtype=str)
            self.item_category_ = np.full(len(ids), -1, dtype=np.int64)
            self.categories_ = np.array([], dtype=str)
            return
        table = catalogue.set_index(catalogue["product_id"].astype(ids.dtype))
        aligned = table.reindex(ids)
        listed = ids.isin(table.index)
        if "active" in aligned.columns:
            listed &= aligned["active"].fillna(True).astype(bool).to_numpy()
        self.recommendable_ = np.asarray(listed, dtype=bool)
        names = (
            aligned["name"] if "name" in aligned.columns else pd.Series(np.nan, index=aligned.index)
        )
        self.item_names_ = np.asarray(
            names.astype(object).where(names.notna(), ids.astype(str)).astype(str), dtype=str
        )
        if "category" in aligned.columns and aligned["category"].notna().any():
            codes, uniques = pd.factorize(aligned["category"].astype(object), sort=True)
            self.item_category_ = codes.astype(np.int64)
            self.categories_ = np.asarray(uniques.astype(str), dtype=str)
        else:
            self.item_category_ = np.full(len(ids), -1, dtype=np.int64)
            self.categories_ = np.array([], dtype=str)

    def _popularity(self, weights) -> None:
        buyers = np.bincount(self.purchases_.indices, minlength=len(self.items_))
        total = np.asarray(weights.sum(axis=0)).ravel()
        n_buyers = max(1, int(np.diff(self.purchases_.indptr).astype(bool).sum()))
        self.popularity_share_ = buyers / n_buyers
        order = np.lexsort((np.arange(len(buyers)), -total, -buyers))
        key = np.empty(len(buyers))
        key[order] = 1.0 - np.arange(len(buyers)) / max(1, len(buyers))
        self.popularity_key_ = key

    def _replenishment(self, catalogue: pd.DataFrame | None) -> np.ndarray:
        rule = self.replenishment
        if rule is None:
            return np.zeros(len(self.items_), dtype=bool)
        if isinstance(rule, str) and rule not in ("auto", "data", "catalogue"):
            raise ConfigError(
                f"replenishment: 'auto', 'data', 'catalogue', None or a list of "
                f"product ids; got {rule!r}"
            )
        if not isinstance(rule, str):
            return self.items_.isin(pd.Index(list(rule)).astype(self.items_.dtype))
        declared = declared_replenishment(catalogue, self.items_)
        if rule == "catalogue":
            return (
                np.zeros(len(self.items_), dtype=bool) if declared is None else np.asarray(declared)
            )
        return replenishment_mask(
            self.purchases_,
            category_codes=self.item_category_,
            threshold=float(self.repeat_rate),
            min_buyers=int(self.min_repeat_buyers),
            declared=declared if rule == "auto" else None,
        )

    def _fit_als(self, threads: int) -> np.ndarray:
        """The item factors of ``implicit``'s ALS fit (its member factors are not kept: they
        are solved again exactly from the final item factors, see :meth:`fit`)."""
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        # implicit runs its own threads; a multi-threaded BLAS underneath slows it down badly
        # (and makes implicit warn): one BLAS thread while fitting, nothing changed globally
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=int(self.factors),
                regularization=float(self.regularization),
                alpha=float(self.alpha),
                iterations=int(self.iterations),
                random_state=self.random_state,
                num_threads=threads,
            )
            model.fit(self.user_items_, show_progress=False)
        return np.ascontiguousarray(model.item_factors)

    def _fit_knn(self, threads: int) -> None:
        from implicit.nearest_neighbours import CosineRecommender

        model = CosineRecommender(K=int(self.neighbours), num_threads=threads)
        with warnings.catch_warnings():  # implicit's own normalize() hands itself a COO matrix
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(self.user_items_, show_progress=False)
        self.similarity_ = model.similarity.tocsr().astype(np.float32)

    # -- serving -------------------------------------------------------------------------------
    def _opt_out_frame(self, opted_out) -> pd.DataFrame | None:
        return opt_out_pairs(opted_out, self.categories_)

    def _member_rows(self, ids: np.ndarray) -> np.ndarray:
        lookup = ids
        if self.members_.dtype == object or pd.api.types.is_string_dtype(self.members_.dtype):
            lookup = ids.astype(str)
        try:
            return self.members_.get_indexer(lookup).astype(np.int64)
        except (TypeError, ValueError):
            return np.full(len(ids), -1, dtype=np.int64)

    def _batch(self, ids: np.ndarray, k: int, opt: pd.DataFrame | None) -> pa.Table:
        rows = self._member_rows(ids)
        warm = rows >= 0
        b = len(ids)
        if warm.all():  # the usual case (the mart scores the model's own members): no copy
            scored = _scoring.score_batch(self, rows, self.kind)
            key, parts = scored.key, [(np.arange(b), scored)]
        else:  # cold members (unknown to the model) get what is popular
            key = np.empty((b, len(self.items_)), dtype=np.float32)
            parts = []
            for where, kind, at_rows in (
                (np.flatnonzero(warm), self.kind, rows[warm]),
                (np.flatnonzero(~warm), "popular", np.zeros((~warm).sum(), dtype=np.int64)),
            ):
                if where.size:
                    scored = _scoring.score_batch(self, at_rows, kind)
                    key[where] = scored.key
                    parts.append((where, scored))
        key[:, ~self.recommendable_] = -np.inf
        if self.exclude_bought != "none" and warm.any():
            bought = self.purchases_[rows[warm]].tocoo()
            cols = bought.col
            if self.exclude_bought == "non_replenishment":
                drop = ~self.replenishment_[cols]
                key[np.flatnonzero(warm)[bought.row[drop]], cols[drop]] = -np.inf
            else:
                key[np.flatnonzero(warm)[bought.row], cols] = -np.inf
        if opt is not None and len(opt):
            chosen = pd.DataFrame({"member_id": ids, "pos": np.arange(b)}).merge(
                opt, on="member_id"
            )
            if len(chosen):
                blocked = np.zeros((b, len(self.categories_)), dtype=bool)
                blocked[chosen["pos"].to_numpy(), chosen["code"].to_numpy()] = True
                codes = self.item_category_
                key[blocked[:, np.maximum(codes, 0)] & (codes >= 0)] = -np.inf
        recs = top_k(key, k, category=self.item_category_, max_per_category=self.max_per_category)
        del key
        r, j = np.nonzero(recs >= 0)
        items = recs[r, j]
        score = np.empty(len(items), dtype=np.float32)
        source = np.empty(len(items), dtype=np.int8)
        position = np.full(b, -1, dtype=np.int64)  # a batch row's row within its part
        for where, scored in parts:
            position[where] = np.arange(where.size)
            mine = np.isin(r, where)
            score[mine], source[mine] = scored.at(position[r[mine]], items[mine])
        return self._frame(ids, rows, r, j, items, score, source)

    def _names_arrow(self) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Item names, category names and product ids as Arrow arrays (built once)."""
        cached = getattr(self, "_arrow_names", None)
        if cached is None or cached[0] is not self.item_names_:
            cached = (
                self.item_names_,
                pa.array(self.item_names_, pa.string()),
                pa.array(self.categories_, pa.string()),
                pa.array(np.asarray(self.items_)),
            )
            self._arrow_names = cached
        return cached[1], cached[2], cached[3]

    def _frame(
        self,
        ids: np.ndarray,
        rows: np.ndarray,
        r: np.ndarray,
        j: np.ndarray,
        items: np.ndarray,
        score: np.ndarray,
        src: np.ndarray,
    ) -> pa.Table:
        """The recommendations: batch row ``r`` gets item ``items`` at rank ``j + 1`` with its
        ``score`` and source ``src``."""
        member_rows = rows[r]
        kind = np.full(len(items), 3, dtype=np.int8)
        subject = items.copy()
        model_made = (src != _scoring.SOURCES.index("popular")) & (member_rows >= 0)
        chosen = np.flatnonzero(model_made)
        if chosen.size:
            again = np.asarray(self.purchases_[member_rows[chosen], items[chosen]]).ravel() > 0
            kind[chosen[again]] = 0
            similar = _scoring.similarity_function(self, self.kind)
            for code, history in ((1, self.purchases_), (2, self.user_items_)):
                open_ = chosen[kind[chosen] == 3]
                if open_.size == 0 or similar is None:
                    break
                anchor = explanations.anchors(items[open_], member_rows[open_], history, similar)
                found = anchor >= 0
                kind[open_[found]] = code
                subject[open_[found]] = anchor[found]
        names, categories, product_ids = self._names_arrow()
        reason_en, reason_zh = explanations.reason_texts(
            kind, subject, names, self.item_category_, categories
        )
        return pa.table(
            {
                "member_id": pa.array(ids[r]),
                "rank": pa.array(j + 1, pa.int64()),
                "product_id": product_ids.take(pa.array(items)),
                "score": pa.array(score.astype(np.float64)),
                "reason_en": reason_en,
                "reason_zh": reason_zh,
                "source": pa.array(np.asarray(_scoring.SOURCES)[src], pa.string()),
            }
        )

    def _batch_rows(self, batch_size: int | None) -> int:
        if batch_size is not None:
            return _positive_int("batch_size", batch_size)
        return max(1, min(10_000, _SCORE_CELLS // max(1, len(self.items_))))

    def recommend_batches(
        self, member_ids, k: int = 10, *, opted_out=None, batch_size: int | None = None
    ) -> Iterator[pd.DataFrame]:
        """:meth:`recommend`, one frame per batch of members (bounded memory: a batch holds
        ``batch_size x items`` scores; by default about 8 million cells)."""
        for table in self.recommend_arrow_batches(
            member_ids, k, opted_out=opted_out, batch_size=batch_size
        ):
            yield table.to_pandas()

    def recommend_arrow_batches(
        self, member_ids, k: int = 10, *, opted_out=None, batch_size: int | None = None
    ) -> Iterator[pa.Table]:
        """:meth:`recommend_batches` as Arrow tables (no pandas copy of the text columns)."""
        check_is_fitted(self, "members_")
        k = _positive_int("k", k)
        ids = _as_ids(member_ids)
        opt = self._opt_out_frame(opted_out)
        step = self._batch_rows(batch_size)
        for start in range(0, len(ids), step):
            yield self._batch(ids[start : start + step], k, opt)

    def recommend(
        self, member_ids, k: int = 10, *, opted_out=None, batch_size: int | None = None
    ) -> pd.DataFrame:
        """Top ``k`` items per member: member_id, rank (1 = best), product_id, score,
        reason_en, reason_zh, source (``als``, ``item_knn`` or ``popular``).

        ``opted_out``: categories a member does not want, as a mapping ``member_id ->
        categories`` or a frame with member_id and category. A member may get fewer than ``k``
        rows when the filters leave fewer items.
        """
        check_is_fitted(self, "members_")
        k = _positive_int("k", k)
        ids = _as_ids(member_ids)
        opt = self._opt_out_frame(opted_out)
        step = self._batch_rows(batch_size)
        parts = [self._batch(ids[s : s + step], k, opt) for s in range(0, len(ids), step)]
        if not parts:
            return pd.DataFrame({c: [] for c in RECOMMENDATION_COLUMNS})
        return pa.concat_tables(parts).to_pandas()

    # -- persistence ---------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write ``recommender.npz`` (arrays) and ``recommender.json`` (settings) to ``folder``."""
        check_is_fitted(self, "members_")
        return _storage.save(self, Path(folder), FORMAT_VERSION)

    @classmethod
    def load(cls, folder: str | Path) -> Recommender:
        """The recommender saved in ``folder`` by :meth:`save`."""
        return _storage.load(cls, Path(folder), FORMAT_VERSION)


def _as_ids(member_ids) -> np.ndarray:
    if isinstance(member_ids, (str, bytes, numbers.Number)):
        return np.asarray([member_ids], dtype=object)
    if isinstance(member_ids, (pa.Array, pa.ChunkedArray)):
        return np.asarray(member_ids.to_pylist(), dtype=object)
    if isinstance(member_ids, (pd.Series, pd.Index)):
        return member_ids.to_numpy(dtype=object)
    return np.asarray(list(member_ids), dtype=object)
