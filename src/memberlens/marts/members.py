"""Member lists: filter by segment, tier, stage, province and id, sort, page, count and export,
in the column vocabulary of ``mart_members`` (:mod:`memberlens.marts.vocabulary`), for the CLI
(``memberlens members``), the API (``/api/members``) and every export alike.

The list reads ``mart_members`` once ``memberlens run`` has built it; before that, the
:func:`~memberlens.features.rfm_summary` of ``orders`` joined to the masked profile columns of
``members`` (named as in the mart: ``registration_channel``). Filtering and sorting are one Ibis
expression (:func:`filtered`, :func:`member_order`), so they run on DuckDB and on Spark; the rows
of one page are one constant SQL statement with the ids bound as parameters
(:func:`member_rows`), which costs no Ibis compilation per request. Only ``*_masked`` contact
columns are ever listed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from memberlens.engine.protocol import WarehouseProtocol
from memberlens.engine.warehouse import open_warehouse
from memberlens.exceptions import ConfigError
from memberlens.features import rfm_summary
from memberlens.project import Project

#: what a member list may show or export (never a stored contact value)
LIST_COLUMNS = (
    "member_id",
    "segment_cn8",
    "segment_rfm11",
    "value_tier",
    "lifecycle_stage",
    "R",
    "F",
    "M",
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
    "registration_channel",
    "gender",
    "phone_masked",
    "email_masked",
)
#: columns a list may be sorted by
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
#: the segment schemes a segment filter matches by default
SCHEMES = ("cn8", "rfm11")
#: profile columns of ``members`` the fallback list shows (``channel`` as the mart names it)
_PROFILE = {
    "province": "province",
    "city": "city",
    "registration_channel": "channel",
    "gender": "gender",
    "phone_masked": "phone_masked",
    "email_masked": "email_masked",
}
Direction = Literal["asc", "desc"]
Source = Literal["mart_members", "rfm_summary"]


@dataclass(frozen=True)
class MemberFilter:
    """Members matching every part given: a segment key of any of ``schemes``, a value tier, a
    lifecycle stage (each part: any of the values listed), a province, an id prefix."""

    segments: tuple[str, ...] = ()
    schemes: tuple[str, ...] = SCHEMES
    value_tiers: tuple[str, ...] = ()
    lifecycle_stages: tuple[str, ...] = ()
    province: str | None = None
    id_prefix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The parts given (for an audit record)."""
        return {k: v for k, v in vars(self).items() if v and k != "schemes"}


@dataclass(frozen=True)
class MemberPage:
    """One page of a member list: its ``rows`` and how many members match in all."""

    rows: pa.Table
    total: int
    offset: int = 0


def source(wh: WarehouseProtocol) -> Source:
    """Where the list comes from: the mart of the last run, or the orders' summary."""
    return "mart_members" if wh.has("mart_members") else "rfm_summary"


def member_table(wh: WarehouseProtocol, as_of: dt.date | None = None) -> ir.Table:
    """``mart_members``, else the member summary of ``orders`` as of ``as_of`` (default: the
    last order day) with the profile columns of ``members``."""
    if wh.has("mart_members"):
        return wh.table("mart_members")
    orders = wh.table("orders")
    if as_of is None:
        last = orders.ordered_at.max().execute()
        as_of = dt.date.today() if last is None or last != last else last.date()
    summary = rfm_summary(orders, as_of=as_of, favourites=True)
    if wh.has("members"):
        m = wh.table("members")
        keep = {name: m[col] for name, col in _PROFILE.items() if col in m.columns}
        profile = m.select(_member=m.member_id, **keep)
        summary = summary.left_join(profile, summary.member_id == profile._member).drop("_member")
    return summary


def filtered(table: ir.Table, flt: MemberFilter) -> ir.Table:
    """The members of ``table`` matching ``flt`` (a part on a column the table lacks matches
    nothing)."""
    cond: list[ir.BooleanValue] = []
    if flt.segments:
        columns = [f"segment_{s}" for s in flt.schemes if f"segment_{s}" in table.columns]
        parts = [table[c].isin(list(flt.segments)) for c in columns]
        cond.append(ibis.or_(*parts) if parts else ibis.literal(False))
    for column, values in (
        ("value_tier", flt.value_tiers),
        ("lifecycle_stage", flt.lifecycle_stages),
        ("province", (flt.province,) if flt.province else ()),
    ):
        if values:
            ok = table[column].isin(list(values)) if column in table.columns else None
            cond.append(ibis.literal(False) if ok is None else ok)
    if flt.id_prefix:
        cond.append(table.member_id.cast("string").startswith(flt.id_prefix))
    return table.filter(*cond) if cond else table


def _ordered(rows: ir.Table, sort: str, direction: Direction) -> ir.Table:
    first = ibis.desc(sort) if direction == "desc" else ibis.asc(sort)
    return rows.order_by([first] if sort == "member_id" else [first, ibis.asc("member_id")])


