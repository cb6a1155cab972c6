"""The run log ``_runs``: one row per pipeline step of every run, failed runs included.

Columns: run id, step, as-of date, config hash, the step's real start and finish time, seconds,
rows in and out, peak resident memory in bytes (:mod:`memberlens.pipeline.memory`), status
(``ok``, ``skipped``, ``degraded``, ``failed``), message and the step's position in the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from memberlens.engine.layout import RUNS
from memberlens.engine.protocol import WarehouseProtocol
from memberlens.engine.warehouse import open_warehouse
from memberlens.pipeline.step import StepResult
from memberlens.project import Project

#: the Arrow schema of the run log (declared once in :data:`memberlens.engine.layout.RUNS`)
RUNS_SCHEMA = RUNS.arrow_schema()


def record_run(
    wh: WarehouseProtocol,
    run_id: str,
    as_of: dt.date,
    config_hash: str,
    records: Sequence[StepResult],
) -> None:
    """Append the run's steps to ``_runs`` (inside the run's transaction, or alone for a failed
    run)."""
    now = dt.datetime.now()
    rows = [
        {
            "run_id": run_id,
            "step": r.step,
            "as_of": as_of,
            "config_hash": config_hash,
            "started_at": r.started_at or now,
            "finished_at": r.finished_at or now,
            "rows_in": r.rows_in,
            "rows_out": r.rows_out,
            "status": r.status,
            "message": r.message,
            "seconds": r.seconds,
            "peak_memory": r.peak_memory,
            "position": i,
        }
        for i, r in enumerate(records)
    ]
    table = pa.Table.from_pylist(rows, schema=RUNS_SCHEMA)
    wh.append_rows("_runs", table, run_id)


def run_log(
    project: Project | str | Path | None = None, *, limit: int = 50
) -> list[dict[str, Any]]:
    """The most recent pipeline steps, newest first (empty before the first ``memberlens run``)."""
    return _query(project, lambda runs: _newest(runs, limit))


def run_log_of(wh: WarehouseProtocol, *, limit: int = 50) -> list[dict[str, Any]]:
    """:func:`run_log` of an open warehouse (e.g. the dashboard's read side)."""
    return _rows(wh, lambda runs: _newest(runs, limit))


def _newest(runs: ir.Table, limit: int) -> ir.Table:
    return runs.order_by([ibis.desc("started_at"), ibis.desc("step")]).limit(limit)


def last_run(project: Project | str | Path | None = None) -> list[dict[str, Any]]:
    """The steps of the most recent run in the order they ran (empty before the first run):
    step, status, seconds, rows in and out, peak memory in bytes, message."""

    def steps(runs: ir.Table) -> ir.Table:
        latest = runs.order_by(ibis.desc("started_at")).limit(1).select("run_id")
        order = [c for c in ("position", "started_at") if c in runs.columns]  # older layouts
        return runs.filter(runs.run_id.isin(latest.run_id)).order_by(order)

    return _query(project, steps)


def _query(
    project: Project | str | Path | None, query: Callable[[ir.Table], ir.Table]
) -> list[dict[str, Any]]:
    """Rows of ``query`` over ``_runs`` (none before the first run)."""
    proj = project if isinstance(project, Project) else Project.load(project)
    if not proj.warehouse.exists():
        return []
    with open_warehouse(proj, read_only=True) as wh:
        return _rows(wh, query)


def _rows(wh: WarehouseProtocol, query: Callable[[ir.Table], ir.Table]) -> list[dict[str, Any]]:
    if not wh.has("_runs"):
        return []
    rows: list[dict[str, Any]] = query(wh.table("_runs")).to_pyarrow().to_pylist()
    return rows
