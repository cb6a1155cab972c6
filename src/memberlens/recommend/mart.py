"""The recommendation marts: top-k per member and "bought together" per product, as of a day.

``recommendation_mart`` fits one :class:`Recommender` on the warehouse's interactions up to
``as_of`` and scores every member who has one, in batches (a batch holds at most a few million
member x item scores, so a million members cost the same memory as ten thousand, plus the
result itself). "Bought together" comes from association rules on the paid baskets up to
``as_of`` (pairs in at least ``min_baskets`` baskets), or from the ``rules`` given (the rules
mart the pipeline already built).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.features.purchases import as_day
from memberlens.recommend._factors import history_keys
from memberlens.recommend.interactions import interactions_from_warehouse, purchase_lines
from memberlens.recommend.model import Recommender
from memberlens.recommend.together import bought_together

__all__ = [
    "MART_BOUGHT_TOGETHER_COLUMNS",
    "MART_RECOMMENDATION_COLUMNS",
    "basket_rules",
    "product_labels",
    "recommendation_mart",
]

MART_RECOMMENDATION_COLUMNS = (
    "member_id",
    "rank",
    "product_id",
    "product_name",
    "category",
    "score",
    "reason_en",
    "reason_zh",
    "source",
)
MART_BOUGHT_TOGETHER_COLUMNS = (
    "product_id",
    "rank",
    "other_product_id",
    "other_product_name",
    "confidence",
    "lift",
)


def basket_rules(
    orders, items, *, as_of: dt.date, min_baskets: int = 5, min_confidence: float = 0.01
) -> pd.DataFrame:
    """Pair rules ``{a} => b`` (arules semantics) on the paid baskets up to ``as_of``."""
    from memberlens.baskets import association_rules

    lines = purchase_lines(orders, items, end=as_of)
    pairs = lines.select(basket_id=lines.order_id, item=lines.product_id).distinct().to_pyarrow()
    if pairs.num_rows == 0:
        return pd.DataFrame()
    n = len(pc.unique(pairs.column("basket_id")))
    return association_rules(
        pairs,
        min_support=min(1.0, max(int(min_baskets), 1) / n),
        min_confidence=min_confidence,
        min_len=2,
        max_len=2,
    )


def product_labels(model: Recommender, product_ids, *, with_category: bool) -> dict[str, pa.Array]:
    codes = model.items_.get_indexer(pd.Index(product_ids))
    found = codes >= 0
    safe = pa.array(np.maximum(codes, 0))
    names = pa.array(model.item_names_, pa.string()).take(safe)
    names = pc.if_else(
        pa.array(found), names, pa.array(np.asarray(product_ids).astype(str), pa.string())
    )
    out = {"name": names}
    if with_category:
        cat_codes = np.where(found, model.item_category_[np.maximum(codes, 0)], -1)
        if len(model.categories_):
            cats = pa.array(model.categories_, pa.string()).take(pa.array(np.maximum(cat_codes, 0)))
            cats = pc.if_else(pa.array(cat_codes >= 0), cats, pa.nulls(len(cat_codes), pa.string()))
        else:
            cats = pa.nulls(len(cat_codes), pa.string())
        out["category"] = cats
    return out


def recommendation_mart(
    orders,
    items,
    products,
    events,
    *,
    as_of: dt.date | str,
    k: int = 10,
    kind: str = "hybrid",
    params: dict | None = None,
    rules=None,
    together_k: int = 10,
    min_baskets: int = 5,
    batch_size: int | None = None,
    progress: Callable[[str], None] | None = None,
    as_arrow: bool = False,
    sink: Callable[[pa.Table], None] | None = None,
    item_factors: pd.DataFrame | None = None,
    max_shift: float = 0.2,
    fitted: Callable[[Recommender], None] | None = None,
    select: Callable[[Recommender], np.ndarray] | None = None,
) -> tuple[pd.DataFrame | pa.Table | int, pd.DataFrame]:
    """(recommendations, bought together) as of ``as_of`` from Ibis tables (``products`` and
    ``events`` may be None).

    recommendations: member_id, rank, product_id, product_name, category, score, reason_en,
    reason_zh, source — ``k`` rows per member with an interaction up to ``as_of``.
    bought together: product_id, rank, other_product_id, other_product_name, confidence, lift —
    up to ``together_k`` per product.

    ``as_arrow=True`` gives the recommendations as an Arrow table whose repeated text (product,
    category, reasons, source) is dictionary-encoded batch by batch: the form for millions of
    members (4.1 million members x 10 rows take about 1 GB instead of pandas' ~15 GB of
    Python strings); the values are the same. With ``sink``, each batch in that form is handed
    to ``sink`` (for instance to append it to a table) instead of being kept, and the first
    element returned is the number of rows handed over: memory then stays that of one batch.

    ``item_factors`` (ALS item factors of an earlier run, see :meth:`Recommender.fit`) are
    reused when they still fit the data (items' buyer shares within ``max_shift``); ``fitted``
    is called with the fitted model (to keep its factors for the next run). ``select`` is
    called with the fitted model and returns the member ids to score (default: every member
    the model knows; ``memberlens run`` leaves out those whose recommendations it kept).
    """
    say = progress or (lambda _m: None)
    day = as_day(as_of, name="as_of")
    tables = {"orders": orders, "order_items": items, "products": products, "events": events}
    say("interactions")
    train = interactions_from_warehouse(
        {n: t for n, t in tables.items() if t is not None}, as_of=day
    )
    catalogue = products.to_pyarrow() if products is not None else None
    say(f"fitting {kind}")
    model = Recommender(**{**(params or {}), "kind": kind}).fit(
        train,
        products=catalogue,
        item_factors=item_factors,
        max_shift=max_shift,
        solve_members=False,  # solved batch by batch, only for the members scored
    )
    if fitted is not None:
        fitted(model)
    say("recommending")
    parts = []
    handed = 0
    chosen = np.asarray(model.members_) if select is None else np.asarray(select(model))
    for batch in _once_per_history(model, chosen, k=k, batch_size=batch_size):
        extra = product_labels(
            model, batch.column("product_id").to_numpy(zero_copy_only=False), with_category=True
        )
        batch = batch.add_column(3, "product_name", extra["name"])
        batch = batch.add_column(4, "category", extra["category"])
        if sink is not None:
            sink(_compact(batch).select(list(MART_RECOMMENDATION_COLUMNS)))
            handed += batch.num_rows
        else:
            parts.append(_compact(batch) if as_arrow else batch)
    if sink is not None:
        recs = handed
    elif as_arrow:
        recs = (
            pa.concat_tables(parts)
            if parts
            else pa.table({c: pa.array([], pa.string()) for c in MART_RECOMMENDATION_COLUMNS})
        )
    else:
        recs = (
            pa.concat_tables(parts).to_pandas()
            if parts
            else pd.DataFrame({c: [] for c in MART_RECOMMENDATION_COLUMNS})
        )
    say("bought together")
    if rules is None:
        rules = basket_rules(orders, items, as_of=day, min_baskets=min_baskets)
    together = (
        bought_together(rules, together_k)
        if len(rules)
        else pd.DataFrame(
            {c: [] for c in ("product_id", "rank", "other_product_id", "confidence", "lift")}
        )
    )
    together = together.astype({"product_id": str, "other_product_id": str})
    other = product_labels(model, together["other_product_id"].to_numpy(), with_category=False)
    together.insert(3, "other_product_name", other["name"].to_pandas())
    if sink is None:
        recs = (
            recs.select(list(MART_RECOMMENDATION_COLUMNS))
            if as_arrow
            else recs[list(MART_RECOMMENDATION_COLUMNS)]
        )
    return recs, together[list(MART_BOUGHT_TOGETHER_COLUMNS)].reset_index(drop=True)


def _once_per_history(
    model: Recommender, ids: np.ndarray, *, k: int, batch_size: int | None
) -> Iterator[pa.Table]:
    """``model.recommend_arrow_batches(ids)``, scoring one member per distinct history: members
    with the same interactions and purchases get the same recommendations (their factors, kNN
    scores, exclusions and reasons are all functions of those two rows), so each batch scores
    one member of each history and repeats its rows for the others (a quarter of the members of
    the simulated 10M-order shop share a history with another)."""
    if len(ids) == 0:
        return
    rows = model._member_rows(ids)
    key = np.where(rows >= 0, history_keys(model, "")[np.maximum(rows, 0)], 0)
    key = np.where(rows >= 0, key, -1 - np.arange(len(ids)))  # cold members: one group each
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    first_at = np.sort(first)  # groups in the order of their first member
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    group = rank[group.ravel()]
    members = np.argsort(group, kind="stable")  # member positions, grouped
    bounds = np.r_[0, np.cumsum(np.bincount(group, minlength=len(first)))]
    step = model._batch_rows(batch_size)
    for start in range(0, len(first_at), step):
        reps = ids[first_at[start : start + step]]
        for table in model.recommend_arrow_batches(reps, k, batch_size=step):
            at = pd.Index(reps).get_indexer(table.column("member_id").to_numpy(False))
            counts = np.bincount(at, minlength=len(reps))
            offsets = np.r_[0, np.cumsum(counts)[:-1]]
            sizes = np.diff(bounds[start : start + len(reps) + 1])
            local = np.repeat(np.arange(len(reps)), sizes)  # each member's group in the batch
            who = members[bounds[start] : bounds[start + len(reps)]]
            n = counts[local]
            take = np.repeat(offsets[local] - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(n.sum())
            out = table.take(pa.array(take))
            yield out.set_column(0, "member_id", pa.array(np.repeat(ids[who], n)))


#: text columns that repeat across rows (a few thousand distinct values per batch at most).
_REPEATED = ("product_id", "product_name", "category", "reason_en", "reason_zh", "source")


def _compact(batch: pa.Table) -> pa.Table:
    """The batch with its repeated text columns dictionary-encoded."""
    for name in _REPEATED:
        col = batch.column(name)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            batch = batch.set_column(batch.column_names.index(name), name, col.dictionary_encode())
    return batch
