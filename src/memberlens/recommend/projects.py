"""Recommendations on a project's warehouse (what ``memberlens recommend`` calls).

``recommend_for_project`` reads the ``mart_recommendations`` mart that ``memberlens run``
builds when it holds every member asked for (and enough ranks); otherwise, or when another
``kind`` or ``as_of`` is asked for, it fits a :class:`Recommender` on the warehouse as of the
day and scores the members directly.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from memberlens.exceptions import DataError
from memberlens.features.purchases import as_day

__all__ = ["MART_NAME", "evaluate_project", "recommend_for_project"]

MART_NAME = "mart_recommendations"
_CATALOGUE = ("orders", "order_items", "products", "events")


def _last_order_day(con) -> dt.date:
    last = con.table("orders").ordered_at.max().execute()
    if last is None or pd.isna(last):
        raise DataError("orders is empty: load orders first with `memberlens ingest orders FILE`")
    return pd.Timestamp(last).date()


def _from_mart(con, member_ids: list[str], k: int) -> pd.DataFrame | None:
    if MART_NAME not in con.list_tables():
        return None
    mart = con.table(MART_NAME)
    if int(mart["rank"].max().execute() or 0) < k:
        return None
    rows = mart.filter(mart.member_id.isin(member_ids) & (mart["rank"] <= k)).to_pandas()
    if set(rows["member_id"]) != set(member_ids):
        return None
    order = {m: i for i, m in enumerate(member_ids)}
    rows = rows.assign(_order=rows["member_id"].map(order))
    return rows.sort_values(["_order", "rank"]).drop(columns="_order").reset_index(drop=True)


def recommend_for_project(
    project,
    member_ids: list[str],
    *,
    k: int = 10,
    kind: str | None = None,
    as_of: dt.date | str | None = None,
) -> pd.DataFrame:
    """Top ``k`` per member with product name and category (see the module notes)."""
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.recommend.interactions import interactions_from_warehouse
    from memberlens.recommend.mart import product_labels
    from memberlens.recommend.model import Recommender

    ids = [str(m) for m in member_ids]
    warehouse = open_warehouse(project, read_only=True)
    try:
        con = warehouse.con
        if kind is None and as_of is None:
            cached = _from_mart(con, ids, k)
            if cached is not None:
                return cached
        day = (
            as_day(as_of, name="as_of")
            if as_of is not None
            else project.as_of or _last_order_day(con)
        )
        interactions = interactions_from_warehouse(con, as_of=day)
        present = set(con.list_tables())
        products = con.table("products").to_pyarrow() if "products" in present else None
        model = Recommender(kind=kind or "hybrid").fit(interactions, products=products)
    finally:
        warehouse.close()
    recs = model.recommend(ids, k=k)
    extra = product_labels(model, recs["product_id"].to_numpy(), with_category=True)
    recs.insert(3, "product_name", extra["name"].to_pandas())
    recs.insert(4, "category", extra["category"].to_pandas())
    return recs


def evaluate_project(
    project,
    *,
    cutoff: dt.date | str | None = None,
    k: int = 10,
    horizon_days: int | None = None,
    kinds: tuple[str, ...] = ("popular", "als", "item_knn", "hybrid"),
):
    """:func:`evaluate_recommender` on the project's warehouse; the default cutoff is 90 days
    before the last order day."""
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.recommend.evaluation import evaluate_recommender

    warehouse = open_warehouse(project, read_only=True)
    try:
        con = warehouse.con
        day = (
            as_day(cutoff, name="cutoff")
            if cutoff is not None
            else _last_order_day(con) - dt.timedelta(days=90)
        )
        return evaluate_recommender(con, cutoff=day, k=k, kinds=kinds, horizon_days=horizon_days)
    finally:
        warehouse.close()
