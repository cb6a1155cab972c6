"""JSON API of the data page: load status per table, run log, quarantine browser."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Query, Request

from memberlens.ingest.status import quarantine_rows, warehouse_status
from memberlens.pipeline.runs import run_log
from memberlens.privacy import mask_values
from memberlens.schema import TABLES, table_spec
from memberlens.web.auth import require
from memberlens.web.context import ctx
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
    with c.warehouse():  # raises 503 while a writer holds the lock
        pass
    out = warehouse_status(c.project).to_dict()
    out["warehouse"] = c.project.warehouse.name  # no absolute server paths in responses
    for load in out["loads"]:
        load["source"] = public_source(load.get("source"))
    return out


@router.get("/runs", summary="The pipeline run log (newest first)")
def api_runs(
    request: Request, limit: int = Query(50, ge=1, le=500), _=require("view_data")
) -> dict:
    return {"runs": jsonable(run_log(ctx(request).project, limit=limit))}


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
    found = quarantine_rows(table, c.project, rule=rule, limit=limit)
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