def member_order(
    wh: WarehouseProtocol,
    flt: MemberFilter,
    *,
    sort: str = "total_spend",
    direction: Direction = "desc",
    as_of: dt.date | None = None,
) -> pa.Array:
    """The ids of the members matching ``flt`` in list order (ties by ``member_id``; missing
    values last), as one Arrow string array (~14 bytes a member): computed once per filter and
    sort, every page is then a slice of it."""
    rows = filtered(member_table(wh, as_of), flt)
    key = sort if sort in rows.columns and sort in SORTABLE else "member_id"
    ids = _ordered(rows, key, direction).select(m=rows.member_id.cast("string"))
    return ids.to_pyarrow()["m"].combine_chunks()


def _ident(name: str) -> str:
    """A column name written into SQL: only names of :data:`LIST_COLUMNS` (plain identifiers,
    the same unquoted on both engines)."""
    if name not in LIST_COLUMNS or not name.isidentifier():
        raise ValueError(f"column {name!r} is not in the list's allow-list")
    return name


def member_rows(
    wh: WarehouseProtocol,
    member_ids: Sequence[str] | pa.Array,
    *,
    columns: Sequence[str] = LIST_COLUMNS,
    as_of: dt.date | None = None,
) -> list[dict[str, Any]]:
    """The list ``columns`` of the given members (those of :data:`LIST_COLUMNS`), in the order
    given."""
    ids = member_ids.to_pylist() if isinstance(member_ids, pa.Array) else list(member_ids)
    if not ids:
        return []
    if wh.has("mart_members"):
        present = set(wh.table("mart_members").columns)
        cols = ", ".join(_ident(c) for c in columns if c in present)
        marks = ", ".join("?" for _ in ids)
        rows = wh.fetch(
            f"SELECT CAST(member_id AS STRING) AS _m, {cols} FROM mart_members "
            f"WHERE member_id IN ({marks})",
            ids,
        )
    else:
        table = member_table(wh, as_of)
        part = table.filter(table.member_id.cast("string").isin(ids))
        keep = [c for c in columns if c in part.columns and c in LIST_COLUMNS]
        part = part.select(*keep, _m=part.member_id.cast("string"))
        rows = part.to_pyarrow().to_pylist()
    position = {m: i for i, m in enumerate(ids)}
    rows.sort(key=lambda row: position[row["_m"]])
    for row in rows:
        del row["_m"]
    return rows


def member_export(
    wh: WarehouseProtocol,
    flt: MemberFilter,
    *,
    columns: Sequence[str] = LIST_COLUMNS,
    sort: str = "member_id",
    direction: Direction = "asc",
    limit: int | None = None,
    as_of: dt.date | None = None,
) -> pa.Table:
    """The members matching ``flt`` with ``columns`` (those of :data:`LIST_COLUMNS` the table
    has: never a stored contact value), in list order."""
    rows = filtered(member_table(wh, as_of), flt)
    key = sort if sort in rows.columns else "member_id"
    keep = [c for c in columns if c in rows.columns and c in LIST_COLUMNS]
    out = _ordered(rows, key, direction).select(*keep)
    if limit is not None:
        out = out.limit(limit)
    return out.to_pyarrow()


def member_page(
    project: Project | str | Path | None = None,
    *,
    segment: str | None = None,
    scheme: str = "cn8",
    tier: str | None = None,
    stage: str | None = None,
    order_by: str = "clv",
    limit: int | None = None,
    offset: int = 0,
) -> MemberPage:
    """Members of ``mart_members`` (``memberlens members``) matching every filter given, best
    first by ``order_by`` (ties by ``member_id``), ``limit`` of them from ``offset``, with every
    column of the mart, and the number that match."""
    proj = project if isinstance(project, Project) else Project.load(project)
    flt = MemberFilter(
        segments=(segment,) if segment is not None else (),
        schemes=(scheme,),
        value_tiers=(tier,) if tier is not None else (),
        lifecycle_stages=(stage,) if stage is not None else (),
    )
    with open_warehouse(proj, read_only=True) as wh:
        mart = wh.table("mart_members")
        if segment is not None and f"segment_{scheme}" not in mart.columns:
            schemes = [c.removeprefix("segment_") for c in mart.columns if c.startswith("segment_")]
            raise ConfigError(
                f"--scheme {scheme!r} is not in the mart; use one of {', '.join(schemes)}"
            )
        if order_by not in mart.columns:
            raise ConfigError(
                f"--order-by {order_by!r} is not a column of mart_members; use "
                "e.g. clv, total_spend, p_alive"
            )
        rows = filtered(mart, flt)
        total = int(rows.count().to_pyarrow().as_py())
        page = _ordered(rows, order_by, "desc")
        if limit is not None or offset:
            page = page.limit(limit, offset=offset)
        return MemberPage(page.to_pyarrow(), total, offset)
