"""Engagement: how much a member interacts with the shop besides buying."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from memberlens.features.purchases import as_day


def engagement_counts(
    *,
    as_of: dt.date | str,
    days: int = 90,
    events: ir.Table | None = None,
    interactions: ir.Table | None = None,
) -> ir.Table | None:
    """Per member: behaviour events and interactions in the ``days`` days up to ``as_of``
    (``events_<days>d``, ``interactions_<days>d``) and their sum, ``engagement``.

    Returns None when neither table is given. Rows without a member id are ignored.
    """
    end = as_day(as_of)
    start = end - dt.timedelta(days=days)
    parts = []
    for name, table in (("events", events), ("interactions", interactions)):
        if table is None:
            continue
        day = table.occurred_at.date()
        recent = table.filter(table.member_id.notnull() & (day > start) & (day <= end))
        parts.append(
            recent.group_by("member_id").aggregate(
                **{f"{name}_{days}d": recent.count().cast("int64")}
            )
        )
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = (
            out.outer_join(part, "member_id")
            .mutate(member_id=ibis.coalesce(ibis._.member_id, ibis._.member_id_right))
            .drop("member_id_right")
        )
    counts = [c for c in out.columns if c != "member_id"]
    total = sum((out[c].fill_null(0) for c in counts), ibis.literal(0))
    return out.mutate(**{c: out[c].fill_null(0) for c in counts}, engagement=total)
