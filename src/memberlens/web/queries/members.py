"""Member lists (filter, sort, page, export) and one member's 360 view.

Reads ``mart_members`` when ``memberlens run`` has built it; before that, the list is the
:func:`~memberlens.features.rfm_summary` of ``orders`` joined to the masked profile columns of
``members``. Only ``*_masked`` contact columns are ever selected here; the stored values are read
by :func:`contact_values` alone (the admin's audited reveal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

from memberlens.engine.warehouse import Warehouse
from memberlens.features import rfm_summary
from memberlens.web.errors import NotFound
from memberlens.web.i18n import segment_aliases
from memberlens.web.queries.overview import data_end

PROFILE_COLUMNS = (
    "member_id",
    "registered_at",
    "gender",
    "province",
    "city",
    "channel",
    "name_masked",
    "phone_masked",
    "email_masked",
    "country",
)
CONTACT_FIELDS = ("name", "phone", "email", "id_number")
#: what a member list may contain (never a stored contact value)
LIST_COLUMNS = (
    "member_id",
    "segment_cn",
    "segment_en",
    "value_tier",
    "lifecycle_stage",
    "r_score",
    "f_score",
    "m_score",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "total_spend",
    "order_count",
    "aov",
    "days_since_last",
    "last_purchase_at",
    "p_alive",
    "expected_purchases_90d",
    "clv",
    "province",
    "city",
    "channel",
    "gender",
    "phone_masked",
    "email_masked",
)
SORTABLE = (
    "member_id",
    "frequency",
    "recency",
    "monetary_value",
    "total_spend",
    "order_count",
    "days_since_last",
    "p_alive",
    "clv",
    "expected_purchases_90d",
    "last_purchase_at",
)
Direction = Literal["asc", "desc"]


#: list column -> columns of ``mart_members`` that may hold it, in order of preference (the
#: pipeline's names: segment_cn8, segment_rfm11, R/F/M, registration_channel)
MART_ALIASES: dict[str, tuple[str, ...]] = {
    "segment_cn": ("segment_cn", "segment_cn8"),
    "segment_en": ("segment_en", "segment_rfm11"),
    "r_score": ("r_score", "R"),
    "f_score": ("f_score", "F"),
    "m_score": ("m_score", "M"),
    "channel": ("channel", "registration_channel"),
}


def mart_source(columns, name: str) -> str | None:
    """The column of ``mart_members`` that holds list column ``name`` (None if absent)."""
    present = set(columns)
    return next((c for c in MART_ALIASES.get(name, (name,)) if c in present), None)


def normalised_mart(mart: ir.Table) -> ir.Table:
    """``mart_members`` with the list's column names (aliases added where the pipeline's names
    differ)."""
    extra = {}
    for name in MART_ALIASES:
        source = mart_source(mart.columns, name)
        if source is not None and source != name and name not in mart.columns:
            extra[name] = mart[source]
    return mart.mutate(**extra) if extra else mart


@dataclass(frozen=True)
class MemberFilter:
    segment: str | None = None
    value_tier: str | None = None
    lifecycle_stage: str | None = None
    province: str | None = None
    q: str | None = None


def as_of(wh: Warehouse, configured: dt.date | None) -> dt.date:
    if configured is not None:
        return configured
    return data_end(wh.table("orders")) or dt.date.today()


def member_table(wh: Warehouse, configured_as_of: dt.date | None) -> tuple[ir.Table, str]:
    """The member table the list reads and where it comes from (``mart`` or ``orders``)."""
    if wh.has("mart_members"):
        return normalised_mart(wh.table("mart_members")), "mart_members"
    summary = rfm_summary(wh.table("orders"), as_of=as_of(wh, configured_as_of))
    if wh.has("members"):
        m = wh.table("members")
        keep = [
            c
            for c in (
                "member_id",
                "province",
                "city",
                "channel",
                "gender",
                "phone_masked",
                "email_masked",
            )
            if c in m.columns
        ]
        summary = summary.left_join(m.select(*keep), "member_id").drop("member_id_right")
    return summary, "rfm_summary"


def _filtered(table: ir.Table, flt: MemberFilter) -> ir.Table:
    cond = []
    if flt.segment:
        names = segment_aliases(flt.segment)
        parts = [table[c].isin(names) for c in ("segment_cn", "segment_en") if c in table.columns]
        if parts:
            expr = parts[0]
            for p in parts[1:]:
                expr |= p
            cond.append(expr)
        else:
            cond.append(ibis.literal(False))
    for name in ("value_tier", "lifecycle_stage", "province"):
        value = getattr(flt, name)
        if value:
            values = [value] if name == "province" else segment_aliases(value)
            cond.append(table[name].isin(values) if name in table.columns else ibis.literal(False))
    if flt.q:
        cond.append(table.member_id.cast("string").startswith(flt.q))
    return table.filter(*cond) if cond else table


def _listed(table: ir.Table, allowed: tuple[str, ...] = LIST_COLUMNS) -> ir.Table:
    return table.select(*[c for c in allowed if c in table.columns])


def member_count(wh: Warehouse, configured_as_of: dt.date | None, flt: MemberFilter) -> dict:
    """How many members match ``flt`` and which table the list reads."""
    table, source = member_table(wh, configured_as_of)
    return {"source": source, "total": int(_filtered(table, flt).count().execute())}


def member_rows(
    wh: Warehouse,
    configured_as_of: dt.date | None,
    flt: MemberFilter,
    *,
    sort: str,
    direction: Direction,
    page: int,
    page_size: int,
) -> dict:
    """One page of the list, sorted by ``sort`` (then member_id, so pages never overlap)."""
    table, _ = member_table(wh, configured_as_of)
    rows = _filtered(table, flt)
    key = sort if sort in rows.columns else "member_id"
    order = [ibis.desc(key) if direction == "desc" else ibis.asc(key), ibis.asc("member_id")]
    part = _listed(rows).order_by(order).limit(page_size, offset=(page - 1) * page_size)
    return {"sort": key, "rows": jsonable(part.to_pyarrow().to_pylist())}


def member_export(
    wh: Warehouse,
    configured_as_of: dt.date | None,
    flt: MemberFilter,
    columns: tuple[str, ...],
    *,
    limit: int,
):
    """The filtered list as Arrow with only ``columns`` (the role's export columns)."""
    table, _ = member_table(wh, configured_as_of)
    rows = _listed(_filtered(table, flt), columns).order_by("member_id")
    return rows.limit(limit).to_pyarrow()


def jsonable(rows: list[dict]) -> list[dict]:
    """Dates as ISO text, Decimals and NaN as JSON numbers / null."""
    out = []
    for row in rows:
        clean = {}
        for k, v in row.items():
            if isinstance(v, (dt.datetime, dt.date)):
                v = v.isoformat()
            elif isinstance(v, (list, tuple)):
                v = [
                    x if isinstance(x, (int, float, str, bool)) or x is None else str(x) for x in v
                ]
            elif v is not None and not isinstance(v, (int, float, str, bool)):
                v = float(v)
            if isinstance(v, float) and v != v:
                v = None
            clean[k] = v
        out.append(clean)
    return out


def member_360(
    wh: Warehouse, configured_as_of: dt.date | None, member_id: str, *, order_limit: int = 200
) -> dict:
    """Profile (masked contacts), scores, segment and the member's orders."""
    if wh.has("mart_members"):
        from memberlens.web.queries.lookups import mart_member_360

        found = mart_member_360(wh, member_id, order_limit=order_limit)
        if found is None:
            raise NotFound(
                f"member_id: no member {member_id!r} in the warehouse; check the id "
                "(search the member list)"
            )
        return found
    profile = None
    if wh.has("members"):
        m = wh.table("members")
        cols = [c for c in PROFILE_COLUMNS if c in m.columns]
        found = m.filter(m.member_id == member_id).select(*cols).limit(1).to_pyarrow().to_pylist()
        profile = jsonable(found)[0] if found else None
    orders = wh.table("orders")
    mine = orders.filter(orders.member_id == member_id)
    keep = [
        c
        for c in (
            "order_id",
            "ordered_at",
            "amount",
            "status",
            "channel",
            "store_id",
            "coupon_id",
            "discount",
        )
        if c in orders.columns
    ]
    order_rows = jsonable(
        mine.select(*keep)
        .order_by(ibis.desc("ordered_at"))
        .limit(order_limit)
        .to_pyarrow()
        .to_pylist()
    )
    if wh.has("mart_members"):
        mart = wh.table("mart_members")
        scored = mart.filter(mart.member_id == member_id)
        source = "mart_members"
    else:
        scored = rfm_summary(mine, as_of=as_of(wh, configured_as_of))
        source = "rfm_summary"
    scores = jsonable(_listed(scored).limit(1).to_pyarrow().to_pylist())
    if profile is None and not order_rows and not scores:
        raise NotFound(
            f"member_id: no member {member_id!r} in the warehouse; check the id "
            "(search the member list)"
        )
    score = scores[0] if scores else None
    if score:
        score = {k: v for k, v in score.items() if not k.endswith("_masked")}
    return {
        "member_id": member_id,
        "profile": profile or {"member_id": member_id},
        "scores": score,
        "scores_source": source,
        "orders": order_rows,
        "orders_total": int(mine.count().execute()),
    }


def contact_values(wh: Warehouse, member_id: str) -> dict:
    """The stored contact fields of one member (clear or pseudonymised, as the project keeps)."""
    if not wh.has("members"):
        raise NotFound("members: the members table is not loaded; there are no contact details")
    m = wh.table("members")
    cols = [c for c in CONTACT_FIELDS if c in m.columns]
    found = m.filter(m.member_id == member_id).select(*cols).limit(1).to_pyarrow().to_pylist()
    if not found:
        raise NotFound(f"member_id: no member {member_id!r} in the members table")
    return found[0]
