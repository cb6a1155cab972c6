"""Baskets in, one compact encoding out: (basket index, item code) pairs plus the item labels.

Accepted inputs, all meaning a set of items per basket (as in arules, a repeated item counts
once and an empty basket still counts as a transaction):

- a list (any iterable) of baskets, each a list of items, e.g. ``load_groceries()``;
- a pandas frame or an Arrow table with columns ``basket_id`` and ``item``, one row per
  (basket, item) pair, e.g. the output of :func:`memberlens.baskets.baskets_from_orders`;
- a :class:`Transactions` already encoded (to mine the same baskets several times).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from memberlens.exceptions import DataError, SourceError

__all__ = ["Transactions", "encode_baskets", "read_basket_file"]

BASKET_COLUMNS = ("basket_id", "item")
_BLOCK = 1 << 18


def blockwise_take(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[index]`` in blocks: numpy widens a small-integer index to int64, which for a
    line-sized index would cost more than the result."""
    out = np.empty(index.size, dtype=table.dtype)
    for start in range(0, index.size, _BLOCK):
        out[start : start + _BLOCK] = table[index[start : start + _BLOCK]]
    return out


@dataclass(frozen=True)
class Transactions:
    """Distinct (basket, item) pairs sorted by basket, then item: ``basket[p]`` (int32) in
    ``0..n_transactions-1`` and ``item[p]`` (int16 or int32) an index into ``labels`` (sorted,
    so codes follow the items' natural order)."""

    basket: np.ndarray
    item: np.ndarray
    labels: np.ndarray
    n_transactions: int

    @property
    def n_items(self) -> int:
        return int(self.labels.size)

    def item_counts(self) -> np.ndarray:
        """Number of baskets holding each item, indexed by item code."""
        counts = np.zeros(self.n_items, dtype=np.int64)
        for start in range(0, self.item.size, _BLOCK):  # bincount widens its input to int64
            counts += np.bincount(self.item[start : start + _BLOCK], minlength=self.n_items)
        return counts

    def to_lists(self) -> list[list]:
        """The baskets back as lists of labels (items in label order)."""
        order = np.lexsort((self.item, self.basket))
        sizes = np.bincount(self.basket, minlength=self.n_transactions)
        labels = self.labels[self.item[order]].tolist()
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        return [labels[bounds[b] : bounds[b + 1]] for b in range(self.n_transactions)]


def _small_int(codes: np.ndarray, n_values: int) -> np.ndarray:
    return codes.astype(np.int16 if n_values < 2**15 else np.int32, copy=False)


