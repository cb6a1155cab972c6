"""JSON API of the data page: load status per table, run log, quarantine browser.

Each answer reads through the dashboard's read side (:meth:`WebContext.warehouse`: a pooled
read-only warehouse of the published state, the Spark session shared) and is cached per
published state, like the other routes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Query, Request

from memberlens.ingest.status import quarantine_of, status_of
from memberlens.pipeline.runs import run_log_of
from memberlens.privacy import mask_values
from memberlens.schema import TABLES, table_spec
from memberlens.web.auth import require
from memberlens.web.context import WebContext, ctx
from memberlens.web.queries.members import jsonable

router = APIRouter(prefix="/api/data", tags=["data"])
TableName = Literal[tuple(TABLES)]  # type: ignore[valid-type]


def public_source(source: str | None) -> str | None:
    """A load's source as shown to users: a file's name, a database URL without credentials."""
    if not source:
        return source
    if "://" in source:
        from sqlalchemy.engine import make_url

        try:
            url = make_url(source)._replace(username=None, password=None)
            return url.render_as_string(hide_password=True)
        except Exception:
            return source.split("://", 1)[0] + "://…"
    return Path(source).name


@router.get("/status", summary="Rows stored, read, quarantined per table, and the load log")
def api_status(request: Request, _=require("view_data")) -> dict:
    c = ctx(request)
    if not c.project.warehouse.exists():
        return {"warehouse": str(c.project.warehouse.name), "tables": [], "loads": []}

    def compute() -> dict:
        with c.warehouse(heavy=True) as wh:
            # no absolute server paths in responses
            out = status_of(wh, c.project.warehouse.name).to_dict()
        for load in out["loads"]:
            load["source"] = public_source(load.get("source"))
        return out

    return c.cached(("data_status",), compute)


@router.get("/runs", summary="The pipeline run log (newest first)")
def api_runs(
    request: Request, limit: int = Query(50, ge=1, le=500), _=require("view_data")
) -> dict:
    c = ctx(request)
    if not c.project.warehouse.exists():
        return {"runs": []}

    def compute() -> list:
        with c.warehouse() as wh:
            return jsonable(run_log_of(wh, limit=limit))

    return {"runs": c.cached(("data_runs", limit), compute)}


@router.get("/quarantine/{table}", summary="Rejected rows of a table with rule and reason")
def api_quarantine(
    request: Request,
    table: TableName,  # type: ignore[valid-type]
    rule: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=1000),
    _=require("view_data"),
) -> dict:
    c = ctx(request)
    if not c.project.warehouse.exists():
        return {"table": table, "rows": []}
    key = ("data_quarantine", table, rule, limit)
    return c.cached(key, lambda: _quarantine(c, table, rule, limit))


def _quarantine(c: WebContext, table: str, rule: str | None, limit: int) -> dict:
    with c.warehouse() as wh:
        found = quarantine_of(wh, table, rule=rule, limit=limit)
    # quarantined text holds personal data as it was read: send only its masked form
    for f in table_spec(table).pii_fields:
        if f.name in found.column_names:
            i = found.column_names.index(f.name)
            raw = found[f.name].combine_chunks().cast(pa.string())
            hashed = pc.match_substring_regex(raw, r"^[0-9a-f]{32}$")
            shown = pc.if_else(hashed, pa.scalar("(pseudonymised)"), mask_values(f.pii, raw))
            found = found.set_column(i, f.name, shown)
    rows = jsonable(found.to_pylist())
    for row in rows:
        if "source" in row:
            row["source"] = public_source(row["source"])
    return {"table": table, "rows": rows}
