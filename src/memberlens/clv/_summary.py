"""Validation and compression of the per-member summary frames the CLV models read.

A summary is one row per member with the literature's columns (``frequency``, ``recency``, ``T``,
and ``monetary_value`` for spend models; ``periods`` for the discrete BG/BB). An optional
``weights`` column says how many members a row stands for, so a summary pre-aggregated in the
engine (counts of identical rows) is accepted as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from memberlens.exceptions import DataError

WEIGHTS = "weights"


def _example(summary: pd.DataFrame, bad: np.ndarray, columns: tuple[str, ...]) -> str:
    row = summary.loc[bad].iloc[0]
    who = (
        f"member_id {row['member_id']!r}"
        if "member_id" in summary.columns
        else f"row {summary.index[bad][0]!r}"
    )
    values = ", ".join(f"{name} {row[name]!r}" for name in columns)
    return f"{int(bad.sum())} row(s), e.g. {who}: {values}"


def _as_float(column: pd.Series) -> np.ndarray:
    """A column as float64 (non-numbers become NaN); plain numpy numbers are read directly."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "fiu":
        return column.to_numpy(dtype=float)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def summary_columns(
    summary: pd.DataFrame, columns: tuple[str, ...], *, who: str
) -> dict[str, np.ndarray]:
    """The named columns of ``summary`` as float arrays, after checking the summary's rules.

    Rules: a pandas DataFrame holding every column, numeric and finite; ``frequency`` a whole
    number >= 0; ``recency`` >= 0 and 0 when ``frequency`` is 0; ``recency`` <= ``T`` (or
    ``frequency`` <= ``periods`` and ``recency`` <= ``periods`` for BG/BB); ``weights`` >= 0.
    """
    if not isinstance(summary, pd.DataFrame):
        raise DataError(
            f"{who}: summary must be a pandas DataFrame with columns "
            f"{list(columns)}; found {type(summary).__name__}; fix: pass the frame "
            "returned by memberlens.features.rfm_summary"
        )
    missing = [name for name in columns if name not in summary.columns]
    if missing:
        raise DataError(
            f"{who}: summary is missing column(s) {missing} (needed: {list(columns)}); "
            f"found {list(summary.columns)}; fix: build it with "
            "memberlens.features.rfm_summary or rename the columns at ingest"
        )
    arrays: dict[str, np.ndarray] = {}
    for name in columns:
        values = _as_float(summary[name])
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"{who}: column {name!r} must hold finite numbers; found "
                f"{_example(summary, bad, (name,))}; fix: drop or repair those rows"
            )
        arrays[name] = values
    checks: list[tuple[str, np.ndarray, tuple[str, ...]]] = []
    if "frequency" in arrays:
        freq = arrays["frequency"]
        checks.append(
            (
                "frequency must be a whole number >= 0",
                (freq < 0) | (freq != np.round(freq)),
                ("frequency",),
            )
        )
    if "recency" in arrays:
        rec = arrays["recency"]
        checks.append(("recency must be >= 0", rec < 0, ("recency",)))
        checks.append(
            (
                "recency must be 0 when frequency is 0",
                (arrays["frequency"] == 0) & (rec != 0),
                ("frequency", "recency"),
            )
        )
        if "T" in arrays:
            checks.append(
                (
                    "recency must be <= T (both measured from the first purchase)",
                    rec > arrays["T"] * (1 + 1e-12),
                    ("recency", "T"),
                )
            )
        if "periods" in arrays:
            checks.append(
                (
                    "frequency and recency must be <= periods",
                    (rec > arrays["periods"])
                    | (arrays["frequency"] > arrays["periods"])
                    | (arrays["frequency"] > rec),
                    ("frequency", "recency", "periods"),
                )
            )
    if WEIGHTS in arrays:
        checks.append(("weights must be >= 0", arrays[WEIGHTS] < 0, (WEIGHTS,)))
    for rule, bad, names in checks:
        if bad.any():
            raise DataError(
                f"{who}: {rule}; found {_example(summary, bad, names)}; fix: "
                "recompute the summary with one as_of date and one time unit"
            )
    return arrays


def read_summary(
    summary: pd.DataFrame, columns: tuple[str, ...], *, who: str
) -> dict[str, np.ndarray]:
    """Like :func:`summary_columns`, adding a ``weights`` array (ones when the column is absent)."""
    wanted = columns + (
        (WEIGHTS,) if isinstance(summary, pd.DataFrame) and WEIGHTS in summary.columns else ()
    )
    arrays = summary_columns(summary, wanted, who=who)
    arrays.setdefault(WEIGHTS, np.ones(len(summary)))
    return arrays


@dataclass(frozen=True)
class Compressed:
    """Distinct rows of a summary and how many members each stands for (sufficient statistics).

    For each column, ``values`` holds its distinct values and ``index`` where each distinct row
    finds its value (``columns[c] == values[c][index[c]]``), so that terms depending on one
    column only can be computed once per distinct value.
    """

    columns: dict[str, np.ndarray]
    weights: np.ndarray
    values: dict[str, np.ndarray]
    index: dict[str, np.ndarray]

    @property
    def n_members(self) -> float:
        return float(self.weights.sum())


def compress(arrays: dict[str, np.ndarray], columns: tuple[str, ...]) -> Compressed:
    """Group identical rows of ``columns`` and add up their weights (drops zero-weight rows).

    Each column is factorised (hashing), the codes are combined into one integer key per row,
    and the key is factorised again: linear time, no sort of the member rows.
    """
    keep = arrays[WEIGHTS] > 0
    weights = arrays[WEIGHTS][keep]
    codes, uniques = [], []
    for name in columns:
        code, unique = pd.factorize(arrays[name][keep])
        codes.append(code.astype(np.int64))
        uniques.append(np.asarray(unique, dtype=float))
    sizes = [max(u.size, 1) for u in uniques]
    if float(np.prod([float(n) for n in sizes])) >= 2.0**62:  # keys would overflow: group
        frame = pd.DataFrame({k: c for k, c in zip(columns, codes)})
        key = frame.groupby(list(columns), sort=False).ngroup().to_numpy()
    else:
        key = codes[0].copy()
        for code, size in zip(codes[1:], sizes[1:]):
            key = key * size + code
    row_of_key, distinct = pd.factorize(key)
    first = np.zeros(distinct.size, dtype=np.int64)
    first[row_of_key[::-1]] = np.arange(row_of_key.size)[::-1]  # a member row of each key
    index = {name: code[first] for name, code in zip(columns, codes)}
    values = dict(zip(columns, uniques))
    return Compressed(
        {name: values[name][index[name]] for name in columns},
        np.bincount(row_of_key, weights=weights, minlength=distinct.size),
        values,
        index,
    )


def member_index(summary: pd.DataFrame) -> pd.Index:
    """The index for per-member outputs: ``member_id`` when present, else the frame's own index."""
    if "member_id" in summary.columns:
        return pd.Index(summary["member_id"], name="member_id")
    return summary.index
