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


@dataclass(frozen=True)
class Transactions:
    """Distinct (basket, item) pairs: ``basket[p]`` in ``0..n_transactions-1`` and ``item[p]``
    an index into ``labels`` (sorted, so codes follow the items' natural order)."""

    basket: np.ndarray
    item: np.ndarray
    labels: np.ndarray
    n_transactions: int

    @property
    def n_items(self) -> int:
        return int(self.labels.size)

    def item_counts(self) -> np.ndarray:
        """Number of baskets holding each item, indexed by item code."""
        return np.bincount(self.item, minlength=self.n_items).astype(np.int64)

    def to_lists(self) -> list[list]:
        """The baskets back as lists of labels (items in label order)."""
        order = np.lexsort((self.item, self.basket))
        sizes = np.bincount(self.basket, minlength=self.n_transactions)
        labels = self.labels[self.item[order]].tolist()
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        return [labels[bounds[b]:bounds[b + 1]] for b in range(self.n_transactions)]


def _factorize_items(values, *, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the sorted distinct items; items must be non-null and mutually comparable."""
    try:
        codes, labels = pd.factorize(values, sort=True, use_na_sentinel=True)
    except TypeError as exc:
        raise DataError(
            f"{where}: items of mixed, unorderable types ({exc}); use one type for every item, "
            "e.g. all strings") from exc
    if (codes < 0).any():
        raise DataError(
            f"{where}: {(codes < 0).sum()} missing item value(s) (null/NaN); drop those rows or "
            "give the item a name")
    return codes.astype(np.int32, copy=False), np.asarray(labels, dtype=object)


def _pairs(basket: np.ndarray, item: np.ndarray, labels: np.ndarray,
           n_transactions: int) -> Transactions:
    """Distinct pairs sorted by basket, then item (a sort, cheaper than a hash at this size)."""
    width = max(1, labels.size)
    key = basket.astype(np.int64) * width + item
    del basket, item
    key.sort()
    key = key[np.concatenate([[True], key[1:] != key[:-1]])] if key.size else key
    return Transactions(basket=(key // width).astype(np.int32),
                        item=(key % width).astype(np.int32),
                        labels=labels, n_transactions=int(n_transactions))


def _from_frame(frame: pd.DataFrame, where: str) -> Transactions:
    missing = [c for c in BASKET_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {missing}; found {list(frame.columns)}. Pass one row per "
            "(basket, item) pair with columns 'basket_id' and 'item' (rename yours, e.g. "
            "frame.rename(columns={'order_id': 'basket_id', 'product_id': 'item'}))")
    basket_codes, basket_ids = pd.factorize(frame["basket_id"], use_na_sentinel=True)
    if (basket_codes < 0).any():
        raise DataError(
            f"{where}: {(basket_codes < 0).sum()} row(s) with a missing basket_id; drop them or "
            "give each line the id of its basket")
    item, labels = _factorize_items(frame["item"], where=where)
    return _pairs(basket_codes.astype(np.int32), item, labels, len(basket_ids))


def _from_lists(baskets: Iterable, where: str) -> Transactions:
    baskets = baskets if isinstance(baskets, list) else list(baskets)
    odd = [b for b in baskets if not isinstance(b, (list, tuple))]
    if any(isinstance(b, (str, bytes)) or not isinstance(b, Iterable) for b in odd):
        raise DataError(
            f"{where}: a basket is not a list of items (a string or a single value); pass e.g. "
            "[['milk', 'bread'], ['milk']] (split the lines of a basket file with "
            "read_basket_file)")
    sizes = np.fromiter((len(b) for b in baskets), dtype=np.int64, count=len(baskets))
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
        missing = [c for c in BASKET_COLUMNS if c not in baskets.column_names]
        if missing:
            raise DataError(
                f"{where}: Arrow table without column(s) {missing}; found {baskets.column_names}. "
                "Select or rename to 'basket_id' and 'item'")
        out = _from_frame(baskets.select(list(BASKET_COLUMNS)).to_pandas(), where)
    elif isinstance(baskets, (str, bytes, Path)) or not isinstance(baskets, Iterable):
        raise DataError(
            f"{where}: cannot read baskets from a {type(baskets).__name__}; pass a list of lists "
            "of items, a pandas frame or Arrow table of (basket_id, item) pairs, or use "
            "read_basket_file(path) for a basket file")
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
            "re-save it as UTF-8") from exc
    return [line.split(sep) for line in text.splitlines() if line]
