"""JSON API of the data page: load status per table, run log, quarantine browser."""

from __future__ import annotations

from typing import Literal

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


@router.get("/status", summary="Rows stored, read, quarantined per table, and the load log")
def api_status(request: Request, _=require("view_data")) -> dict:
    c = ctx(request)
    if not c.project.warehouse.exists():
        return {"warehouse": str(c.project.warehouse.name), "tables": [], "loads": []}
    with c.warehouse():  # raises 503 while a writer holds the lock
        pass
    out = warehouse_status(c.project).to_dict()
    out["warehouse"] = c.project.warehouse.name  # no absolute server paths in responses
    return out


@router.get("/runs", summary="The pipeline run log (newest first)")
def api_runs(request: Request, limit: int = Query(50, ge=1, le=500),
             _=require("view_data")) -> dict:
    return {"runs": jsonable(run_log(ctx(request).project, limit=limit))}


@router.get("/quarantine/{table}", summary="Rejected rows of a table with rule and reason")
def api_quarantine(request: Request, table: TableName,  # type: ignore[valid-type]
                   rule: str | None = Query(None, max_length=64),
                   limit: int = Query(100, ge=1, le=1000), _=require("view_data")) -> dict:
    c = ctx(request)
    if not c.project.warehouse.exists():
        return {"table": table, "rows": []}
    found = quarantine_rows(table, c.project, rule=rule, limit=limit)
    # quarantined text holds personal data as it was read: send only its masked form
    for f in table_spec(table).pii_fields:
        if f.name in found.column_names:
            i = found.column_names.index(f.name)
            found = found.set_column(i, f.name, mask_values(f.pii, found[f.name].combine_chunks()))
    return {"table": table, "rows": jsonable(found.to_pylist())}
