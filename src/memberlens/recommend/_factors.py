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
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "buyer_share_shift",
    "fit_settings",
    "fold_in_users",
    "item_factor_frame",
    "reusable_factors",
    "save_item_factors",
    "saved_item_factors",
]

#: the settings an ALS fit depends on: factors fitted with other values are not reused
ALS_SETTINGS = ("factors", "regularization", "alpha", "scaling", "event_weights")
#: ... and with the number of iterations and the seed, what a kept fit must share with a run
FIT_SETTINGS = (*ALS_SETTINGS, "iterations", "random_state")
#: the file of :func:`save_item_factors` and its format version (in the Parquet metadata)
FILE_NAME = "item_factors.parquet"
FORMAT_VERSION = 1
_META_KEY = b"memberlens.item_factors"


def item_factor_frame(model) -> pd.DataFrame:
    """The fitted ALS item factors (``f0`` ..) and buyer shares, indexed by product id."""
    frame = pd.DataFrame(
        model.item_factors_, index=model.items_, columns=[f"f{j}" for j in range(model.factors)]
    )
    frame["buyer_share"] = model.popularity_share_
    return frame


def buyer_share_shift(before: np.ndarray, after: np.ndarray) -> float:
    """Population stability index between two item buyer-share vectors (each normalised to
    sum 1; a floor of 1e-6 keeps empty items finite): sum (a - b) ln(a / b)."""
    b = np.maximum(before / max(float(before.sum()), 1e-12), 1e-6)
    a = np.maximum(after / max(float(after.sum()), 1e-12), 1e-6)
    return float(np.sum((a - b) * np.log(a / b)))


def reusable_factors(
    previous: pd.DataFrame, model, *, max_shift: float
) -> tuple[np.ndarray | None, str]:
    """The earlier fit's item factors aligned to ``model.items_`` and why, or None and why
    not."""
    columns = [f"f{j}" for j in range(model.factors)]
    if list(previous.columns) != [*columns, "buyer_share"]:
        return None, f"saved factors have {previous.shape[1] - 1} factors, not {model.factors}"
    # product ids compared as text: a saved file keeps them as text whatever their type
    aligned = previous.set_axis(previous.index.astype(str)).reindex(
        pd.Index(model.items_).astype(str)
    )
    missing = int(aligned["buyer_share"].isna().sum())
    if missing:
        return None, f"{missing} item(s) without saved factors"
    shift = buyer_share_shift(aligned["buyer_share"].to_numpy(), model.popularity_share_)
    if shift > max_shift:
        return None, f"item buyer shares shifted: PSI {shift:.2f} > {max_shift}"
    factors = np.ascontiguousarray(aligned[columns].to_numpy(np.float32))
    return factors, f"item factors reused, PSI {shift:.2f}"


def fold_in_users(model, item_factors: np.ndarray, threads: int) -> np.ndarray:
    """Every member's factors from fixed ``item_factors`` (the exact solve above)."""
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
        users = model.user_items_.shape[0]
        return np.asarray(als.recalculate_user(np.arange(users), model.user_items_))


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
