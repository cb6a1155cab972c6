"""Per-category purchase propensity: which member buys category *c* in the next 30 days.

One row per member (bought on or before the cutoff) and category of a chosen list (the top
categories by buyers, or one named category), computed in the engine (Ibis) from paid orders,
their lines and the products' categories. As for churn, every table is cut at the cutoff first,
so no feature sees a later day; the label looks only at ``(cutoff, cutoff + 30 days]``.

Columns (:data:`CATEGORY_FEATURE_COLUMNS`), added to the member's :data:`FEATURE_COLUMNS`:

* ``cat_purchase_days``: days the member bought the category; ``cat_day_share``: that over the
  member's purchase days (the member's category mix); ``cat_spend_share``: the category's share
  of the member's line spend;
* ``cat_days_since_last``: days since the member last bought the category (missing: never);
  ``cat_days_90d``: days with the category in the last 90 days;
* ``cat_mean_gap_days``: mean days between the member's purchase days of the category (missing
  below two days), ``cat_overdue`` = ``cat_days_since_last / cat_mean_gap_days`` (1 = due now);
* ``cat_popularity_30d`` / ``cat_popularity_365d``: share of the members at the cutoff who
  bought the category in the last 30 / 365 days (the same for every member; it tells the pooled
  model which category a row is about and how the category is trending).
"""

from __future__ import annotations

import datetime as dt
import re

import ibis
import ibis.expr.types as ir

from memberlens.churn.labels import PROPENSITY_DAYS, last_purchase_day
from memberlens.exceptions import DataError, MissingTableError
from memberlens.features.purchases import MONEY, as_day, purchases

__all__ = [
    "CATEGORY_FEATURE_COLUMNS",
    "DEFAULT_TOP_CATEGORIES",
    "category_feature_table",
    "category_labels",
    "category_slug",
    "known_categories",
    "top_categories",
]

#: Member x category model inputs, in order (after the member's FEATURE_COLUMNS).
CATEGORY_FEATURE_COLUMNS: tuple[str, ...] = (
    "cat_purchase_days",
    "cat_day_share",
    "cat_spend_share",
    "cat_days_since_last",
    "cat_days_90d",
    "cat_mean_gap_days",
    "cat_overdue",
    "cat_popularity_30d",
    "cat_popularity_365d",
)
DEFAULT_TOP_CATEGORIES = 5
#: Days of history that rank the top categories (distinct buyers).
RANKING_DAYS = 365


def _lines_of(inputs) -> tuple[ir.Table, ir.Table]:
    """``order_items`` (order_id, product_id, line) and ``products`` (product_id, category)."""
    if inputs.order_items is None or inputs.products is None:
        missing = [
            n
            for n, t in (("order_items", inputs.order_items), ("products", inputs.products))
            if t is None
        ]
        raise MissingTableError(
            f"table(s) {', '.join(missing)} not in the warehouse; "
            "per-category propensity needs order lines and product "
            "categories: load them with `memberlens ingest`"
        )
    items = inputs.order_items
    if "amount" in items.columns:
        line = items.amount
    elif {"quantity", "unit_price"} <= set(items.columns):
        line = items.quantity * items.unit_price
    else:
        line = ibis.literal(1)
    items = items.select(
        items.order_id.cast("string").name("order_id"),
        items.product_id.cast("string").name("product_id"),
        line.cast(MONEY).name("line"),
    )  # exact sums: same on every engine
    products = inputs.products.filter(inputs.products.category.notnull())
    products = products.select(
        products.product_id.cast("string").name("product_id"),
        products.category.cast("string").name("category"),
    )
    return items, products


def _category_days(inputs, *, end: dt.date, start: dt.date | None = None) -> ir.Table:
    """One row per member, category and purchase day in ``(start, end]``: spend on its lines."""
    paid = purchases(inputs.orders, end=end, start=start)
    paid = paid.select(paid.order_id.cast("string").name("order_id"), "member_id", "day")
    items, products = _lines_of(inputs)
    lines = paid.join(items, "order_id").join(products, "product_id")
    return lines.group_by(["member_id", "category", "day"]).aggregate(spend=lines.line.sum())


def known_categories(inputs) -> list[str]:
    """Every category of ``products``, sorted."""
    _, products = _lines_of(inputs)
    return sorted(products.select("category").distinct().to_pandas()["category"].tolist())


def top_categories(
    inputs, *, cutoff: dt.date | str, top: int = DEFAULT_TOP_CATEGORIES, days: int = RANKING_DAYS
) -> list[str]:
    """The ``top`` categories by distinct buyers in the ``days`` days up to ``cutoff`` (ties by
    name)."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise DataError(f"top: must be a whole number >= 1, got {top!r}; pass e.g. 5")
    end = as_day(cutoff, name="cutoff")
    rows = _category_days(inputs, end=end, start=end - dt.timedelta(days=days))
    ranked = rows.group_by("category").aggregate(buyers=rows.member_id.nunique())
    ranked = ranked.order_by([ibis.desc("buyers"), "category"]).limit(top).to_pandas()
    if ranked.empty:
        raise DataError(
            f"cutoff: no member bought a product with a category in the {days} days "
            f"up to {end}; per-category propensity needs order lines of products "
            "with a category"
        )
    return ranked["category"].tolist()


def check_categories(inputs, categories: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``categories`` as a tuple, each checked against the products' categories."""
    known = known_categories(inputs)
    unknown = [c for c in categories if c not in known]
    if unknown or not categories:
        raise DataError(
            f"category: {unknown or categories!r} not among the products' "
            f"categories; use one of {', '.join(known)} (or 'all')"
        )
    return tuple(categories)


