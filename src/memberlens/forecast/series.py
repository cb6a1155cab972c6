"""Weekly sales series from the warehouse, computed in the engine (Ibis).

What counts follows the data contract (:mod:`memberlens.features.purchases`):

* **revenue** is the money of ``paid`` order rows (``amount``, paid after discounts), summed as
  DECIMAL(18, 2); a table without ``status`` is read as all paid. Guest orders (no
  ``member_id``) are sales too and are counted here, unlike in the member analytics.
* **refunds** never reduce revenue or orders: the money of ``refunded`` rows is reported in its
  own column ``refunded`` (by the week of the refund row, total level only), as ``rfm_summary``
  reports ``refunded_amount``. ``cancelled`` rows count for nothing.
* **orders** is the number of paid order rows.
* Weeks run Monday to Sunday and are named by their Monday (``week``). Weeks without a sale are
  rows with zeros (gaps are kept, not skipped). The week that holds ``as_of`` is dropped when
  ``as_of`` is not its Sunday (a partial week would look like a collapse in sales), and so is
  the first week when the first sale is not on a Monday (the data start mid-week); both are said
  in ``frame.attrs["notes"]``.
* At ``level="category"`` each paid order's ``amount`` is shared across its order lines in
  proportion to the line amounts (``order_items.amount``, else ``quantity * unit_price``,
  equal shares when those are zero), so the categories of an order add up to what was paid;
  ``orders`` counts the paid orders with at least one line in the category. Lines whose product
  is not in ``products`` go to the category ``"(unknown)"``; paid orders without lines are not
  in the category series.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from memberlens.exceptions import DataError, MissingTableError
from memberlens.features.purchases import as_day, as_table

__all__ = ["SERIES_COLUMNS", "UNKNOWN_CATEGORY", "Level", "weekly_sales"]

Level = Literal["total", "category"]

#: Columns of :func:`weekly_sales`, in order.
SERIES_COLUMNS: tuple[str, ...] = ("level", "category", "week", "revenue", "orders", "refunded")

#: Category of order lines whose product has no category.
UNKNOWN_CATEGORY = "(unknown)"

MONEY = "decimal(18, 2)"


def _tables(con_or_tables) -> dict[str, ir.Table | pd.DataFrame]:
    """orders / order_items / products from an Ibis backend, a warehouse or a mapping."""
    if isinstance(con_or_tables, Mapping):
        return {k: v for k, v in con_or_tables.items() if v is not None}
    from memberlens.engine.protocol import WarehouseProtocol, present_tables

    if not isinstance(con_or_tables, (WarehouseProtocol, BaseBackend)):
        raise DataError(
            f"con_or_tables: expected an Ibis backend, a warehouse or a mapping of "
            f"table name to table, got {type(con_or_tables).__name__}"
        )
    found: dict[str, ir.Table | pd.DataFrame] = {}
    found.update(present_tables(con_or_tables, ("orders", "order_items", "products")))
    return found


def _with_week(orders: ir.Table) -> ir.Table:
    """orders with ``day`` (date), ``week`` (its Monday) and ``amt`` (DECIMAL(18, 2))."""
    dtype = orders.ordered_at.type()
    if dtype.is_timestamp():
        if dtype.timezone is not None:
            raise DataError(
                f"orders.ordered_at: must be a naive local timestamp, found time zone "
                f"{dtype.timezone!r}; convert to local time and drop the zone"
            )
        day = orders.ordered_at.date()
    elif dtype.is_date():
        day = orders.ordered_at
    else:
        raise DataError(
            f"orders.ordered_at: must be a timestamp or date, found {dtype}; "
            "parse it at ingest (`memberlens ingest`) or cast it"
        )
    if not orders.amount.type().is_numeric():
        raise DataError(
            f"orders.amount: must be numeric, found {orders.amount.type()}; "
            "parse it at ingest or cast it"
        )
    # Monday of the week: portable date arithmetic (day_of_week.index(): Monday = 0 on every
    # engine), rather than date_trunc whose week start and return type vary by engine
    week = day - day.day_of_week.index().cast("int32").as_interval("D")
    return orders.mutate(day=day, week=week.cast("date"), amt=orders.amount.cast(MONEY))


def _status_is(orders: ir.Table, status: str) -> ir.BooleanValue:
    if "status" not in orders.columns:
        return ibis.literal(status == "paid")
    return orders.status == status


def _last_day(orders: ir.Table) -> dt.date:
    paid = _with_week(orders)
    last = paid.filter(_status_is(paid, "paid")).day.max().to_pandas()
    if last is None or pd.isna(last):
        raise MissingTableError(
            "orders: no paid order found; load orders first with `memberlens ingest orders FILE`"
        )
    return pd.Timestamp(last).date()


def _line_amount(items: ir.Table) -> ir.NumericValue:
    if "amount" in items.columns:
        return items.amount.cast("float64")
    if {"quantity", "unit_price"} <= set(items.columns):
        return (items.quantity * items.unit_price).cast("float64")
    return ibis.literal(1.0)


def _category_weeks(paid: ir.Table, items: ir.Table, products: ir.Table) -> ir.Table:
    lines = items.select(
        order_id=items.order_id.cast("string"),
        product_id=items.product_id.cast("string"),
        # money in exact cents, so that the sums below do not depend on the order in which a
        # parallel engine adds them (float sums did: forecasts differed from run to run)
        line=_line_amount(items).fill_null(0.0).round(2).cast(MONEY),
    )
    prods = products.select(
        product_id=products.product_id.cast("string"), category=products.category.cast("string")
    )
    prods = prods.distinct(on="product_id", keep="first")
    orders = paid.select(
        order_id=paid.order_id.cast("string"), week=paid.week, paid_amount=paid.amt
    )
    joined = (
        lines.join(orders, "order_id")
        .left_join(prods, "product_id")
        .select("order_id", "week", "paid_amount", "line", "category")
    )
    per_order = ibis.window(group_by=joined.order_id)
    total_line = joined.line.sum().over(per_order)
    n_lines = joined.count().over(per_order).cast("float64")
    share = ibis.ifelse(
        total_line > 0, joined.line.cast("float64") / total_line.cast("float64"), 1.0 / n_lines
    )
    alloc = (joined.paid_amount.cast("float64") * share).round(2).cast(MONEY)
    joined = joined.mutate(alloc=alloc, category=joined.category.fill_null(UNKNOWN_CATEGORY))
    return joined.group_by(["week", "category"]).aggregate(
        revenue=joined.alloc.sum().cast("float64"), orders=joined.order_id.nunique()
    )


def _weeks_range(first_sale: dt.date, as_of: dt.date) -> tuple[dt.date, dt.date, list[str]]:
    """First and last full week (their Mondays) and notes on the weeks dropped."""
    notes = []
    first = first_sale - dt.timedelta(days=first_sale.weekday())
    if first_sale.weekday() != 0:
        notes.append(
            f"the first week ({first.isoformat()}) is dropped: the data start on "
            f"{first_sale.isoformat()}, not on a Monday, so that week is partial"
        )
        first += dt.timedelta(days=7)
    last = as_of - dt.timedelta(days=as_of.weekday())
    if as_of.weekday() != 6:
        notes.append(
            f"the last week ({last.isoformat()}) is dropped: as_of {as_of.isoformat()} "
            f"is not a Sunday, so that week is partial; to say so explicitly, set the "
            f"analysis date to {(last - dt.timedelta(days=1)).isoformat()} (--as-of)"
        )
        last -= dt.timedelta(days=7)
    return first, last, notes


def weekly_sales(
    con_or_tables, *, level: Level = "total", as_of: dt.date | str | None = None
) -> pd.DataFrame:
    """Weekly revenue and paid-order counts, overall or per category (see the module notes).

    ``con_or_tables`` is an Ibis backend (or a warehouse) holding the canonical tables, or a
    mapping ``{"orders": ..., "order_items": ..., "products": ...}`` of Ibis tables or pandas
    frames (the last two only for ``level="category"``). ``as_of`` (default: the last day with a
    paid order) is the last day of data used. Returns :data:`SERIES_COLUMNS`, one row per full
    week (and category), sorted; ``attrs["notes"]`` says which partial weeks were dropped.
    """
    if level not in ("total", "category"):
        raise DataError(f"level: must be 'total' or 'category', got {level!r}")
    tables = _tables(con_or_tables)
    if "orders" not in tables:
        raise MissingTableError(
            "orders: the sales forecast needs the orders table; load it "
            "with `memberlens ingest orders FILE`"
        )
    orders = as_table(
        tables["orders"], name="orders", required=("order_id", "ordered_at", "amount")
    )
    end = as_day(as_of) if as_of is not None else _last_day(orders)
    table = _with_week(orders)
    table = table.filter(table.day <= ibis.date(end))
    paid = table.filter(_status_is(table, "paid"))

    first_sale = paid.day.min().to_pandas()
    if first_sale is None or pd.isna(first_sale):
        raise DataError(
            f"orders: no paid order on or before as_of {end.isoformat()}; pass a "
            "later as_of or load orders first"
        )
    first, last, notes = _weeks_range(pd.Timestamp(first_sale).date(), end)
    if last < first:
        raise DataError(
            f"orders: no full week of sales between {first_sale} and as_of "
            f"{end.isoformat()}; load more data or pass a later as_of"
        )
    grid = pd.date_range(first, last, freq="7D")

    if level == "total":
        weekly = (
            paid.group_by("week").aggregate(revenue=paid.amt.sum(), orders=paid.count()).to_pandas()
        )
        back = table.filter(_status_is(table, "refunded"))
        refunded = back.group_by("week").aggregate(refunded=back.amt.abs().sum()).to_pandas()
        weekly = weekly.merge(refunded, on="week", how="outer")
        weekly["category"] = None
        keys = pd.DataFrame({"week": grid, "category": None})
    else:
        missing = [n for n in ("order_items", "products") if n not in tables]
        if missing:
            raise MissingTableError(
                f"{' and '.join(missing)}: level='category' needs order_items and products "
                f"(to find each line's category); load them with `memberlens ingest "
                f"{missing[0]} FILE` or use level='total'"
            )
        items = as_table(
            tables["order_items"], name="order_items", required=("order_id", "product_id")
        )
        products = as_table(
            tables["products"], name="products", required=("product_id", "category")
        )
        weekly = _category_weeks(paid, items, products).to_pandas()
        weekly["refunded"] = np.nan
        categories = sorted(weekly["category"].dropna().unique().tolist())
        keys = pd.MultiIndex.from_product([grid, categories], names=["week", "category"]).to_frame(
            index=False
        )
    weekly["week"] = pd.to_datetime(weekly["week"]).astype("datetime64[us]")
    keys["week"] = keys["week"].astype("datetime64[us]")
    out = keys.merge(weekly, on=["week", "category"], how="left")
    out["revenue"] = out["revenue"].astype("float64").fillna(0.0)
    out["orders"] = out["orders"].fillna(0).astype("int64")
    out["refunded"] = out["refunded"].astype("float64")
    if level == "total":
        out["refunded"] = out["refunded"].fillna(0.0)
    out["level"] = level
    out["category"] = out["category"].astype("string")
    out = out[list(SERIES_COLUMNS)].sort_values(
        ["category", "week"], na_position="first", ignore_index=True
    )
    zero = int((out["orders"] == 0).sum())
    if zero:
        notes.append(f"{zero} week(s) without a paid order are kept as zeros")
    out.attrs["notes"] = notes
    out.attrs["as_of"] = end.isoformat()
    return out
