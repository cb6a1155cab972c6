"""The warehouse: canonical tables, quarantine, load log and marts behind one Ibis backend.

DuckDB (the default) keeps everything in one file and makes each load or refresh one transaction:
a failure or Ctrl-C half way rolls back, so readers see the old state or the new one, never half.
The table layout is driven by :mod:`memberlens.schema`:

* ``<table>``: the canonical fields, typed, plus ``<field>_masked`` for personal data and
  ``_load_id`` (which load stored the row);
* ``_quarantine_<table>``: every field as the source text, plus ``_line``, ``_rule``, ``_field``,
  ``_reason``, ``_load_id``;
* ``_loads``: one row per load with its counts; ``_runs``: one row per pipeline step.

Several processes share one project (DESIGN.md, engines and storage): :func:`open_warehouse`
gives writers the warehouse file under the writer lock (:mod:`memberlens.engine.locking`) and
publishes a read-only snapshot when they close; readers open the latest published snapshot
(:mod:`memberlens.engine.snapshots`), so nobody waits for a writer but another writer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.duckdb import Backend as DuckDBBackend

from memberlens.engine.layout import (
    LOADS,
    RUNS,
    TableLayout,
    canonical_layout,
    quarantine_layout,
)
from memberlens.engine.locking import WriterLock
from memberlens.engine.protocol import EngineName, WarehouseProtocol
from memberlens.engine.snapshots import Snapshots
from memberlens.exceptions import ConfigError, MissingTableError, WarehouseBusy
from memberlens.schema import TABLES, TableSpec

if TYPE_CHECKING:
    from memberlens.project import Project

LOADS_DDL = LOADS.ddl()
RUNS_DDL = RUNS.ddl()


def canonical_ddl(spec: TableSpec) -> str:
    return canonical_layout(spec).ddl()


def quarantine_ddl(spec: TableSpec) -> str:
    return quarantine_layout(spec).ddl()


class WriterBackend(DuckDBBackend):
    """The Ibis DuckDB backend of a writer: :meth:`disconnect` checkpoints the file, closes it
    and then runs the writer's ``on_close`` (publish the snapshot, release the writer lock), so
    a notebook's ``con.disconnect()`` ends its write as ``memberlens run`` does."""

    on_close: Callable[[], None] | None = None

    def disconnect(self) -> None:
        done, self.on_close = self.on_close, None
        try:
            with contextlib.suppress(
                Exception
            ):  # e.g. a transaction left open: closing rolls it back
                self.con.execute("CHECKPOINT")
            super().disconnect()
        finally:
            if done is not None:
                done()


def _connect(path: Path, *, read_only: bool) -> DuckDBBackend:
    """A DuckDB backend on ``path``; a file held by a program outside memberlens is a
    :class:`WarehouseBusy` naming that program, never DuckDB's lock error."""
    import duckdb

    try:
        if read_only:
            return ibis.duckdb.connect(str(path), read_only=True)
        return WriterBackend().connect(str(path), read_only=False)
    except duckdb.IOException as exc:
        busy = lock_error(exc, path)
        if busy is None:
            raise
        raise busy from None


def lock_error(exc: BaseException, path: Path | str | None = None) -> WarehouseBusy | None:
    """DuckDB's "Could not set lock on file" as the user error it is (with the fix), else None."""
    text = str(exc)
    if "could not set lock" not in text.lower() and "conflicting lock" not in text.lower():
        return None
    detail = text.split("\n")[0]
    where = f"{path} is" if path else "the warehouse file is"
    return WarehouseBusy(
        f"{where} open in another program ({detail}). memberlens writers wait for each "
        "other and readers use the published snapshot, so this is a program that opened "
        "the file directly (a `duckdb` shell, a script with duckdb.connect): close it and "
        "retry, or read through `memberlens.engine.connect(project)` instead"
    )


