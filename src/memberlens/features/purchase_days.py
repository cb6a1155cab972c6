"""Every member's purchase days: the per-(member, day) table the lifecycle, cohort and profile
tables are built from.

One row per member and calendar day with a purchase (:mod:`memberlens.features.purchases`) up
to ``end``: ``member_id``, ``day``, ``orders`` (paid orders that day), ``amt`` (their money,
an exact ``DECIMAL`` sum) and ``gap`` (days since the member's previous purchase day, null on
the first). The gap only looks back, so the same rows serve every as-of day up to ``end``, and
the first purchase day is the one row of a member whose gap is null.

``memberlens run`` computes this table once per run into a temporary table
(:meth:`memberlens.pipeline.step.RunContext.purchase_days`): one scan of the orders and one
window instead of one of each per step.
"""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir
import pandas as pd

from memberlens.features.purchases import as_day, as_table, purchases

__all__ = ["PURCHASE_DAY_COLUMNS", "purchase_days"]

PURCHASE_DAY_COLUMNS: tuple[str, ...] = ("member_id", "day", "orders", "amt", "gap")


def purchase_days(orders: ir.Table | pd.DataFrame, *, end: dt.date | str) -> ir.Table:
    """Lazy table of :data:`PURCHASE_DAY_COLUMNS` (see the module notes).

    >>> import pandas as pd
    >>> orders = pd.DataFrame({"member_id": ["a", "a", "a", "b"],
    ...     "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-08", "2024-01-03"]),
    ...     "amount": [1.0, 2.0, 4.0, 8.0]})
    >>> t = purchase_days(orders, end="2024-01-31").to_pandas().sort_values(["member_id", "day"])
    >>> t[["orders", "gap"]].astype("Int64").values.tolist()
    [[2, <NA>], [1, 7], [1, <NA>]]
    """
    paid = purchases(as_table(orders), end=as_day(end, name="end"))
    days = paid.group_by(["member_id", "day"]).aggregate(orders=paid.count(), amt=paid.amt.sum())
    previous = days.day.lag().over(group_by=days.member_id, order_by=days.day)
    return days.mutate(gap=days.day.delta(previous, unit="day")).select(*PURCHASE_DAY_COLUMNS)
