"""The warehouse protocol: what every engine's warehouse offers the rest of memberlens.

:class:`~memberlens.engine.warehouse.Warehouse` (DuckDB, one file) and
:class:`~memberlens.engine.spark_store.SparkWarehouse` (Spark over Parquet folders) both
implement :class:`WarehouseProtocol`; :func:`~memberlens.engine.warehouse.open_warehouse` picks
one from the project's ``[warehouse] engine``. Code outside :mod:`memberlens.engine` talks to a
warehouse only through these methods and never asks which engine it is: where the engines differ
(a transaction, a temporary table, an index, a parameterised query) the difference lives behind
one method here.

Tables are named by their canonical names on both engines: ``wh.table("orders")`` and
``wh.con.table("orders")`` are the same table, and the layout of every table with fixed columns
is declared once in :mod:`memberlens.engine.layout`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from memberlens.schema import TableSpec

__all__ = ["EngineName", "WarehouseProtocol", "present_tables"]

EngineName = Literal["duckdb", "pyspark"]


@runtime_checkable
class WarehouseProtocol(Protocol):
    """An open warehouse (a context manager; :meth:`close` ends it)."""

    #: the warehouse's location: the DuckDB file or the Spark warehouse folder
    path: Path
    read_only: bool
    #: the Ibis backend; the warehouse's tables resolve on it by their canonical names
    con: BaseBackend

    @property
    def engine(self) -> EngineName:
        """Which engine holds the warehouse (for messages and docs, not for branching)."""
        ...

    def __enter__(self) -> WarehouseProtocol: ...

    def __exit__(self, *exc: object) -> None: ...

    def close(self) -> None: ...

    # -- reading ---------------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        """Whether table ``name`` is in the warehouse."""
        ...

    def table(self, name: str) -> ir.Table:
        """Table ``name`` by its canonical (or mart) name; :class:`MissingTableError` naming
        the command that makes it when it is absent."""
        ...

    def count(self, name: str) -> int:
        """Rows of table ``name`` (0 when it is absent)."""
        ...

    def canonical_tables(self) -> list[str]:
        """The canonical tables present, in :data:`memberlens.schema.TABLES` order."""
        ...

    def stored_tables(self) -> frozenset[str]:
        """Every table written to the warehouse (canonical, quarantine, logs, marts); unlike
        :meth:`has`, a declared table that nothing was written to yet is not one."""
        ...

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of one constant SQL statement as dictionaries, ``?`` parameters bound by
        the engine (never pasted into the text). The statement must be in the SQL both engines
        read (plain SELECT, ``IN (?, ?)`` rather than DuckDB's ``= ANY(?::VARCHAR[])``)."""
        ...

    def fetch_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """:meth:`fetch` as an Arrow table (many rows: no Python object per value).
        Timestamps come back naive, as stored."""
        ...

    # -- writing ---------------------------------------------------------------------------------
    def transaction(self) -> AbstractContextManager[None]:
        """Writes inside commit together or not at all (also on Ctrl-C)."""
        ...

    def ensure(self, spec: TableSpec) -> None:
        """Create canonical table ``spec`` and its quarantine table if they are missing."""
        ...

    def replace(self, name: str, expr: ir.Table, load_id: str | None = None) -> None:
        """Create or replace table ``name`` with the rows of ``expr`` (in a transaction)."""
        ...

    def replace_rows(
        self, name: str, rows: ir.Table, *, key: str, keep: ir.Table, load_id: str | None = None
    ) -> None:
        """Replace part of table ``name`` (in a transaction): its rows whose ``key`` is among
        the ``key`` values of ``keep`` stay, the others go, and the rows of ``rows`` are added.
        A large table of which a run changes a small part is then not written again whole."""
        ...

    def append(self, name: str, expr: ir.Table, load_id: str) -> None:
        """Add the rows of ``expr`` to table ``name`` (in a transaction)."""
        ...

    def append_rows(self, name: str, rows: pa.Table, load_id: str) -> None:
        """Add rows computed in Python to table ``name`` (in a transaction)."""
        ...

    def record_load(self, record: dict[str, Any]) -> None:
        """The load's line in ``_loads`` (in the load's transaction)."""
        ...

    def forget_loads(self, tables: Sequence[str], load_ids: Sequence[str]) -> None:
        """Remove the rows loads ``load_ids`` stored in ``tables`` and their ``_loads`` lines
        (in a transaction: ``ingest --reload`` replaces a file's earlier loads)."""
        ...

    def index(self, name: str, column: str) -> None:
        """Make point look-ups of ``column`` in table ``name`` fast, where the engine can."""
        ...

    def drop_index(self, name: str, column: str) -> bool:
        """Drop the index :meth:`index` made on ``column`` of table ``name``; whether there
        was one."""
        ...

    # -- scratch ---------------------------------------------------------------------------------
    def register_arrow(self, name: str, rows: pa.Table) -> ir.Table:
        """Arrow rows as temporary table ``name`` (dropped with :meth:`drop_temp`)."""
        ...

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        """Compute ``expr`` once into temporary table ``name`` that later steps read several
        times; it stays valid while the tables it was computed from are replaced."""
        ...

    def append_scratch(self, name: str, rows: pa.Table | ir.Table) -> ir.Table:
        """Add Arrow rows, or the rows of a query on the warehouse, to scratch table ``name``
        (created by the first call; kept out of memory, on disk) and return it; dropped with
        :meth:`drop_temp`."""
        ...

    def drop_temp(self, name: str) -> None:
        """Drop temporary or scratch table ``name`` if it exists."""
        ...


def present_tables(
    source: WarehouseProtocol | BaseBackend, names: Iterable[str]
) -> dict[str, ir.Table]:
    """The tables of ``names`` that ``source`` (a warehouse, or an Ibis backend holding tables
    by their canonical names) has, by name; absent ones are left out."""
    if isinstance(source, WarehouseProtocol):
        return {name: source.table(name) for name in names if source.has(name)}
    present = set(source.list_tables())
    return {name: source.table(name) for name in names if name in present}