class Warehouse:
    """An open warehouse (use as a context manager, or call :meth:`close`).

    ``on_close`` (writers only): called once after the file is checkpointed and closed."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        temp_directory: str | Path | None = None,
        on_close: Callable[[], None] | None = None,
    ):
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise MissingTableError(
                f"{self.path}: no warehouse yet; load data with "
                "`memberlens ingest TABLE FILE` first"
            )
        self.con = _connect(self.path, read_only=read_only)
        if isinstance(self.con, WriterBackend):
            self.con.on_close = on_close
        # runtime settings rather than connection config: DuckDB refuses a second connection
        # to the same file with a different config, which would lock out plain duckdb users
        if memory_limit:
            self.con.raw_sql(f"SET memory_limit = '{_setting(memory_limit)}'")
        if temp_directory:
            self.con.raw_sql(f"SET temp_directory = '{_setting(str(temp_directory))}'")
        self.read_only = read_only
        if not read_only:
            try:
                self.con.raw_sql(LOADS_DDL)
                self._add_missing_columns(LOADS)
                self.con.raw_sql(RUNS_DDL)
                self._add_missing_columns(RUNS)
            except BaseException:
                self.close()
                raise

    # -- context management -------------------------------------------------------------------
    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:  # the block's error is the one to report
            with contextlib.suppress(Exception):
                self.close()

    def close(self) -> None:
        """Close the connection (a writer: checkpoint, publish the snapshot, release the lock;
        an error publishing is raised)."""
        if isinstance(self.con, WriterBackend):
            self.con.disconnect()
            return
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

    def stored_tables(self) -> frozenset[str]:
        return frozenset(self.con.list_tables())

    def replace(self, name: str, expr: ir.Table | object, load_id: str | None = None) -> None:
        """Create or replace a mart (call inside :meth:`transaction` for an atomic refresh)."""
        self.con.create_table(name, expr, overwrite=True)

    def replace_rows(
        self, name: str, rows: ir.Table, *, key: str, keep: ir.Table, load_id: str | None = None
    ) -> None:
        """Delete the rows of ``name`` whose ``key`` is not among ``keep``'s, add ``rows``
        (inside :meth:`transaction` for an atomic refresh).

        In place: the kept rows are neither copied nor indexed again, and the checkpoint
        writes only the row groups the change touched (a ``CREATE OR REPLACE`` writes every
        row and builds every index again).
        """
        self.con._run_pre_execute_hooks(keep)  # registers in-memory tables the query reads
        column = f'"{_ident(key)}"'
        kept = f"SELECT {column} FROM ({self.con.compile(keep)}) WHERE {column} IS NOT NULL"
        self.con.raw_sql(
            f'DELETE FROM "{_ident(name)}" WHERE {column} IS NULL OR {column} NOT IN ({kept})'
        )
        self.con.insert(name, rows)

    def append(self, name: str, expr: ir.Table, load_id: str) -> None:
        """Add rows to a table (inside :meth:`transaction`)."""
        self.con.insert(name, expr)

    def record_load(self, record: dict[str, Any]) -> None:
        """The load's line in ``_loads`` (inside the load's transaction)."""
        self.con.insert(
            "_loads", ibis.memtable(pa.Table.from_pylist([record], schema=LOADS.arrow_schema()))
        )

    def forget_loads(self, tables: Sequence[str], load_ids: Sequence[str]) -> None:
        """``DELETE`` the loads' rows from ``tables`` and their ``_loads`` lines."""
        marks = ", ".join("?" for _ in load_ids)
        for name in tables:
            if self.has(name):
                self.con.con.execute(
                    f'DELETE FROM "{_ident(name)}" WHERE _load_id IN ({marks})', list(load_ids)
                )
        self.con.con.execute(f"DELETE FROM _loads WHERE load_id IN ({marks})", list(load_ids))

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

    def fetch_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """:meth:`fetch` as one Arrow table."""
        found: pa.Table = self.con.con.execute(sql, list(params)).to_arrow_table()
        return found

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

    def drop_index(self, name: str, column: str) -> bool:
        """Drop the index :meth:`index` made; whether there was one."""
        index = f"{name}_{column}"
        found = self.fetch("SELECT 1 FROM duckdb_indexes() WHERE index_name = ?", [index])
        if found:
            self.con.raw_sql(f'DROP INDEX "{_ident(index)}"')
        return bool(found)

    def register_arrow(self, name: str, rows: pa.Table) -> ir.Table:
        """Arrow rows as view ``name`` (zero-copy) until :meth:`drop_temp`."""
        self.con.con.register(name, rows)
        return self.con.table(name)

    def append_scratch(self, name: str, rows: pa.Table | ir.Table) -> ir.Table:
        """Add Arrow rows, or the rows of a query, to scratch table ``name`` in the file
        (created by the first call)."""
        batch = f"__batch_{name}"
        part = rows if isinstance(rows, ir.Table) else self.register_arrow(batch, rows)
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


