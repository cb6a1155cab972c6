"""From an interactions frame to sparse member x product matrices (rows and columns in sorted
id order, so the same data always gives the same matrix)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from memberlens.exceptions import DataError

__all__ = ["Encoded", "as_arrow", "encode_interactions", "sorted_codes"]

_PURCHASE_EVENTS = ("order", "purchase")


@dataclass(frozen=True)
class Encoded:
    """``weights``: summed interaction weights; ``purchases``: purchase days (0 = never
    bought); both ``members x items`` CSR matrices over ``members`` / ``items`` (sorted ids)."""

    members: pd.Index
    items: pd.Index
    weights: sp.csr_matrix
    purchases: sp.csr_matrix


def as_arrow(data, *, name: str) -> pa.Table:
    """An Arrow table from pandas, Arrow or an Ibis table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    if hasattr(data, "to_pyarrow"):
        return data.to_pyarrow()
    raise DataError(
        f"{name}: expected a pandas DataFrame, an Arrow table or an Ibis table; "
        f"got {type(data).__name__}"
    )


def _id_column(table: pa.Table, column: str, name: str) -> pa.ChunkedArray:
    values = table.column(column)
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    nulls = values.null_count
    if nulls:
        raise DataError(
            f"{name}.{column}: {nulls:,} empty value(s); every row needs a "
            f"{column} (drop anonymous rows or resolve them to members first)"
        )
    if not (
        pa.types.is_string(values.type)
        or pa.types.is_large_string(values.type)
        or pa.types.is_integer(values.type)
    ):
        values = values.cast(pa.string())
    return values


def sorted_codes(values: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(code of every value, the distinct values in ascending order)."""
    encoded = pc.dictionary_encode(values).combine_chunks()
    dictionary = encoded.dictionary
    order = pc.sort_indices(dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[encoded.indices.to_numpy(zero_copy_only=False)]
    return codes, dictionary.take(pa.array(order))


def _index(values: pa.Array) -> pd.Index:
    return pd.Index(values.to_pandas(), copy=False)


def encode_interactions(data, *, weights: Mapping[str, float], extra_items=None) -> Encoded:
    """Validate and encode ``data`` (member_id, product_id and ``weight`` [+ ``purchase_days``]
    or ``event_type``). ``extra_items`` (e.g. the catalogue) join the item axis unweighted."""
    table = as_arrow(data, name="interactions")
    for column in ("member_id", "product_id"):
        if column not in table.column_names:
            raise DataError(
                f"interactions: missing column {column!r}; found "
                f"{table.column_names}. Build it with "
                "memberlens.recommend.interactions_from_warehouse"
            )
    if table.num_rows == 0:
        raise DataError(
            "interactions: no rows; a recommender needs purchases or events before the as-of day"
        )
    members = _id_column(table, "member_id", "interactions")
    items = _id_column(table, "product_id", "interactions")
    if "weight" in table.column_names:
        weight = table.column("weight").to_numpy().astype(np.float64)
        if "purchase_days" in table.column_names:
            bought = table.column("purchase_days").fill_null(0).to_numpy().astype(np.float64)
        else:  # weights alone: every row is a purchase (e.g. a plain order-line history)
            bought = np.ones(table.num_rows)
    elif "event_type" in table.column_names:
        kinds = table.column("event_type").cast(pa.string()).fill_null("")
        names = pc.unique(kinds).to_pylist()
        unknown = sorted(k for k in names if k not in weights)
        if unknown:
            raise DataError(
                f"interactions.event_type: no weight for {unknown}; pass weights="
                f"{{...}} with every event type (current: {dict(weights)})"
            )
        lookup = pa.array(list(weights))
        position = pc.index_in(kinds, value_set=lookup).to_numpy(zero_copy_only=False)
        weight = np.array(list(weights.values()), dtype=np.float64)[position]
        bought = np.isin(kinds.to_numpy(zero_copy_only=False), _PURCHASE_EVENTS).astype(float)
    else:
        raise DataError(
            "interactions: needs a 'weight' column (with optional "
            "'purchase_days') or an 'event_type' column; found "
            f"{table.column_names}"
        )
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise DataError(
            "interactions.weight: must be finite and >= 0; found "
            f"{int((~np.isfinite(weight) | (weight < 0)).sum()):,} bad value(s)"
        )
    if extra_items is not None:
        extra = pa.chunked_array([pa.array(np.asarray(extra_items)).cast(items.type)])
        all_items = pa.chunked_array(items.chunks + extra.chunks, type=items.type)
        item_codes, item_values = sorted_codes(all_items)
        item_codes = item_codes[: table.num_rows]
    else:
        item_codes, item_values = sorted_codes(items)
    member_codes, member_values = sorted_codes(members)
    shape = (len(member_values), len(item_values))
    matrix = sp.csr_matrix((weight, (member_codes, item_codes)), shape=shape)
    purchased = sp.csr_matrix((bought, (member_codes, item_codes)), shape=shape)
    matrix.eliminate_zeros()
    purchased.eliminate_zeros()
    matrix.sort_indices()
    purchased.sort_indices()
    return Encoded(
        members=_index(member_values),
        items=_index(item_values),
        weights=matrix,
        purchases=purchased,
    )
