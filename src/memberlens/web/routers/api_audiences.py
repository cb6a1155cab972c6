"""JSON API of audiences: list, create, size an expression while it is typed (with the breakdown
by segment, tier and province), overlap, freeze, export, delete; and the Audiences page.

Access: building and sizing need ``view_kpis`` (viewers and analysts may); an export needs
``export_members`` (and an API token's ``export`` scope); changing or deleting an audience is
for its owner or an admin. Every change and every export goes to the audit log. The
Audiences page (``/audiences``, in :data:`memberlens.web.routers.pages.NAV`) is built on these.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from memberlens.activation import audiences as aud
from memberlens.exports import export_bytes
from memberlens.web.auth import Principal, client_ip, require
from memberlens.web.context import ctx
from memberlens.web.errors import Forbidden
from memberlens.web.roles import ROLES
from memberlens.web.store import audit

router = APIRouter(prefix="/api/audiences", tags=["audiences"])
AudienceName = Path(..., min_length=1, max_length=64, description="The audience's name.")
Where = Query(..., min_length=1, max_length=4000, description="A filter-language expression.")
EXPORT_LIMIT = {"csv": 1_000_000, "xlsx": 1_048_575}


class AudienceIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=64)
    where: str = Field(..., min_length=1, max_length=4000)
    description: str | None = Field(None, max_length=1000)
    #: change an existing audience of this name (its owner or an admin only)
    replace: bool = False


class FreezeIn(BaseModel):
    as_of: dt.date | None = None


def _log(request: Request, who: Principal, action: str, target: str, detail: dict) -> None:
    with ctx(request).store() as db:
        audit(
            db, action, username=who.username, target=target, detail=detail, ip=client_ip(request)
        )


def _may_change(request: Request, who: Principal, name: str) -> None:
    owner = aud.get_audience(ctx(request).project, name, store=ctx(request).store).owner
    if who.role != "admin" and owner not in (None, who.username):
        raise Forbidden(
            f"audience {name!r} belongs to {owner}; only they or an admin may change it"
        )


@router.get("", summary="Saved audiences")
def api_audiences(request: Request, _=require("view_kpis")) -> dict:
    c = ctx(request)
    return {"audiences": [a.to_dict() for a in aud.list_audiences(c.project, store=c.store)]}


@router.post("", status_code=201, summary="Save an audience (checked against the marts)")
def api_audience_create(
    request: Request, body: AudienceIn, who: Principal = require("view_kpis")
) -> dict:
    c = ctx(request)
    existing = {a.name for a in aud.list_audiences(c.project, store=c.store)}
    if body.replace and body.name in existing:
        _may_change(request, who, body.name)
    saved = aud.create_audience(
        c.project,
        body.name,
        body.where,
        description=body.description,
        owner=who.username,
        replace=body.replace,
        store=c.store,
    )
    action = "audience_update" if body.name in existing else "audience_create"
    _log(request, who, action, body.name, {"where": saved.expression})
    size = aud.audience_size(c.project, body.name, breakdowns=False, store=c.store)
    return {**saved.to_dict(), "size": size.size, "total": size.total}


@router.get("/columns", summary="The columns an expression may name, with their kinds")
def api_audience_columns(request: Request, _=require("view_kpis")) -> dict:
    return {"columns": aud.audience_columns(ctx(request).project)}


@router.get("/size", summary="Size and breakdown of an expression (while it is typed)")
def api_audience_size_of(
    request: Request,
    where: str = Where,
    as_of: dt.date | None = Query(None),
    _=require("view_kpis"),
) -> dict:
    c = ctx(request)
    return aud.audience_size(c.project, where, as_of=as_of, store=c.store).to_dict()


@router.get("/overlap", summary="Counts and shares of every intersection of 2-6 audiences")
def api_audience_overlap(
    request: Request,
    names: list[str] = Query(..., min_length=2, max_length=6),
    _=require("view_kpis"),
) -> dict:
    c = ctx(request)
    return aud.audience_overlap(c.project, names, store=c.store).to_dict()


@router.get("/{audience}", summary="One audience with its size and breakdown")
def api_audience(request: Request, audience: str = AudienceName, _=require("view_kpis")) -> dict:
    c = ctx(request)
    saved = aud.get_audience(c.project, audience, store=c.store)
    size = aud.audience_size(c.project, audience, store=c.store)
    return {**saved.to_dict(), **size.to_dict()}


@router.post("/{audience}/freeze", status_code=201, summary="Freeze who the audience holds")
def api_audience_freeze(
    request: Request,
    audience: str = AudienceName,
    body: FreezeIn | None = Body(None),
    who: Principal = require("view_kpis"),
) -> dict:
    c = ctx(request)
    as_of = body.as_of if body else None
    snap = aud.freeze_audience(c.project, audience, as_of=as_of, owner=who.username, store=c.store)
    _log(
        request,
        who,
        "audience_freeze",
        audience,
        {"snapshot": snap.id, "as_of": snap.as_of.isoformat(), "size": snap.size},
    )
    return snap.to_dict()


@router.delete("/{audience}", summary="Delete an audience and its frozen lists")
def api_audience_delete(
    request: Request, audience: str = AudienceName, who: Principal = require("view_kpis")
) -> dict:
    c = ctx(request)
    _may_change(request, who, audience)
    gone = aud.delete_audience(c.project, audience, store=c.store)
    _log(request, who, "audience_delete", audience, {"where": gone.expression})
    return {"deleted": audience}


@router.get(
    "/{audience}/export",
    summary="Export the audience's members as CSV or Excel (masked contacts by role; audited)",
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
def api_audience_export(
    request: Request,
    audience: str = AudienceName,
    format: Literal["csv", "xlsx"] = Query("csv"),
    frozen: bool = Query(False, description="The latest frozen list instead of today's."),
    who: Principal = require("export_members"),
) -> Response:
    c = ctx(request)
    contacts = "phone_masked" in ROLES[who.role].export_columns
    table = aud.audience_export(
        c.project, audience, frozen=frozen, contacts=contacts, store=c.store
    )
    table = table.slice(0, EXPORT_LIMIT[format])
    body, result = export_bytes(table, format, sheet=audience)
    _log(
        request,
        who,
        "export",
        f"audience:{audience}",
        {
            "format": format,
            "frozen": frozen,
            "rows": table.num_rows,
            "columns": table.column_names,
            "neutralised": result.neutralised,
            "k_anonymity": result.k_anonymity.to_dict(),
        },
    )
    media = (
        "text/csv; charset=utf-8"
        if format == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    k = result.k_anonymity.k
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="audience.{format}"',
            "X-K-Anonymity": "none" if k is None else str(k),
        },
    )
