"""Why an item is recommended, in English and Chinese.

For each recommended item, in this order:

1. the member bought the item itself (a replenishment item offered again):
   "buy again: you bought X before" / "再次购买：您之前买过 X";
2. the most similar item the member bought (similarity > 0; ALS item-factor cosine, the
   item-kNN similarity, or their hybrid blend): "because you bought X" / "因为您购买了 X";
3. else the most similar item the member viewed, carted or clicked:
   "because you viewed X" / "因为您浏览过 X";
4. else (popularity, cold members): "popular in <category>" / "<category>热销", or
   "popular with members" / "会员热门商品" when the catalogue has no category.

The anchor search is vectorised over (recommendation, history item) pairs, in chunks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

__all__ = ["REASON_KINDS", "anchors", "reason_texts"]

REASON_KINDS = ("again", "bought", "viewed", "popular")
_PAIR_CHUNK = 250_000

Similarity = Callable[[np.ndarray, np.ndarray], np.ndarray]


def anchors(
    items: np.ndarray, rows: np.ndarray, history: sp.csr_matrix, similarity: Similarity
) -> np.ndarray:
    """For each recommended ``items[e]`` of member row ``rows[e]`` (``-1`` = cold), the history
    item of highest positive similarity (other than the item itself), or ``-1``."""
    best = np.full(len(items), -1, dtype=np.int64)
    warm = np.flatnonzero(rows >= 0)
    if warm.size == 0:
        return best
    starts = history.indptr[rows[warm]]
    lengths = history.indptr[rows[warm] + 1] - starts
    entry = np.repeat(warm, lengths)
    offsets = np.arange(len(entry)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    hist = history.indices[np.repeat(starts, lengths) + offsets].astype(np.int64)
    target = items[entry]
    other = hist != target
    entry, hist, target = entry[other], hist[other], target[other]
    if entry.size == 0:
        return best
    sims = np.concatenate(
        [
            similarity(hist[i : i + _PAIR_CHUNK], target[i : i + _PAIR_CHUNK])
            for i in range(0, len(entry), _PAIR_CHUNK)
        ]
    )
    positive = sims > 0
    entry, hist, sims = entry[positive], hist[positive], sims[positive]
    if entry.size == 0:
        return best
    order = np.lexsort((hist, -sims, entry))  # best similarity first; ties to the lower item
    entry, hist = entry[order], hist[order]
    first = np.r_[True, entry[1:] != entry[:-1]]
    best[entry[first]] = hist[first]
    return best


def _texts(prefix: str, names: pa.Array, suffix: str = "") -> pa.Array:
    return pc.binary_join_element_wise(prefix, names, suffix, "")


def reason_texts(
    kind: np.ndarray,
    subject: np.ndarray,
    item_names: pa.Array,
    category: np.ndarray | None,
    category_names: pa.Array | None,
) -> tuple[pa.Array, pa.Array]:
    """English and Chinese reasons from the reason ``kind`` (index into :data:`REASON_KINDS`),
    the ``subject`` item (the item itself for "again", the anchor for "bought" / "viewed",
    the recommended item for "popular", whose category is named)."""
    n = len(kind)
    if n == 0:
        empty = pa.array([], pa.string())
        return empty, empty
    name = item_names.take(pa.array(np.maximum(subject, 0)))
    if category is not None and category_names is not None and len(category_names):
        codes = category[np.maximum(subject, 0)]
        cat = category_names.take(pa.array(np.maximum(codes, 0)))
        cat = pc.if_else(pa.array(codes >= 0), cat, pa.nulls(n, pa.string()))
    else:
        cat = pa.nulls(n, pa.string())
    popular_en = pc.if_else(
        pc.is_null(cat),
        pa.scalar("popular with members"),
        _texts("popular in ", pc.fill_null(cat, "")),
    )
    popular_zh = pc.if_else(
        pc.is_null(cat), pa.scalar("会员热门商品"), _texts("", pc.fill_null(cat, ""), "热销")
    )
    conditions = pa.StructArray.from_arrays(
        [pa.array(kind == i) for i in range(3)], names=list(REASON_KINDS[:3])
    )
    en = pc.case_when(
        conditions,
        _texts("buy again: you bought ", name, " before"),
        _texts("because you bought ", name),
        _texts("because you viewed ", name),
        popular_en,
    )
    zh = pc.case_when(
        conditions,
        _texts("再次购买：您之前买过 ", name),
        _texts("因为您购买了 ", name),
        _texts("因为您浏览过 ", name),
        popular_zh,
    )
    return en, zh
