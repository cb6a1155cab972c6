"""Reusing the ALS item factors of an earlier fit instead of refitting every run.

An ALS fit alternates user and item least-squares solves for ``iterations`` rounds. When the
items and their popularity have barely moved since an earlier fit, that fit's item factors
``Y`` still describe the catalogue, and each member's factors follow from them in one exact
solve (Hu, Koren & Volinsky 2008, eq. 4):

    x_u = (Y'Y + Y'(C_u - I)Y + lambda I)^-1 Y' C_u p(u)

which is ``implicit``'s own ``recalculate_user`` (Cholesky, multi-threaded): about the cost of
one half-iteration instead of fifteen full ones. The earlier fit is refused (and ALS refitted)
when its settings differ, when an item has no factor in it, or when the items' buyer shares
moved (population stability index above ``max_shift``, as churn's and the clusters' drift
checks).

A fit solves its members' factors the same exact way from its final item factors, so a model
given the item factors of an earlier fit (:func:`save_item_factors`, :func:`saved_item_factors`)
recommends exactly what that fit recommended on the same data: ``memberlens run`` keeps them
between runs.

What is kept is the whole **item side** of the fit, not only the ALS factors: the item-item
similarity of the kNN part, the items' popularity (buyer shares and order) and which items are
replenishment items. A run that reuses them therefore gives a member whose history did not
change exactly the recommendations of the run before, which lets ``memberlens run`` score only
the members whose history changed (:func:`history_keys`) until the item side is refitted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

__all__ = [
    "ItemSide",
    "buyer_share_shift",
    "fit_settings",
    "fold_in_users",
    "history_keys",
    "item_factor_frame",
    "reusable_factors",
    "save_item_factors",
    "saved_item_factors",
    "scoring_key",
]

#: the settings an ALS fit depends on: factors fitted with other values are not reused
ALS_SETTINGS = ("factors", "regularization", "alpha", "scaling", "event_weights")
#: ... and with the number of iterations, the seed and what the rest of the kept item side
#: (similarity, replenishment items) depends on, what a kept fit must share with a run
FIT_SETTINGS = (
    *ALS_SETTINGS,
    "iterations",
    "random_state",
    "neighbours",
    "replenishment",
    "repeat_rate",
    "min_repeat_buyers",
)
#: the file of :func:`save_item_factors` and its format version (in the Parquet metadata);
#: version 2 keeps the whole item side (similarity, popularity, replenishment items)
FILE_NAME = "item_factors.parquet"
FORMAT_VERSION = 2
_META_KEY = b"memberlens.item_factors"
#: the item side's columns after the factors ``f0`` ..
_ITEM_COLUMNS = ("buyer_share", "popularity_key", "replenishment", "neighbours", "similarity")


@dataclass(frozen=True)
class ItemSide:
    """The item side of an earlier fit aligned to a model's items: ALS factors, item-item
    similarity (None when the fit had no kNN part), buyer shares, popularity order and
    replenishment items."""

    factors: np.ndarray
    similarity: sp.csr_matrix | None
    popularity_share: np.ndarray
    popularity_key: np.ndarray
    replenishment: np.ndarray


def item_factor_frame(model) -> pd.DataFrame:
    """The fitted item side, indexed by product id: ALS factors (``f0`` ..), buyer shares,
    popularity order, replenishment flags and each item's kNN neighbours (positions in this
    frame) with their similarities."""
    frame = pd.DataFrame(
        model.item_factors_, index=model.items_, columns=[f"f{j}" for j in range(model.factors)]
    )
    frame["buyer_share"] = model.popularity_share_
    frame["popularity_key"] = model.popularity_key_
    frame["replenishment"] = np.asarray(model.replenishment_, dtype=bool)
    sim = model.similarity_
    if sim is None:
        frame["neighbours"] = frame["similarity"] = None
    else:
        sim = sp.csr_matrix(sim)
        bounds = zip(sim.indptr[:-1], sim.indptr[1:], strict=True)
        pairs = [(sim.indices[a:b].astype(np.int32), sim.data[a:b]) for a, b in bounds]
        frame["neighbours"] = [p[0] for p in pairs]
        frame["similarity"] = [p[1].astype(np.float32) for p in pairs]
    return frame


def buyer_share_shift(before: np.ndarray, after: np.ndarray) -> float:
    """Population stability index between two item buyer-share vectors (each normalised to
    sum 1; a floor of 1e-6 keeps empty items finite): sum (a - b) ln(a / b)."""
    b = np.maximum(before / max(float(before.sum()), 1e-12), 1e-6)
    a = np.maximum(after / max(float(after.sum()), 1e-12), 1e-6)
    return float(np.sum((a - b) * np.log(a / b)))


def reusable_factors(
    previous: pd.DataFrame, model, *, max_shift: float
) -> tuple[ItemSide | None, str]:
    """The earlier fit's item side aligned to ``model.items_`` and why, or None and why
    not."""
    columns = [f"f{j}" for j in range(model.factors)]
    if list(previous.columns) != [*columns, *_ITEM_COLUMNS]:
        found = sum(c.startswith("f") and c[1:].isdigit() for c in previous.columns)
        return None, f"saved factors have {found} factors, not {model.factors}"
    # product ids compared as text: a saved file keeps them as text whatever their type
    position = pd.Index(previous.index.astype(str)).get_indexer(pd.Index(model.items_).astype(str))
    missing = int((position < 0).sum())
    if missing:
        return None, f"{missing} item(s) without saved factors"
    aligned = previous.iloc[position]
    shift = buyer_share_shift(aligned["buyer_share"].to_numpy(), model.popularity_share_)
    if shift > max_shift:
        return None, f"item buyer shares shifted: PSI {shift:.2f} > {max_shift}"
    similarity = None
    if previous["neighbours"].notna().all():
        lengths = previous["neighbours"].map(len).to_numpy()
        saved = sp.csr_matrix(
            (
                np.concatenate([np.asarray(v, np.float32) for v in previous["similarity"]]),
                np.concatenate([np.asarray(v, np.int32) for v in previous["neighbours"]]),
                np.r_[0, np.cumsum(lengths)],
            ),
            shape=(len(previous), len(previous)),
        )
        similarity = saved[position][:, position].tocsr()
        similarity.sort_indices()
    side = ItemSide(
        factors=np.ascontiguousarray(aligned[columns].to_numpy(np.float32)),
        similarity=similarity,
        popularity_share=aligned["buyer_share"].to_numpy(np.float64),
        popularity_key=aligned["popularity_key"].to_numpy(np.float64),
        replenishment=aligned["replenishment"].to_numpy(bool),
    )
    return side, f"item factors reused, PSI {shift:.2f}"


def _row_hashes(matrix: sp.csr_matrix) -> np.ndarray:
    """One 64-bit hash per row of ``matrix`` from its (column, value) entries (values rounded
    to 1e-4, so that an engine summing in another order gives the same hash); 0 for an empty
    row."""
    matrix = sp.csr_matrix(matrix)
    values = np.rint(matrix.data.astype(np.float64) * 1e4).astype(np.int64).view(np.uint64)
    mixed = _mix(matrix.indices.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ _mix(values))
    out = np.zeros(matrix.shape[0], dtype=np.uint64)
    filled = np.flatnonzero(np.diff(matrix.indptr))
    if filled.size:
        out[filled] = np.add.reduceat(mixed, matrix.indptr[filled])
    return out


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (Steele, Lea & Flood 2014), element-wise, wrapping."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def history_keys(model, scoring: str) -> np.ndarray:
    """A 64-bit key per member of a fitted Recommender (``model.members_`` order, as int64)
    that changes when anything the member's recommendations depend on changes: the member's
    interactions and purchases, and ``scoring`` (a text naming the item side and the settings,
    :func:`scoring_key`). Equal keys in two runs mean equal recommendations."""
    salt = np.frombuffer(hashlib.sha256(scoring.encode()).digest()[:8], dtype=np.uint64)[0]
    with np.errstate(over="ignore"):
        key = _mix(_row_hashes(model.user_items_) ^ salt)
        key = _mix(key + _row_hashes(model.purchases_) * np.uint64(3))
    return key.view(np.int64)


def scoring_key(model, **settings: Any) -> str:
    """A digest of everything besides a member's own history that their recommendations
    depend on: the item side, the catalogue as the model sees it, the model's settings and
    ``settings`` (such as ``k``)."""
    digest = hashlib.sha256()
    params = {n: v for n, v in model.get_params().items() if n != "num_threads"}
    digest.update(json.dumps([params, settings], sort_keys=True, default=str).encode())
    for name in ("items_", "item_names_", "categories_"):
        digest.update(json.dumps(np.asarray(getattr(model, name)).astype(str).tolist()).encode())
    arrays = [
        model.item_category_,
        model.recommendable_,
        model.replenishment_,
        model.popularity_share_,
        model.popularity_key_,
    ]
    if model.item_factors_ is not None:
        arrays.append(model.item_factors_)
    if model.similarity_ is not None:
        sim = sp.csr_matrix(model.similarity_)
        arrays += [sim.indptr, sim.indices, sim.data]
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def fold_in_users(
    model, item_factors: np.ndarray, threads: int, rows: np.ndarray | None = None
) -> np.ndarray:
    """Every member's factors (or those of member ``rows``) from fixed ``item_factors`` (the
    exact solve above: one independent solve per member, so a subset gets the same factors)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        als = AlternatingLeastSquares(
            factors=int(model.factors),
            regularization=float(model.regularization),
            alpha=float(model.alpha),
            random_state=model.random_state,
            num_threads=threads,
        )
        als.item_factors = item_factors
        if rows is None:
            users = model.user_items_.shape[0]
            return np.asarray(als.recalculate_user(np.arange(users), model.user_items_))
        return np.asarray(als.recalculate_user(rows, model.user_items_[rows]))


