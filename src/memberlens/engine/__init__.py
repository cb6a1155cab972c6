"""Engines: connections to the warehouse as Ibis backends, DuckDB by default, PySpark when asked."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa
    from ibis.backends import BaseBackend

    from memberlens.project import Project

__all__ = ["connect", "register_arrow", "spark_session", "unregister"]


def connect(
    project_or_url: str | os.PathLike[str] | Project | None = None, *, read_only: bool = True
) -> BaseBackend:
    """The warehouse of a project (folder or :class:`~memberlens.project.Project`) or a DuckDB
    file, as an Ibis backend whose tables are named after the canonical tables.

    By default a reader: the latest published snapshot of the warehouse, which never blocks
    (nor waits for) an ingest, a run or the dashboard; open a new connection to see a later
    publish. ``read_only=False`` gives a writer: the warehouse file itself, under the project's
    writer lock (other writers wait until ``con.disconnect()``, which also publishes what was
    written to readers; the lock is released when the process ends at the latest).

    >>> con = connect("shop")                     # doctest: +SKIP
    >>> con.table("orders").count().execute()     # doctest: +SKIP
    """
    from pathlib import Path

    import ibis

    from memberlens.project import Project

    if isinstance(project_or_url, str) and project_or_url.startswith("duckdb://"):
        return ibis.connect(project_or_url)
    if project_or_url is not None and not isinstance(project_or_url, Project):
        path = Path(project_or_url)
        if path.suffix in (".duckdb", ".db") and path.is_file():
            return ibis.duckdb.connect(str(path), read_only=read_only)
    from memberlens.engine.warehouse import open_warehouse

    project = (
        project_or_url if isinstance(project_or_url, Project) else Project.load(project_or_url)
    )
    return open_warehouse(project, read_only=read_only).con


def spark_session(
    *, app_name: str = "memberlens", master: str | None = None, memory: str = "2g"
) -> Any:
    """A local Spark session tuned for a small machine (UI off, few shuffle partitions).

    ``SPARK_LOCAL_IP`` defaults to 127.0.0.1 and the session time zone to UTC, so naive local
    timestamps round-trip unchanged (DESIGN.md, engine notes).
    """
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.appName(app_name)
        .master(master or os.environ.get("MEMBERLENS_SPARK_MASTER", "local[2]"))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.log.level", "ERROR")
        .config("spark.ui.showConsoleProgress", "false")
    )
    return builder.getOrCreate()


def register_arrow(backend: Any, name: str, table: pa.Table) -> ir.Table:
    """Put an Arrow table into ``backend`` as table ``name`` (a temporary one) and return it.

    Arrow goes straight to the engine (Spark 4 accepts Arrow tables), never through pandas,
    whose missing-value conventions turn null text into the string "NaN" on the way to Spark.
    """
    if backend.name == "pyspark":
        session = backend._session
        session.createDataFrame(table).createOrReplaceTempView(name)
        return backend.table(name)
    backend.con.register(name, table)  # DuckDB: a zero-copy view over the Arrow data
    return backend.table(name)


def unregister(backend: Any, name: str) -> None:
    """Drop a table put in by :func:`register_arrow`."""
    if backend.name == "pyspark":
        backend._session.catalog.dropTempView(name)
    else:
        backend.con.unregister(name)
