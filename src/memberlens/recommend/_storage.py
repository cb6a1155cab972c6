"""Saving and loading a fitted Recommender: ``recommender.npz`` (arrays, no pickles) and
``recommender.json`` (settings and format version)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from memberlens.exceptions import ConfigError

__all__ = ["load", "save"]

ARRAYS = (
    "popularity_share_",
    "popularity_key_",
    "replenishment_",
    "recommendable_",
    "item_category_",
    "categories_",
    "item_names_",
    "user_factors_",
    "item_factors_",
)
MATRICES = ("user_items_", "purchases_", "similarity_")


def _plain(index: pd.Index) -> np.ndarray:
    values = np.asarray(index)
    return values.astype(str) if values.dtype == object else values


def save(model, folder: Path, version: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"members": _plain(model.members_), "items": _plain(model.items_)}
    for name in ARRAYS:
        if getattr(model, name) is not None:
            arrays[name] = np.asarray(getattr(model, name))
    for name in MATRICES:
        matrix = getattr(model, name)
        if matrix is not None:
            arrays.update(
                {
                    f"{name}data": matrix.data,
                    f"{name}indices": matrix.indices,
                    f"{name}indptr": matrix.indptr,
                    f"{name}shape": np.asarray(matrix.shape),
                }
            )
    np.savez(folder / "recommender.npz", **arrays)
    params = model.get_params()
    rule = params["replenishment"]
    params["replenishment"] = (
        rule if rule is None or isinstance(rule, str) else sorted(map(str, rule))
    )
    params["hybrid_weights"] = list(params["hybrid_weights"])
    meta = {
        "format_version": version,
        "class": type(model).__name__,
        "params": params,
        "n_interactions": model.n_interactions_,
    }
    (folder / "recommender.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return folder


def load(cls, folder: Path, version: int):
    if not (folder / "recommender.json").exists():
        raise ConfigError(
            f"{folder}: no saved recommender (recommender.json); fit one and call save() first"
        )
    meta = json.loads((folder / "recommender.json").read_text(encoding="utf-8"))
    if meta.get("format_version") != version:
        raise ConfigError(
            f"{folder / 'recommender.json'}: format_version "
            f"{meta.get('format_version')!r} is not {version}; refit"
        )
    params = dict(meta["params"])
    params["hybrid_weights"] = tuple(params["hybrid_weights"])
    model = cls(**params)
    with np.load(folder / "recommender.npz", allow_pickle=False) as data:
        model.members_ = pd.Index(data["members"])
        model.items_ = pd.Index(data["items"])
        for name in ARRAYS:
            setattr(model, name, data[name] if name in data else None)
        for name in MATRICES:
            setattr(
                model,
                name,
                sp.csr_matrix(
                    (data[f"{name}data"], data[f"{name}indices"], data[f"{name}indptr"]),
                    shape=tuple(data[f"{name}shape"]),
                )
                if f"{name}data" in data
                else None,
            )
    model.n_interactions_ = int(meta["n_interactions"])
    return model
