"""What counts as a purchase: the one place that reads canonical ``orders`` for member analytics.

Rules (the data contract, ``DESIGN.md``):

* A **purchase** is an order row with ``status == 'paid'``, a non-null ``member_id`` and an
  ``ordered_at`` on or before the as-of day. A table without a ``status`` column is read as all
  ``'paid'`` (the contract's default).
* A **refund** is a row with ``status == 'refunded'``. Its absolute amount is the refunded money
  (a refund row carries a negative amount; an export that marks the original order itself as
  refunded carries a positive one; both mean the same money went back). Refunds never count as
  purchases and never reduce ``frequency``; they are reported separately (``refunded_amount``,
  ``refund_share``).
* A **cancelled** order (``status == 'cancelled'``) counts for nothing.
* Member analytics are day-resolution: a purchase **day** is the calendar day of ``ordered_at``
  (timestamps are naive local time) and the as-of point is a calendar day, inclusive.
* Amounts are summed as ``DECIMAL(18, 2)`` so that totals are exact and identical on every engine;
  a float column is cast to it (rounded to cents) first.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.exceptions import DataError

__all__ = [
    "TIME_UNIT_DAYS",
    "TimeUnit",
    "as_day",
    "as_table",
    "purchases",
    "purchases_and_refunds",
    "refunds",
    "unit_days",
]

TimeUnit = Literal["D", "W", "M"]

#: Days in one time unit. A month is the mean Gregorian month, 365.25 / 12 = 30.4375 days, so
#: that recency and T stay exact elapsed time (not whole calendar months).
TIME_UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 30.4375}

MONEY = "decimal(18, 2)"


def unit_days(time_unit: str) -> float:
    """Days per ``time_unit``; a clear error lists the valid units."""
    try:
        return TIME_UNIT_DAYS[time_unit]
    except KeyError:
        raise DataError(
            f"time_unit: must be one of {', '.join(TIME_UNIT_DAYS)} (day, week = 7 days, "
            f"month = 30.4375 days), got {time_unit!r}; pass e.g. time_unit='W'"
        ) from None


def as_day(value: object, *, name: str = "as_of") -> dt.date:
    """A calendar day from a date, a midnight datetime or an ISO string.

    A value with a time of day is refused rather than truncated: member analytics count whole
    days, so ``as_of='2024-06-30'`` means "up to and including 30 June".
    """
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if stamp is pd.NaT or pd.isna(stamp):
        raise DataError(f"{name}: must be a date such as '2024-06-30', got {value!r}")
    if stamp.tzinfo is not None:
        raise DataError(
            f"{name}: must be a naive local date (no time zone), got {value!r}; "
            "pass the local calendar day, e.g. '2024-06-30'"
        )
    if stamp != stamp.normalize():
        raise DataError(
            f"{name}: must be a calendar day (analytics are day-resolution), got "
            f"{value!r} with a time of day; pass {stamp.date().isoformat()!r}"
        )
    return stamp.date()


def as_table(
    data: ir.Table | pd.DataFrame,
    *,
    name: str = "orders",
    required: tuple[str, ...] = ("member_id", "ordered_at", "amount"),
) -> ir.Table:
    """An Ibis table from an Ibis table or a pandas frame, with the required columns checked."""
    if isinstance(data, pd.DataFrame):
        table = ibis.memtable(data)
    elif isinstance(data, ir.Table):
        table = data
    else:
        raise DataError(
            f"{name}: expected an Ibis table or a pandas DataFrame, got {type(data).__name__}"
        )
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(
            f"{name}: missing column(s) {', '.join(missing)} (the data contract requires "
            f"{', '.join(required)}); columns found: {', '.join(table.columns)}. Map your "
            "headers to canonical names with `memberlens ingest` first"
        )
    return table


def _with_day(orders: ir.Table) -> ir.Table:
    """``orders`` with ``day`` (date) and ``amt`` (DECIMAL(18, 2)) columns, validated."""
    ordered_at = orders.ordered_at
    dtype = ordered_at.type()
    if dtype.is_timestamp():
        if dtype.timezone is not None:
            raise DataError(
                f"orders.ordered_at: must be a naive local timestamp, found time zone "
                f"{dtype.timezone!r}; convert to local time and drop the zone"
            )
        day = ordered_at.date()
    elif dtype.is_date():
        day = ordered_at
    else:
        raise DataError(
            f"orders.ordered_at: must be a timestamp or date, found {dtype}; "
            "parse it at ingest (`memberlens ingest`) or cast it"
        )
    if not dtype.is_timestamp():
        ordered_at = ordered_at.cast("timestamp")
    amount = orders.amount
    if not amount.type().is_numeric():
        raise DataError(
            f"orders.amount: must be numeric, found {amount.type()}; parse it at ingest or cast it"
        )
    return orders.mutate(day=day, ordered_at=ordered_at, amt=amount.cast(MONEY))


def _status_is(orders: ir.Table, status: str) -> ir.BooleanValue:
    if "status" not in orders.columns:
        return ibis.literal(status == "paid")
    return orders.status == status


def purchases(orders: ir.Table, *, end: dt.date, start: dt.date | None = None) -> ir.Table:
    """Paid member orders with ``start < day <= end``: member_id, ordered_at, day, amt (+ rest)."""
    table = _with_day(orders)
    keep = _status_is(table, "paid") & table.member_id.notnull() & (table.day <= ibis.date(end))
    if start is not None:
        keep &= table.day > ibis.date(start)
    return table.filter(keep)


def refunds(orders: ir.Table, *, end: dt.date) -> ir.Table:
    """Refund rows of members with ``day <= end``, ``amt`` made positive (money returned)."""
    table = _with_day(orders)
    keep = _status_is(table, "refunded") & table.member_id.notnull() & (table.day <= ibis.date(end))
    table = table.filter(keep)
    return table.mutate(amt=table.amt.abs())


def purchases_and_refunds(orders: ir.Table, *, end: dt.date) -> ir.Table:
    """Purchases and refunds of members with ``day <= end`` in one table, for summaries that
    need both in one pass: the rows of :func:`purchases` and :func:`refunds` together, with
    ``is_paid`` (True for a purchase, False for a refund); ``amt`` keeps its sign (take
    ``amt.abs()`` of refund rows for the money returned, as :func:`refunds` does).
    """
    table = _with_day(orders)
    is_paid = _status_is(table, "paid")
    keep = (
        (is_paid | _status_is(table, "refunded"))
        & table.member_id.notnull()
        & (table.day <= ibis.date(end))
    )
    return table.mutate(is_paid=is_paid).filter(keep)
