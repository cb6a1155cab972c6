"""Saved views: a named set of page filters (e.g. a member list of one segment and province)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from memberlens.web.auth import Principal, require
from memberlens.web.context import ctx
from memberlens.web.errors import NotFound
from memberlens.web.models import SavedView, utcnow

router = APIRouter(prefix="/api/views", tags=["accounts"])
PAGES = ("overview", "segments", "members", "value", "cohorts", "geo", "baskets")


class ViewIn(BaseModel):
    page: str = Field(..., pattern="^(" + "|".join(PAGES) + ")$")
    name: str = Field(..., min_length=1, max_length=64)
    #: the page's query parameters, e.g. {"segment": "Champions", "province": "广东省"}
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=20)


def _view(v: SavedView) -> dict:
    return {
        "id": v.id,
        "page": v.page,
        "name": v.name,
        "params": json.loads(v.params),
        "created_at": v.created_at.isoformat(),
    }


@router.get("", summary="My saved views")
def api_views(request: Request, who: Principal = require()) -> dict:
    with ctx(request).store() as db:
        rows = db.scalars(
            select(SavedView).where(SavedView.user_id == who.user_id).order_by(SavedView.id)
        ).all()
        return {"views": [_view(v) for v in rows]}


@router.post("", status_code=201, summary="Save a view")
def api_view_create(request: Request, body: ViewIn, who: Principal = require()) -> dict:
    with ctx(request).store() as db:
        row = SavedView(
            user_id=who.user_id,
            page=body.page,
            name=body.name,
            params=json.dumps(body.params, ensure_ascii=False),
            created_at=utcnow(),
        )
        db.add(row)
        db.commit()
        return _view(row)


@router.delete("/{view_id}", summary="Delete one of my saved views")
def api_view_delete(
    request: Request, view_id: int = Path(..., ge=1, le=2**31), who: Principal = require()
) -> dict:
    with ctx(request).store() as db:
        row = db.get(SavedView, view_id)
        if row is None or row.user_id != who.user_id:
            raise NotFound(f"view {view_id}: no such view of yours")
        db.delete(row)
        db.commit()
        return {"deleted": view_id}
