"""JSON API of members: the list (filter, sort, page), its export, the 360 view, the reveal."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from memberlens.exports import export_bytes
from memberlens.marts.member360 import (
    contact_values,
    member_360,
    member_history,
    member_recommendations,
)
from memberlens.marts.members import (
    SORTABLE,
    MemberFilter,
    member_export,
    member_order,
    member_rows,
    source,
)
from memberlens.web.auth import Principal, client_ip, require
from memberlens.web.context import ctx, encode_json
from memberlens.web.errors import NotFound
from memberlens.web.i18n import segment_aliases
from memberlens.web.queries.members import jsonable, jsonable_tree
from memberlens.web.roles import ROLES
from memberlens.web.store import audit

router = APIRouter(prefix="/api/members", tags=["members"])
EXPORT_LIMIT = {"csv": 1_000_000, "xlsx": 1_048_575}
MemberId = Path(..., min_length=1, max_length=128, description="The member id.")


def _filter(segment, value_tier, lifecycle_stage, province, q) -> MemberFilter:
    """The query's filter; a segment, tier or stage by its key or either language's name."""

    def names(value: str | None) -> tuple[str, ...]:
        return tuple(segment_aliases(value)) if value else ()

    return MemberFilter(
        segments=names(segment),
        value_tiers=names(value_tier),
        lifecycle_stages=names(lifecycle_stage),
        province=province or None,
        id_prefix=q or None,
    )


_F = dict(max_length=128)


@router.get(
    "",
    summary="One page of the member list (masked contacts)",
    response_class=Response,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def api_members(
    request: Request,
    segment: str | None = Query(None, description="Segment name (either scheme).", **_F),
    value_tier: str | None = Query(None, **_F),
    lifecycle_stage: str | None = Query(None, **_F),
    province: str | None = Query(None, **_F),
    q: str | None = Query(None, description="Member id prefix.", **_F),
    sort: Literal[SORTABLE] = Query("total_spend"),  # type: ignore[valid-type]
    direction: Literal["asc", "desc"] = Query("desc"),
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(50, ge=1, le=200),
    _=require("view_members"),
) -> Response:
    """Pages are cached (encoded) per warehouse version: a page seen before is answered on the
    event loop."""
    c = ctx(request)
    flt = _filter(segment, value_tier, lifecycle_stage, province, q)
    key = ("member_page", flt, sort, direction, page, page_size)
    body = c.peek(key, pages=True)
    if body is None:
        body = await run_in_threadpool(
            lambda: c.cached(
                key,
                lambda: encode_json(_member_page(c, flt, sort, direction, page, page_size)),
                pages=True,
            )
        )
    return Response(body, media_type="application/json")


def _member_page(
    c, flt: MemberFilter, sort: str, direction: str, page: int, page_size: int
) -> dict:
    """A slice of the filter's member order (computed once per filter and sort), then the
    rows of that slice."""

    def order():
        with c.warehouse(heavy=True) as wh:
            return source(wh), member_order(
                wh, flt, sort=sort, direction=direction, as_of=c.project.as_of
            )

    where, ids = c.cached(("member_order", flt, sort, direction), order, heavy=True)
    start = (page - 1) * page_size
    with c.warehouse() as wh:
        rows = member_rows(wh, ids[start : start + page_size], as_of=c.project.as_of)
    return {
        "source": where,
        "total": len(ids),
        "page": page,
        "page_size": page_size,
        "direction": direction,
        "sort": sort,
        "rows": jsonable(rows),
    }


@router.get(
    "/export",
    summary="Export the filtered list as CSV or Excel (columns by role)",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        }
    },
)
def api_members_export(
    request: Request,
    format: Literal["csv", "xlsx"] = Query("csv"),
    segment: str | None = Query(None, **_F),
    value_tier: str | None = Query(None, **_F),
    lifecycle_stage: str | None = Query(None, **_F),
    province: str | None = Query(None, **_F),
    q: str | None = Query(None, **_F),
    who: Principal = require("export_members"),
) -> Response:
    c = ctx(request)
    flt = _filter(segment, value_tier, lifecycle_stage, province, q)
    columns = ROLES[who.role].export_columns
    with c.warehouse(heavy=True) as wh:
        table = member_export(
            wh, flt, columns=columns, limit=EXPORT_LIMIT[format], as_of=c.project.as_of
        )
    body, result = export_bytes(table, format, sheet="members")
    media = (
        "text/csv; charset=utf-8"
        if format == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    with c.store() as db:
        audit(
            db,
            "export",
            username=who.username,
            target="members",
            detail={
                "format": format,
                "rows": table.num_rows,
                "columns": table.column_names,
                "filter": flt.to_dict(),
                "neutralised": result.neutralised,
                "k_anonymity": result.k_anonymity.to_dict(),
            },
            ip=client_ip(request),
        )
    k = result.k_anonymity.k
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="members.{format}"',
            "X-K-Anonymity": "none" if k is None else str(k),
        },
    )


@router.get(
    "/{member_id}",
    summary="Member 360: profile (masked), scores, segment, orders, "
    "segment / tier / stage history, recommendations",
    response_class=Response,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
def api_member(request: Request, member_id: str = MemberId, _=require("view_members")):
    """Encoded here, in the worker thread, so the event loop stays free for other requests."""
    c = ctx(request)
    with c.warehouse() as wh:
        out = member_360(wh, member_id, as_of=c.project.as_of)
        if out is None:
            raise NotFound(
                f"member_id: no member {member_id!r} in the warehouse; check the id "
                "(search the member list)"
            )
        out["history"] = member_history(wh, member_id)
        out["recommendations"] = member_recommendations(wh, member_id)
    return Response(encode_json(jsonable_tree(out)), media_type="application/json")


@router.post("/{member_id}/reveal", summary="Admin only: the stored contact details (audited)")
def api_member_reveal(
    request: Request, member_id: str = MemberId, who: Principal = require("reveal_pii")
) -> dict:
    c = ctx(request)
    with c.warehouse() as wh:
        values = contact_values(wh, member_id)
    if values is None:
        raise NotFound(f"member_id: no member {member_id!r} in the members table")
    clear = c.project.keep_clear_pii
    with c.store() as db:
        audit(
            db,
            "reveal",
            username=who.username,
            target=member_id,
            detail={"fields": sorted(values), "clear": clear},
            ip=client_ip(request),
        )
    if not clear:
        return {
            "member_id": member_id,
            "pseudonymised": True,
            "values": None,
            "message": "this project keeps contact details pseudonymised (keyed hashes): "
            "they cannot be turned back into clear values; set [privacy] "
            "keep_clear_pii = true and reload the data to keep clear values",
        }
    return {"member_id": member_id, "pseudonymised": False, "values": values, "message": None}
