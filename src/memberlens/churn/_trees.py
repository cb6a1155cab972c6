"""The decisions of a LightGBM model's trees in numpy: which way each row goes at a split,
and the raw score (``predict(raw_score=True)``) from them.

A churn model is 200 trees of at most 7 leaves; LightGBM walks every tree for every row, about
7 microseconds a row on this machine. Here each split is one comparison of a whole feature
column, each tree's outcome one lookup of its leaf by the row's pattern of decisions, and the
leaf values are added tree after tree in LightGBM's order (``GBDT::PredictRaw``: from 0.0,
tree 0 first), so the score is LightGBM's to the bit (``tests/churn/test_trees.py``) at about
a third of the CPU time. The decisions follow LightGBM's ``Tree::NumericalDecision``; trees
with a categorical split or more than :data:`MAX_SPLITS` splits are left to LightGBM.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

__all__ = ["MAX_SPLITS", "Columns", "goes_left", "pattern", "raw_score", "splits_of", "supported"]

#: trees with more splits than this are left to LightGBM (2**12 patterns per tree at most)
MAX_SPLITS = 12
#: LightGBM's zero threshold (``kZeroThreshold``): smaller magnitudes count as zero
ZERO = 1e-35

# per booster: its trees' splits and leaf tables (a booster never changes once fitted)
_compiled: weakref.WeakKeyDictionary[Any, list[tuple[list[dict], np.ndarray]] | None] = (
    weakref.WeakKeyDictionary()
)


def splits_of(node: dict[str, Any], out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The split nodes of a tree of ``dump_model()``, depth first (left before right)."""
    if "split_index" in node:
        out.append(node)
        splits_of(node["left_child"], out)
        splits_of(node["right_child"], out)
    return out


def supported(splits: list[list[dict[str, Any]]]) -> bool:
    """Whether every tree has only numerical splits, at most :data:`MAX_SPLITS` of them."""
    return not any(
        len(s) > MAX_SPLITS or any(n.get("decision_type", "<=") != "<=" for n in s) for s in splits
    )


class Columns:
    """The feature columns of ``x``, contiguous, with their missing-value masks, computed once
    for all the splits that read them. Magnitudes up to :data:`ZERO` are 0.0, as LightGBM
    reads a dense row (it keeps only larger values and NaN)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self._cache: dict[tuple[int, str], tuple[np.ndarray, np.ndarray | None]] = {}

    def get(self, feature: int, missing_type: str) -> tuple[np.ndarray, np.ndarray | None]:
        """(values, missing mask or None) as LightGBM's ``NumericalDecision`` sees them: NaN
        is a zero unless NaN is the missing value; "Zero" treats zeros as missing."""
        key = (feature, missing_type)
        if key not in self._cache:
            col = np.ascontiguousarray(self.x[:, feature])
            tiny = np.abs(col) <= ZERO
            col = np.where(tiny, 0.0, col) if tiny.any() else col
            nan = np.isnan(col)
            if missing_type == "NaN":
                self._cache[key] = (col, nan if nan.any() else None)
            else:
                col = np.where(nan, 0.0, col) if nan.any() else col
                zero = col == 0.0 if missing_type == "Zero" else None
                self._cache[key] = (col, zero)
        return self._cache[key]


def goes_left(columns: Columns, split: dict[str, Any]) -> np.ndarray:
    """Whether each row goes left at a numerical ``split`` (missing values by
    ``default_left``)."""
    values, missing = columns.get(int(split["split_feature"]), split.get("missing_type", "None"))
    left = values <= float(split["threshold"])
    if missing is not None:
        left[missing] = bool(split["default_left"])
    return left


def pattern(columns: Columns, splits: list[dict[str, Any]]) -> np.ndarray:
    """Each row's decisions in one tree as an integer: bit ``i`` set when it goes left at
    ``splits[i]``."""
    code = np.zeros(len(columns.x), dtype=np.int32)
    for bit, split in enumerate(splits):
        code |= goes_left(columns, split).astype(np.int32) << bit
    return code


def _leaf_table(tree: dict[str, Any], splits: list[dict[str, Any]]) -> np.ndarray:
    """The leaf value reached by every pattern of decisions (see :func:`pattern`)."""
    bit = {id(s): i for i, s in enumerate(splits)}
    table = np.empty(1 << len(splits))
    for code in range(len(table)):
        node = tree
        while "split_index" in node:
            node = node["left_child"] if code >> bit[id(node)] & 1 else node["right_child"]
        table[code] = node["leaf_value"]
    return table


def _compile(booster: Any) -> list[tuple[list[dict], np.ndarray]] | None:
    if booster not in _compiled:
        trees = [t["tree_structure"] for t in booster.dump_model()["tree_info"]]
        splits = [splits_of(t, []) for t in trees]
        _compiled[booster] = (
            [(s, _leaf_table(t, s)) for t, s in zip(trees, splits, strict=True)]
            if supported(splits)
            else None
        )
    return _compiled[booster]


def raw_score(booster: Any, x: np.ndarray) -> np.ndarray:
    """``booster.predict(x, raw_score=True)`` of a binary or regression model (one tree per
    iteration), bit for bit."""
    x = np.asarray(x, dtype=float)
    trees = _compile(booster)
    if trees is None or booster.num_model_per_iteration() != 1:
        return np.asarray(booster.predict(x, raw_score=True))
    columns = Columns(x)
    score = np.zeros(len(x))
    for splits, leaves in trees:
        score += leaves[pattern(columns, splits)]
    return score
