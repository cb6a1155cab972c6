"""One declaration of every warehouse table's layout, for both engines.

Each table is a :class:`TableLayout` (its columns with a portable type); from it come the DuckDB
``CREATE TABLE`` statement (:meth:`TableLayout.ddl`), the Ibis schema the Spark warehouse uses
for a table that has no rows yet (:meth:`TableLayout.ibis_schema`) and the Arrow schema of rows
written from Python (:meth:`TableLayout.arrow_schema`). The layouts declared:

* ``<table>`` (:func:`canonical_layout`): the canonical fields of :mod:`memberlens.schema`,
  typed, plus ``<field>_masked`` for personal data and ``_load_id``;
* ``_quarantine_<table>`` (:func:`quarantine_layout`): every field as the source text, plus
  ``_line``, ``_rule``, ``_field``, ``_reason`` and ``_load_id``;
* ``_loads`` (:data:`LOADS`): one row per load with its counts;
* ``_runs`` (:data:`RUNS`): one row per pipeline step of a ``memberlens run``;
* the marts whose columns are fixed: ``mart_member_history`` (:data:`MART_MEMBER_HISTORY`) and
  ``mart_models`` (:data:`MART_MODELS`). The other marts take the columns of the frame a step
  computes (a scheme of the project file adds a column, for example).

:func:`layout` finds any of them by its warehouse name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from memberlens.schema import IBIS_TYPES, SQL_TYPES, TABLES, TableSpec

if TYPE_CHECKING:
    import ibis
    import pyarrow as pa

__all__ = [
    "LOADS",
    "MART_MEMBER_HISTORY",
    "MART_MODELS",
    "RUNS",
    "Column",
    "ColumnType",
    "TableLayout",
    "canonical_layout",
    "layout",
    "layouts",
    "quarantine_layout",
]

#: The portable column types: those of :mod:`memberlens.schema` (``decimal`` is
#: DECIMAL(18, 2): money is exact on both engines) plus ``boolean``.
ColumnType = Literal["string", "timestamp", "date", "decimal", "integer", "float", "boolean"]

_SQL: dict[str, str] = {**SQL_TYPES, "boolean": "BOOLEAN"}
_IBIS: dict[str, str] = {**IBIS_TYPES, "boolean": "boolean"}
QUARANTINE_PREFIX = "_quarantine_"


@dataclass(frozen=True)
class Column:
    """One column of a warehouse table."""

    name: str
    type: ColumnType = "string"


@dataclass(frozen=True)
class TableLayout:
    """The columns of one warehouse table (and its primary key on DuckDB, if any)."""

    name: str
    columns: tuple[Column, ...]
    primary_key: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def ddl(self) -> str:
        """DuckDB's ``CREATE TABLE IF NOT EXISTS`` for this table."""
        cols = [
            f"{_quote(c.name)} {_SQL[c.type]}"
            + (" PRIMARY KEY" if c.name == self.primary_key else "")
            for c in self.columns
        ]
        return f"CREATE TABLE IF NOT EXISTS {_quote(self.name)} ({', '.join(cols)})"

    def add_column_ddl(self, column: Column) -> str:
        """DuckDB's ``ALTER TABLE`` adding ``column`` (a column declared after the table was
        created in an older warehouse)."""
        return (
            f"ALTER TABLE {_quote(self.name)} ADD COLUMN IF NOT EXISTS "
            f"{_quote(column.name)} {_SQL[column.type]}"
        )

    def ibis_schema(self) -> ibis.Schema:
        """The Ibis schema (what an empty table of this layout is on any engine)."""
        import ibis

        return ibis.schema({c.name: _IBIS[c.type] for c in self.columns})

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of rows written from Python (timestamps naive, microseconds)."""
        schema: pa.Schema = self.ibis_schema().to_pyarrow()
        return schema


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def canonical_layout(spec: TableSpec) -> TableLayout:
    """A canonical table: typed fields, ``<field>_masked`` for personal data, ``_load_id``."""
    cols: list[Column] = []
    for f in spec.fields:
        cols.append(Column(f.name, f.type))
        if f.pii:
            cols.append(Column(f"{f.name}_masked"))
    cols.append(Column("_load_id"))
    return TableLayout(spec.name, tuple(cols))


def quarantine_layout(spec: TableSpec) -> TableLayout:
    """The rejected rows of a canonical table: source text, line, rule, field and reason."""
    cols = [Column(f.name) for f in spec.fields]
    cols += [
        Column("_line", "integer"),
        Column("_rule"),
        Column("_field"),
        Column("_reason"),
        Column("_load_id"),
    ]
    return TableLayout(QUARANTINE_PREFIX + spec.name, tuple(cols))


LOADS = TableLayout(
    "_loads",
    (
        Column("load_id"),
        Column("table_name"),
        Column("source"),
        Column("fingerprint"),
        Column("format"),
        Column("encoding"),
        Column("started_at", "timestamp"),
        Column("finished_at", "timestamp"),
        Column("rows_read", "integer"),
        Column("rows_stored", "integer"),
        Column("rows_quarantined", "integer"),
        Column("duplicates_dropped", "integer"),
        Column("anonymous_rows", "integer"),
        Column("by_rule"),
        Column("mapping"),
        Column("derived"),
        Column("replaces"),
        Column("notes"),
    ),
    primary_key="load_id",
)

RUNS = TableLayout(
    "_runs",
    (
        Column("run_id"),
        Column("step"),
        Column("as_of", "date"),
        Column("config_hash"),
        Column("started_at", "timestamp"),
        Column("finished_at", "timestamp"),
        Column("rows_in", "integer"),
        Column("rows_out", "integer"),
        Column("status"),
        Column("message"),
        Column("seconds", "float"),
        Column("peak_memory", "integer"),
        Column("position", "integer"),
    ),
)

MART_MEMBER_HISTORY = TableLayout(
    "mart_member_history",
    (
        Column("as_of", "date"),
        Column("run_id"),
        Column("member_id"),
        Column("segment_cn8"),
        Column("segment_rfm11"),
        Column("value_tier"),
        Column("lifecycle_stage"),
    ),
)

MART_MODELS = TableLayout(
    "mart_models",
    (Column("run_id"), Column("as_of", "timestamp"), Column("models")),
)


def layouts() -> dict[str, TableLayout]:
    """Every declared layout by its warehouse name."""
    out: dict[str, TableLayout] = {}
    for spec in TABLES.values():
        out[spec.name] = canonical_layout(spec)
        out[QUARANTINE_PREFIX + spec.name] = quarantine_layout(spec)
    for fixed in (LOADS, RUNS, MART_MEMBER_HISTORY, MART_MODELS):
        out[fixed.name] = fixed
    return out


def layout(name: str) -> TableLayout | None:
    """The declared layout of warehouse table ``name`` (None: a mart shaped by its step)."""
    return layouts().get(name)
