"""Arrow columns of the canonical types, built from numpy arrays without Python loops.

Times are carried as float days since the simulation start and written as naive local
timestamps rounded to the second; money is carried as integer cents and written as
``decimal128(18, 2)`` exactly (no float rounding); ids are strings.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.schema import TABLES

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "decimal": pa.decimal128(18, 2),
    "integer": pa.int64(),
    "float": pa.float64(),
}


def arrow_schema(table: str) -> pa.Schema:
    """The canonical Arrow schema of ``table`` (from :data:`memberlens.schema.TABLES`)."""
    return pa.schema(
        [
            pa.field(f.name, ARROW_TYPES[f.type], nullable=not f.required)
            for f in TABLES[table].fields
        ]
    )


def timestamps(start: np.datetime64, days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Naive timestamps ``start + days`` rounded down to the second."""
    seconds = np.floor(np.asarray(days, dtype=np.float64) * 86400.0).astype(np.int64)
    us = (seconds + start.astype("datetime64[s]").astype(np.int64)) * 1_000_000
    mask = None if valid is None else ~valid
    return pa.array(us, type=pa.int64(), mask=mask).cast(pa.timestamp("us"))


def dates(start: np.datetime64, days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Dates ``start + floor(days)``."""
    d = np.floor(days).astype(np.int64) + start.astype("datetime64[D]").astype(np.int64)
    mask = None if valid is None else ~valid
    return pa.array(d.astype(np.int32), type=pa.int32(), mask=mask).cast(pa.date32())


def money(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Exact ``decimal128(18, 2)`` from integer cents (two's complement 128-bit words)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    validity = None
    if valid is not None:
        validity = pa.array(valid, type=pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(
        pa.decimal128(18, 2),
        len(cents),
        [validity, pa.py_buffer(words.tobytes())],
        null_count=-1 if valid is not None else 0,
    )


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Identifiers ``prefix`` + zero-padded ``numbers`` (e.g. ``M000001234``)."""
    digits = pc.utf8_lpad(
        pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string()), width=width, padding="0"
    )
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "") if prefix else digits


def labels(
    values: list[str] | tuple[str, ...], index: np.ndarray, valid: np.ndarray | None = None
) -> pa.Array:
    """``values[index]`` as a string column (null where ``valid`` is False)."""
    out = pa.array(list(values), type=pa.string()).take(pa.array(np.asarray(index, dtype=np.int64)))
    if valid is not None:
        out = pc.if_else(pa.array(valid), out, pa.scalar(None, pa.string()))
    return out


def random_text(rng: np.random.Generator, n: int, length: int, alphabet: str) -> pa.Array:
    """``n`` random strings of ``length`` characters drawn from an ASCII ``alphabet``."""
    codes = np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8)
    chars = codes[rng.integers(0, len(codes), size=(n, length))]
    buf = pa.py_buffer(np.ascontiguousarray(chars).tobytes())
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * length).tobytes())
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, buf])


def concat(*parts: pa.Array) -> pa.Array:
    """Element-wise string concatenation of columns or scalars."""
    return pc.binary_join_element_wise(*parts, "")


def table(name: str, columns: dict[str, pa.Array], n: int) -> pa.Table:
    """A canonical table: given columns, nulls for the others, in contract order and types."""
    schema = arrow_schema(name)
    arrays = []
    for f in schema:
        col = columns.get(f.name)
        arrays.append(pa.nulls(n, f.type) if col is None else col.cast(f.type))
    unknown = set(columns) - set(schema.names)
    if unknown:
        raise KeyError(f"{name}: columns not in the contract: {sorted(unknown)}")
    return pa.Table.from_arrays(arrays, schema=schema)