def _chosen(inputs, categories) -> ir.Table:
    _, products = _lines_of(inputs)
    return products.filter(products.category.isin(list(categories))).select("category").distinct()


def _population(inputs, end: dt.date) -> ir.Table:
    return purchases(inputs.orders, end=end).select("member_id").distinct()


def category_feature_table(
    inputs, *, cutoff: dt.date | str, categories: list[str] | tuple[str, ...]
) -> ir.Table:
    """Lazy Ibis table: member_id, category and :data:`CATEGORY_FEATURE_COLUMNS` for every
    member who bought on or before ``cutoff`` and every category of ``categories``."""
    end = as_day(cutoff, name="cutoff")
    days = _category_days(inputs, end=end)
    population = _population(inputs, end)
    size = population.aggregate(n_population=population.count().cast("float64"))
    totals = days.group_by("member_id").aggregate(all_spend=days.spend.sum())
    member_days = purchases(inputs.orders, end=end).select("member_id", "day").distinct()
    member_days = member_days.group_by("member_id").aggregate(all_days=member_days.count())
    mine = days.filter(days.category.isin(list(categories)))
    recent = mine.day > ibis.date(end - dt.timedelta(days=90))
    agg = mine.group_by(["member_id", "category"]).aggregate(
        cat_purchase_days=mine.count().cast("int64"),
        cat_spend=mine.spend.sum(),
        first=mine.day.min(),
        last=mine.day.max(),
        cat_days_90d=recent.cast("int64").sum(),
    )
    buyers = {}
    for window in (30, 365):
        inside = mine.filter(mine.day > ibis.date(end - dt.timedelta(days=window)))
        buyers[window] = inside.group_by("category").aggregate(
            **{f"buyers_{window}": inside.member_id.nunique()}
        )
    rows = population.cross_join(_chosen(inputs, categories)).cross_join(size)
    rows = rows.left_join(agg, ["member_id", "category"]).drop("member_id_right", "category_right")
    for window in (30, 365):
        rows = rows.left_join(buyers[window], "category").drop("category_right")
    rows = rows.left_join(totals, "member_id").drop("member_id_right")
    rows = rows.left_join(member_days, "member_id").drop("member_id_right")
    since = ibis.date(end).delta(rows["last"], unit="day").cast("float64")
    span = rows["last"].delta(rows["first"], unit="day").cast("float64")
    gap = ibis.ifelse(
        rows.cat_purchase_days >= 2,
        span / (rows.cat_purchase_days - 1).cast("float64"),
        ibis.null("float64"),
    )
    count = rows.cat_purchase_days.fill_null(0)
    out = rows.mutate(
        cat_purchase_days=count.cast("int64"),
        cat_day_share=count.cast("float64") / rows.all_days.cast("float64"),
        cat_spend_share=ibis.ifelse(
            rows.all_spend > 0,
            rows.cat_spend.fill_null(0).cast("float64") / rows.all_spend.cast("float64"),
            0.0,
        ),
        cat_days_since_last=since,
        cat_days_90d=rows.cat_days_90d.fill_null(0).cast("int64"),
        cat_mean_gap_days=gap,
        cat_overdue=since / gap,
        cat_popularity_30d=rows.buyers_30.fill_null(0).cast("float64") / rows.n_population,
        cat_popularity_365d=rows.buyers_365.fill_null(0).cast("float64") / rows.n_population,
    )
    return out.select("member_id", "category", *CATEGORY_FEATURE_COLUMNS)


def category_labels(
    inputs, *, cutoff: dt.date | str, categories: list[str] | tuple[str, ...]
) -> ir.Table:
    """member_id, category, ``category_purchased`` (0/1: bought the category in
    ``(cutoff, cutoff + 30 days]``) for every member who bought on or before ``cutoff``."""
    end = as_day(cutoff, name="cutoff")
    label_end = end + dt.timedelta(days=PROPENSITY_DAYS)
    last = last_purchase_day(inputs.orders)
    if label_end > last:
        raise DataError(
            f"cutoff: {end} + {PROPENSITY_DAYS} days ends on {label_end}, after the "
            f"last purchase day in the data ({last}); pass a cutoff on or before "
            f"{last - dt.timedelta(days=PROPENSITY_DAYS)}"
        )
    after = _category_days(inputs, end=label_end, start=end)
    after = after.filter(after.category.isin(list(categories)))
    bought = after.select("member_id", "category").distinct().mutate(hit=ibis.literal(1))
    rows = _population(inputs, end).cross_join(_chosen(inputs, categories))
    rows = rows.left_join(bought, ["member_id", "category"]).drop(
        "member_id_right", "category_right"
    )
    return rows.select(
        "member_id", "category", category_purchased=rows.hit.fill_null(0).cast("int8")
    )


def category_slug(name: str) -> str:
    """A folder-safe name for a category (letters, digits, CJK kept; the rest ``_``)."""
    return re.sub(r"[^\w-]+", "_", name).strip("_") or "category"
