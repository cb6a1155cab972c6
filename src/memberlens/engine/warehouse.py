"""The warehouse: canonical tables, quarantine, load log and marts behind one Ibis backend.

DuckDB (the default) keeps everything in one file and makes each load or refresh one transaction:
a failure or Ctrl-C half way rolls back, so readers see the old state or the new one, never half.
The table layout is driven by :mod:`memberlens.schema`:

* ``<table>``: the canonical fields, typed, plus ``<field>_masked`` for personal data and
  ``_load_id`` (which load stored the row);
* ``_quarantine_<table>``: every field as the source text, plus ``_line``, ``_rule``, ``_field``,
  ``_reason``, ``_load_id``;
* ``_loads``: one row per load with its counts; ``_runs``: one row per pipeline step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from memberlens.engine.layout import (
    LOADS,
    RUNS,
    TableLayout,
    canonical_layout,
    quarantine_layout,
)
from memberlens.engine.protocol import EngineName, WarehouseProtocol
from memberlens.exceptions import ConfigError, MissingTableError
from memberlens.schema import TABLES, TableSpec

if TYPE_CHECKING:
    from memberlens.project import Project

LOADS_DDL = LOADS.ddl()
RUNS_DDL = RUNS.ddl()


def canonical_ddl(spec: TableSpec) -> str:
    return canonical_layout(spec).ddl()


def quarantine_ddl(spec: TableSpec) -> str:
    return quarantine_layout(spec).ddl()


class Warehouse:
    """An open warehouse (use as a context manager, or call :meth:`close`)."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        temp_directory: str | Path | None = None,
    ):
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise MissingTableError(
                f"{self.path}: no warehouse yet; load data with "
                "`memberlens ingest TABLE FILE` first"
            )
        self.con = ibis.duckdb.connect(str(self.path), read_only=read_only)
        # runtime settings rather than connection config: DuckDB refuses a second connection
        # to the same file with a different config, which would lock out plain duckdb users
        if memory_limit:
            self.con.raw_sql(f"SET memory_limit = '{_setting(memory_limit)}'")
        if temp_directory:
            self.con.raw_sql(f"SET temp_directory = '{_setting(str(temp_directory))}'")
        self.read_only = read_only
        if not read_only:
            self.con.raw_sql(LOADS_DDL)
            self._add_missing_columns(LOADS)
            self.con.raw_sql(RUNS_DDL)
            self._add_missing_columns(RUNS)

    # -- context management -------------------------------------------------------------------
    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.disconnect()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all (also on Ctrl-C)."""
        self.con.raw_sql("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.raw_sql("ROLLBACK")
            raise
        else:
            self.con.raw_sql("COMMIT")

    # -- tables --------------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return name in self.con.list_tables()

    def table(self, name: str) -> ir.Table:
        if not self.has(name):
            raise MissingTableError(
                f"table {name!r} is not in the warehouse {self.path}; load it with "
                f"`memberlens ingest {name} FILE`"
                if name in TABLES
                else f"table {name!r} is not in the warehouse {self.path}; run `memberlens run`"
            )
        return self.con.table(name)

    def count(self, name: str) -> int:
        return int(self.table(name).count().execute()) if self.has(name) else 0

    def ensure(self, spec: TableSpec) -> None:
        self.con.raw_sql(canonical_ddl(spec))
        self.con.raw_sql(quarantine_ddl(spec))
        for declared in (canonical_layout(spec), quarantine_layout(spec)):
            self._add_missing_columns(declared)

    def _add_missing_columns(self, declared: TableLayout) -> None:
        """Columns declared since the table was created (older warehouses get them here)."""
        have = set(self.con.table(declared.name).columns)
        for column in declared.columns:
            if column.name not in have:
                self.con.raw_sql(declared.add_column_ddl(column))

    def canonical_tables(self) -> list[str]:
        present = set(self.con.list_tables())
        return [t for t in TABLES if t in present]

    def replace(self, name: str, expr: ir.Table | object, load_id: str | None = None) -> None:
        """Create or replace a mart (call inside :meth:`transaction` for an atomic refresh)."""
        self.con.create_table(name, expr, overwrite=True)

    def append(self, name: str, expr: ir.Table, load_id: str) -> None:
        """Add rows to a table (inside :meth:`transaction`)."""
        self.con.insert(name, expr)

    def record_load(self, record: dict[str, Any]) -> None:
        """The load's line in ``_loads`` (inside the load's transaction)."""
        self.con.insert(
            "_loads", ibis.memtable(pa.Table.from_pylist([record], schema=LOADS.arrow_schema()))
        )

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        """Compute ``expr`` once into a temporary table that later steps read several times.

        One ``CREATE TEMP TABLE ... AS`` (Ibis' ``create_table(overwrite=True)`` would write the
        rows twice: into a scratch table, then a copy under the final name). DuckDB keeps the
        rows in the order the query yields them, so ``rowid`` is that order.
        """
        self.con._run_pre_execute_hooks(expr)  # registers in-memory tables the query reads
        sql = self.con.compile(expr)
        self.con.raw_sql(f'CREATE OR REPLACE TEMP TABLE "{_ident(name)}" AS {sql}')
        return self.con.table(name)

    def drop_temp(self, name: str) -> None:
        """Drop temporary, registered or scratch table ``name`` if it exists."""
        self.con.con.unregister(name)  # a view over Arrow rows (nothing when there is none)
        self.con.drop_table(name, force=True)

    # -- the rest of the warehouse protocol (memberlens.engine.protocol) -----------------------
    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of one constant SQL statement with ``?`` parameters bound by DuckDB."""
        rows: list[dict[str, Any]] = (
            self.con.con.execute(sql, list(params)).to_arrow_table().to_pylist()
        )
        return rows

    @property
    def engine(self) -> EngineName:
        return "duckdb"

    def append_rows(self, name: str, rows: pa.Table, load_id: str) -> None:
        """Add rows computed in Python to table ``name`` (inside :meth:`transaction`)."""
        self.con.insert(name, ibis.memtable(rows))

    def index(self, name: str, column: str) -> None:
        """An ART index on ``column`` for point look-ups (the dashboard's member 360)."""
        self.con.raw_sql(
            f'CREATE INDEX IF NOT EXISTS "{_ident(f"{name}_{column}")}" '
            f'ON "{_ident(name)}" ("{_ident(column)}")'
        )

    def register_arrow(self, name: str, rows: pa.Table) -> ir.Table:
        """Arrow rows as view ``name`` (zero-copy) until :meth:`drop_temp`."""
        self.con.con.register(name, rows)
        return self.con.table(name)

    def append_scratch(self, name: str, rows: pa.Table) -> ir.Table:
        """Add Arrow rows to scratch table ``name`` in the file (created by the first call)."""
        batch = f"__batch_{name}"
        part = self.register_arrow(batch, rows)
        try:
            if self.has(name):
                self.con.insert(name, part)
            else:
                self.con.create_table(name, part)
        finally:
            self.con.con.unregister(batch)
        return self.con.table(name)


def _ident(name: str) -> str:
    """A name safe inside double quotes."""
    return name.replace('"', '""')


def _setting(value: str) -> str:
    """A setting value safe inside single quotes."""
    return value.replace("'", "''")


def open_warehouse(project: Project, *, read_only: bool = False) -> WarehouseProtocol:
    """The warehouse of a :class:`~memberlens.project.Project`: DuckDB, or Parquet on Spark
    (both :class:`~memberlens.engine.protocol.WarehouseProtocol`)."""
    if project.engine == "pyspark":
        from memberlens.engine.spark_store import SparkWarehouse

        return SparkWarehouse(project.warehouse, read_only=read_only)
    if project.engine != "duckdb":
        raise ConfigError(f"{project.file}: unknown engine {project.engine!r}")
    return Warehouse(
        project.warehouse,
        read_only=read_only,
        memory_limit=project.memory_limit,
        temp_directory=project.state_dir / "tmp",
    )