def _factorize_items(values, *, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the sorted distinct items; items must be non-null and mutually comparable."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        categories = values.cat.categories
        order = (
            np.argsort(np.asarray(categories, dtype=object), kind="stable")
            if not categories.is_monotonic_increasing
            else None
        )
        if order is not None:  # recode into label order (a small lookup table)
            recode = np.empty(order.size + 1, dtype=np.int32)
            recode[order], recode[-1] = np.arange(order.size), -1
            codes = blockwise_take(recode, codes)
            categories = categories[order]
        labels = np.asarray(categories, dtype=object)
    else:
        try:
            codes, labels = pd.factorize(values, sort=True, use_na_sentinel=True)
        except TypeError as exc:
            raise DataError(
                f"{where}: items of mixed, unorderable types ({exc}); use one type for every "
                "item, e.g. all strings"
            ) from exc
        labels = np.asarray(labels, dtype=object)
    if (codes < 0).any():
        raise DataError(
            f"{where}: {(codes < 0).sum()} missing item value(s) (null/NaN); drop those rows or "
            "give the item a name"
        )
    return _small_int(codes, labels.size), labels


def _integer_codes(raw: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Codes 0..n-1 of sorted integer ids without hashing (None when ids are not sorted).
    Ids that already are 0, 1, 2, ... in an int32 array are used as they are, not copied."""
    if raw.dtype.kind not in "iu" or not (raw[1:] >= raw[:-1]).all():
        return None
    distinct = 1 + int(np.count_nonzero(raw[1:] != raw[:-1])) if raw.size else 0
    if raw.dtype == np.int32 and raw.size and raw[0] == 0 and raw[-1] == distinct - 1:
        return raw, distinct  # already 0, 1, 2, ... with no gap
    codes = np.zeros(raw.size, dtype=np.int32)
    if raw.size:
        np.cumsum(raw[1:] != raw[:-1], out=codes[1:])
    return codes, int(codes[-1]) + 1 if raw.size else 0


def _basket_codes(values: pd.Series, where: str) -> tuple[np.ndarray, int]:
    """Basket index of every line, 0..n-1 (by first appearance)."""
    if values.isna().any():
        raise DataError(
            f"{where}: {int(values.isna().sum())} row(s) with a missing basket_id; drop them or "
            "give each line the id of its basket"
        )
    fast = _integer_codes(values.to_numpy())
    if fast is not None:
        return fast
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int32), len(uniques)


def _pairs(
    basket: np.ndarray, item: np.ndarray, labels: np.ndarray, n_transactions: int
) -> Transactions:
    """Distinct pairs sorted by basket, then item. Input already in that order is kept as is;
    otherwise one sort of ``basket * n_items + item`` (cheaper than hashing at this size)."""
    width = max(1, labels.size)
    if basket.size > 1:
        ordered = bool((basket[1:] >= basket[:-1]).all())
        if ordered:
            ordered = not ((basket[1:] == basket[:-1]) & (item[1:] <= item[:-1])).any()
    else:
        ordered = True
    if not ordered:
        key = basket.astype(np.int64) * width + item
        del basket, item
        key.sort()
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]
        basket = (key // width).astype(np.int32)
        item = _small_int(key % width, width)
        del key
    return Transactions(
        basket=basket.astype(np.int32, copy=False),
        item=_small_int(item, width),
        labels=labels,
        n_transactions=int(n_transactions),
    )


def _from_frame(frame: pd.DataFrame, where: str) -> Transactions:
    missing = [c for c in BASKET_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {missing}; found {list(frame.columns)}. Pass one row per "
            "(basket, item) pair with columns 'basket_id' and 'item' (rename yours, e.g. "
            "frame.rename(columns={'order_id': 'basket_id', 'product_id': 'item'}))"
        )
    basket, n_transactions = _basket_codes(frame["basket_id"], where)
    item, labels = _factorize_items(frame["item"], where=where)
    return _pairs(basket, item, labels, n_transactions)


def _arrow_codes(column, name: str, where: str) -> tuple[np.ndarray, np.ndarray | int]:
    """Codes (int32) of an Arrow column and its distinct values (an object array), or only
    their number for sorted integer ids; dictionary columns are used as they are."""
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):  # one chunk: use it in place, no copy
        column = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    array = column
    if array.null_count:
        raise DataError(
            f"{where}: {array.null_count} row(s) with a missing {name}; drop them or fill them in"
        )
    if pa.types.is_integer(array.type):
        fast = _integer_codes(array.to_numpy())
        if fast is not None:
            return fast
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    codes = array.indices.to_numpy(zero_copy_only=False)
    if codes.dtype not in (np.int8, np.int16, np.int32):
        codes = codes.astype(np.int32)
    return codes, np.asarray(array.dictionary.to_pylist(), dtype=object)


def _from_arrow(table: pa.Table, where: str) -> Transactions:
    """Arrow columns straight to codes (no pandas objects): dictionary-encode, then put the
    item dictionary in sorted order."""
    missing = [c for c in BASKET_COLUMNS if c not in table.column_names]
    if missing:
        raise DataError(
            f"{where}: Arrow table without column(s) {missing}; found {table.column_names}. "
            "Select or rename to 'basket_id' and 'item'"
        )
    basket, basket_ids = _arrow_codes(table.column("basket_id"), "basket_id", where)
    item, labels = _arrow_codes(table.column("item"), "item", where)
    order = np.argsort(labels, kind="stable")
    if (order != np.arange(order.size)).any():
        recode = np.empty(order.size, dtype=np.int16 if order.size < 2**15 else np.int32)
        recode[order] = np.arange(order.size)
        item, labels = blockwise_take(recode, item), labels[order]
    n_transactions = basket_ids if isinstance(basket_ids, int) else basket_ids.size
    return _pairs(basket, _small_int(item, labels.size), labels, n_transactions)


def _from_lists(baskets: Iterable, where: str) -> Transactions:
    baskets = baskets if isinstance(baskets, list) else list(baskets)
    odd = (
        []
        if set(map(type, baskets)) <= {list, tuple}
        else [b for b in baskets if not isinstance(b, (list, tuple))]
    )
    if any(isinstance(b, (str, bytes)) or not isinstance(b, Iterable) for b in odd):
        raise DataError(
            f"{where}: a basket is not a list of items (a string or a single value); pass e.g. "
            "[['milk', 'bread'], ['milk']] (split the lines of a basket file with "
            "read_basket_file)"
        )
    sizes = np.fromiter(map(len, baskets), dtype=np.int64, count=len(baskets))
    flat = np.fromiter(chain.from_iterable(baskets), dtype=object, count=int(sizes.sum()))
    item, labels = _factorize_items(flat, where=where)
    basket = np.repeat(np.arange(len(baskets), dtype=np.int32), sizes)
    return _pairs(basket, item, labels, len(baskets))


def encode_baskets(baskets) -> Transactions:
    """Encode any accepted basket input (see the module docstring) as :class:`Transactions`.

    >>> t = encode_baskets([["milk", "bread"], ["milk", "milk"], []])
    >>> t.n_transactions, list(t.labels), t.item_counts().tolist()
    (3, ['bread', 'milk'], [1, 2])
    """
    where = "baskets"
    if isinstance(baskets, Transactions):
        out = baskets
    elif isinstance(baskets, pd.DataFrame):
        out = _from_frame(baskets, where)
    elif isinstance(baskets, pa.Table):
        out = _from_arrow(baskets, where)
    elif isinstance(baskets, (str, bytes, Path)) or not isinstance(baskets, Iterable):
        raise DataError(
            f"{where}: cannot read baskets from a {type(baskets).__name__}; pass a list of lists "
            "of items, a pandas frame or Arrow table of (basket_id, item) pairs, or use "
            "read_basket_file(path) for a basket file"
        )
    else:
        out = _from_lists(baskets, where)
    if out.n_transactions == 0:
        raise DataError(f"{where}: no transactions to mine; pass at least one basket")
    return out


def read_basket_file(path: str | Path, *, sep: str = ",") -> list[list[str]]:
    """Baskets from a text file with one basket per line, items separated by ``sep`` and no
    header (the ``groceries.csv`` layout); blank lines are skipped, items kept verbatim."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SourceError(f"basket file {str(path)!r} does not exist; check the path") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"basket file {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "re-save it as UTF-8"
        ) from exc
    return [line.split(sep) for line in text.splitlines() if line]