def open_warehouse(
    project: Project,
    *,
    read_only: bool = False,
    timeout: float | None = None,
    what: str | None = None,
) -> WarehouseProtocol:
    """The warehouse of a :class:`~memberlens.project.Project`: DuckDB, or Parquet on Spark
    (both :class:`~memberlens.engine.protocol.WarehouseProtocol`).

    DuckDB: ``read_only`` opens the latest published snapshot (never waits, never blocks a
    writer); otherwise the warehouse file itself under the writer lock (waiting up to
    ``timeout`` seconds for another writer, see :mod:`memberlens.engine.locking`; ``what``
    names this writer in the others' messages), published to readers when it closes.
    """
    if project.engine == "pyspark":
        from memberlens.engine.spark_store import SparkWarehouse

        return SparkWarehouse(project.warehouse, read_only=read_only)
    if project.engine != "duckdb":
        raise ConfigError(f"{project.file}: unknown engine {project.engine!r}")
    if read_only:
        return open_published(project)
    lock = writer_lock(project, timeout=timeout, what=what)
    lock.acquire()
    held = [True]

    def finish() -> None:
        if not held[0]:
            return
        held[0] = False
        try:
            if lock.depth == 1:  # the outermost writer of this thread publishes what it changed
                Snapshots(project.warehouse).publish_if_changed()
        finally:
            lock.release()

    try:
        return Warehouse(
            project.warehouse,
            memory_limit=project.memory_limit,
            temp_directory=project.state_dir / "tmp",
            on_close=finish,
        )
    except BaseException:
        if held[0]:
            held[0] = False
            lock.release()
        raise


def writer_lock(
    project: Project, *, timeout: float | None = None, what: str | None = None
) -> WriterLock:
    """The writer lock of a project's warehouse (``.memberlens/writer.lock``)."""
    return WriterLock(project.state_dir / "writer.lock", timeout=timeout, what=what)


def open_published(project: Project, version: str | None = None) -> Warehouse:
    """The latest published snapshot of a DuckDB project (or snapshot ``version``), read-only.

    A project written before snapshots existed is published once, under the writer lock."""
    snapshots = Snapshots(project.warehouse)
    for _attempt in range(20):
        path = snapshots.path(version) if version else snapshots.current()
        if path is None:
            if not project.warehouse.exists():
                raise MissingTableError(
                    f"{project.warehouse}: no warehouse yet; load data with "
                    "`memberlens ingest TABLE FILE` first"
                )
            publish_existing(project)
            continue
        try:
            return Warehouse(
                path,
                read_only=True,
                memory_limit=project.memory_limit,
                temp_directory=project.state_dir / "tmp",
            )
        except Exception:
            if path.exists():
                raise
            version = None  # superseded and removed between reading CURRENT and opening it
    raise WarehouseBusy(
        f"{project.warehouse}: the published snapshot changed 20 times while opening it; retry"
    )


def publish_existing(project: Project) -> None:
    """Publish the warehouse file as it is (a project written before snapshots existed)."""
    with writer_lock(project, what="publishing the warehouse for readers"):
        snapshots = Snapshots(project.warehouse)
        if snapshots.current() is not None:  # a writer published while we waited
            return
        wal = project.warehouse.with_name(project.warehouse.name + ".wal")
        if wal.exists() and wal.stat().st_size:  # fold the log into the file first
            _connect(project.warehouse, read_only=False).disconnect()
        snapshots.publish()