def fit_settings(model) -> dict[str, Any]:
    """The settings of ``model`` (a :class:`~memberlens.recommend.Recommender`) its ALS item
    factors depend on, JSON-ready."""
    params = model.get_params()
    return json.loads(json.dumps({name: params[name] for name in FIT_SETTINGS}))


def save_item_factors(folder: Path, model, *, fitted_on: dt.date) -> Path:
    """Write the ALS item factors of ``model`` (:func:`item_factor_frame`, product ids as text)
    to ``folder/item_factors.parquet``, with the fit's day, settings and the format version in
    the file's metadata; replaces the file in one step. Returns the file's path."""
    frame = item_factor_frame(model)
    frame.index = frame.index.astype(str)
    table = pa.Table.from_pandas(
        frame.rename_axis("product_id").reset_index(), preserve_index=False
    )
    meta = {
        "format_version": FORMAT_VERSION,
        "fitted_on": fitted_on.isoformat(),
        "settings": fit_settings(model),
    }
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def saved_item_factors(
    folder: Path, settings: dict[str, Any], *, as_of: dt.date, retrain_days: int
) -> tuple[pd.DataFrame | None, str]:
    """The item factors saved in ``folder`` by :func:`save_item_factors` (indexed by product id,
    for ``Recommender.fit(item_factors=...)``) and the day they were fitted, or None and why
    they are not to be used: none saved, unreadable, fitted with other ``settings``
    (:func:`fit_settings`), after ``as_of`` or more than ``retrain_days`` before it."""
    path = folder / FILE_NAME
    if not path.exists():
        return None, "no saved factors"
    try:
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {})[_META_KEY])
        version, fitted = meta["format_version"], dt.date.fromisoformat(meta["fitted_on"])
        saved = meta["settings"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"saved factors unreadable: {exc}"
    if version != FORMAT_VERSION:
        return None, f"saved factors in format {version}, not {FORMAT_VERSION}"
    changed = [name for name in settings if saved.get(name) != settings[name]]
    if changed:
        return None, f"settings changed: {', '.join(changed)}"
    age = (as_of - fitted).days
    if age < 0:
        return None, f"saved factors fitted {fitted}, after the as-of day"
    if age > retrain_days:
        return None, f"saved factors fitted {fitted}, more than {retrain_days} days ago"
    return table.to_pandas().set_index("product_id"), fitted.isoformat()
