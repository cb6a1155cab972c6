"""The run log: one row per pipeline step (run id, as-of date, config hash, rows in and out)."""

from __future__ import annotations

from pathlib import Path

import ibis

from memberlens.engine.warehouse import open_warehouse
from memberlens.project import Project


def run_log(project: Project | str | Path | None = None, *, limit: int = 50) -> list[dict]:
    """The most recent pipeline steps, newest first (empty before the first ``memberlens run``)."""
    proj = project if isinstance(project, Project) else Project.load(project)
    if not proj.warehouse.exists():
        return []
    with open_warehouse(proj, read_only=True) as wh:
        if not wh.has("_runs"):
            return []
        runs = wh.table("_runs").order_by([ibis.desc("started_at"), ibis.desc("step")])
        return runs.limit(limit).to_pyarrow().to_pylist()
