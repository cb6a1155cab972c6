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
from collections.abc import Iterator
from pathlib import Path

import ibis
import ibis.expr.types as ir

from memberlens.exceptions import ConfigError, MissingTableError
from memberlens.schema import SQL_TYPES, TABLES, TableSpec

LOADS_DDL = """CREATE TABLE IF NOT EXISTS _loads (
    load_id VARCHAR PRIMARY KEY, table_name VARCHAR, source VARCHAR, fingerprint VARCHAR,
    format VARCHAR, encoding VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
    rows_read BIGINT, rows_stored BIGINT, rows_quarantined BIGINT, duplicates_dropped BIGINT,
    anonymous_rows BIGINT, by_rule VARCHAR, mapping VARCHAR, derived VARCHAR, replaces VARCHAR,
    notes VARCHAR)"""
#: columns added to ``_loads`` since its first layout (older warehouses get them on open).
LOADS_ADDED = ("replaces", "notes")
RUNS_DDL = """CREATE TABLE IF NOT EXISTS _runs (
    run_id VARCHAR, step VARCHAR, as_of DATE, config_hash VARCHAR, started_at TIMESTAMP,
    finished_at TIMESTAMP, rows_in BIGINT, rows_out BIGINT, status VARCHAR, message VARCHAR)"""


def canonical_ddl(spec: TableSpec) -> str:
    cols = []
    for f in spec.fields:
        cols.append(f'"{f.name}" {SQL_TYPES[f.type]}')
        if f.pii:
            cols.append(f'"{f.name}_masked" VARCHAR')
    cols.append('"_load_id" VARCHAR')
    return f'CREATE TABLE IF NOT EXISTS "{spec.name}" ({", ".join(cols)})'


def quarantine_ddl(spec: TableSpec) -> str:
    cols = [f'"{f.name}" VARCHAR' for f in spec.fields]
    cols += [
        '"_line" BIGINT',
        '"_rule" VARCHAR',
        '"_field" VARCHAR',
        '"_reason" VARCHAR',
        '"_load_id" VARCHAR',
    ]
    return f'CREATE TABLE IF NOT EXISTS "_quarantine_{spec.name}" ({", ".join(cols)})'


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
            for col in LOADS_ADDED:
                self.con.raw_sql(f"ALTER TABLE _loads ADD COLUMN IF NOT EXISTS {col} VARCHAR")
            self.con.raw_sql(RUNS_DDL)

    # -- context management -------------------------------------------------------------------
    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
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

    def canonical_tables(self) -> list[str]:
        present = set(self.con.list_tables())
        return [t for t in TABLES if t in present]

    def replace(self, name: str, expr: ir.Table | object, load_id: str | None = None) -> None:
        """Create or replace a mart (call inside :meth:`transaction` for an atomic refresh)."""
        self.con.create_table(name, expr, overwrite=True)

    def append(self, name: str, expr: ir.Table, load_id: str) -> None:
        """Add rows to a table (inside :meth:`transaction`)."""
        self.con.insert(name, expr)

    def record_load(self, record: dict) -> None:
        """The load's line in ``_loads`` (inside the load's transaction)."""
        import pyarrow as pa

        self.con.insert(
            "_loads", ibis.memtable(pa.Table.from_pylist([record], schema=_loads_schema()))
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
        self.con.drop_table(name, force=True)


def _ident(name: str) -> str:
    """A name safe inside double quotes."""
    return name.replace('"', '""')


def _setting(value: str) -> str:
    """A setting value safe inside single quotes."""
    return value.replace("'", "''")


def _loads_schema():
    import pyarrow as pa

    ts = pa.timestamp("us")
    return pa.schema(
        [
            ("load_id", pa.string()),
            ("table_name", pa.string()),
            ("source", pa.string()),
            ("fingerprint", pa.string()),
            ("format", pa.string()),
            ("encoding", pa.string()),
            ("started_at", ts),
            ("finished_at", ts),
            ("rows_read", pa.int64()),
            ("rows_stored", pa.int64()),
            ("rows_quarantined", pa.int64()),
            ("duplicates_dropped", pa.int64()),
            ("anonymous_rows", pa.int64()),
            ("by_rule", pa.string()),
            ("mapping", pa.string()),
            ("derived", pa.string()),
            ("replaces", pa.string()),
            ("notes", pa.string()),
        ]
    )


def open_warehouse(project, *, read_only: bool = False):
    """The warehouse of a :class:`~memberlens.project.Project`: DuckDB, or Parquet on Spark."""
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
