"""The warehouse on Spark: Parquet folders with a commit record per load, the same protocol.

Layout under the project's ``warehouse/`` folder::

    <table>/load=<load id>/part-*.parquet      canonical rows stored by one load (or mart refresh)
    _quarantine_<table>/load=<load id>/...     rejected rows of that load
    _commits/<load id>.json                    the load's record; written last, atomically
    _scratch/<name>/                           scratch tables of one process (dropped after use)

A reader sees only folders whose load has a commit record, so a load that fails or is interrupted
half way leaves nothing visible (its folders are removed, or ignored and swept later). Marts are
replaced by a new ``load=`` folder plus a commit record that retires the older ones.

Every committed table is a temporary view of the Spark session under its canonical name, so
``wh.table("orders")`` and ``wh.con.table("orders")`` are the same table, as on DuckDB. The views
are refreshed when a transaction commits. (One warehouse per Spark session: a second project
opened in the same process replaces the views of the first.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from memberlens.engine.layout import LOADS, RUNS, TableLayout, layouts
from memberlens.engine.protocol import EngineName
from memberlens.exceptions import MissingTableError
from memberlens.schema import TABLES, TableSpec

_COMMITS = "_commits"
_SCRATCH = "_scratch"


def canonical_schema(spec: TableSpec) -> ibis.Schema:
    """The Ibis schema of canonical table ``spec`` (see :mod:`memberlens.engine.layout`)."""
    from memberlens.engine.layout import canonical_layout

    return canonical_layout(spec).ibis_schema()


def quarantine_schema(spec: TableSpec) -> ibis.Schema:
    """The Ibis schema of the quarantine table of ``spec``."""
    from memberlens.engine.layout import quarantine_layout

    return quarantine_layout(spec).ibis_schema()


class SparkWarehouse:
    """:class:`~memberlens.engine.protocol.WarehouseProtocol` on Spark and Parquet."""

    def __init__(self, path: str | Path, *, session: Any = None, read_only: bool = False):
        from memberlens.engine import spark_session

        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise MissingTableError(
                f"{self.path}: no warehouse yet; load data with "
                "`memberlens ingest TABLE FILE` first"
            )
        (self.path / _COMMITS).mkdir(parents=True, exist_ok=True)
        self.session = session or spark_session()
        self.con = ibis.pyspark.connect(self.session)
        self._pending: list[Path] | None = None
        self._writes: dict[str, list[str]] = {}
        self._retires: dict[str, list[str]] = {}
        self._forgets: list[str] = []
        self._record: dict[str, Any] | None = None
        self._scratch: set[str] = set()
        self._exposed: set[str] = set()
        # tables that exist (empty) before their first load, as DuckDB's ensure() makes them
        declared = layouts()
        self._layouts: dict[str, TableLayout] = {
            name: declared[name]
            for name in declared
            if name in TABLES or name.startswith("_quarantine_") or name in (LOADS.name, RUNS.name)
        }
        self._expose_all()

    @property
    def engine(self) -> EngineName:
        return "pyspark"

    def __enter__(self) -> SparkWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop this warehouse's scratch tables; the Spark session stays up for the next call
        (it is costly to start)."""
        for name in list(self._scratch):
            self.drop_temp(name)

    # -- commits ---------------------------------------------------------------------------------
    def _records(self) -> list[dict[str, Any]]:
        out = []
        for p in sorted((self.path / _COMMITS).glob("*.json")):
            out.append(json.loads(p.read_text(encoding="utf-8")))
        return out

    def _live_folders(self, name: str, records: list[dict[str, Any]] | None = None) -> list[Path]:
        records = self._records() if records is None else records
        retired = {r for rec in records for r in rec.get("retires", {}).get(name, [])}
        live = []
        for rec in records:
            if name in rec.get("writes", []) and rec["load_id"] not in retired:
                folder = self.path / name / f"load={rec['load_id']}"
                if folder.exists():
                    live.append(folder)
        if self._pending is not None:  # this transaction's own writes are visible to itself
            live += [self.path / name / f"load={lid}" for lid in self._writes.get(name, [])]
            live = [f for f in live if f.name.split("=", 1)[1] not in self._retires.get(name, [])]
        return live

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._pending = []
        self._writes = {}
        self._retires = {}
        self._forgets = []
        self._record = None
        try:
            yield
        except BaseException:
            for folder in self._pending:
                shutil.rmtree(folder, ignore_errors=True)
            self._pending = None
            self._expose_all()  # views touched inside the transaction point back at the old rows
            raise
        else:
            self._commit()
            written = list(self._writes)
            self._pending = None
            self._expose_all(written)
            self._sweep()
        finally:
            self._pending = None

    def _sweep(self) -> None:
        """Delete the folders retired before the latest retirement of their table.

        A reader that registered its views before this commit may still read the folders this
        commit (or, for a table this commit did not touch, the last commit that replaced it)
        retired, so those stay until the table is replaced again; anything retired earlier is
        read by nobody (readers re-register their views after every commit they see).
        """
        paths = sorted(
            (self.path / _COMMITS).glob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name)
        )
        latest: dict[str, set[str]] = {}
        retired: dict[str, set[str]] = {}
        for p in paths:
            try:
                rec = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # removed or being replaced meanwhile
                continue
            for name, ids in rec.get("retires", {}).items():
                if ids:
                    retired.setdefault(name, set()).update(ids)
                    latest[name] = set(ids)
        for name, ids in retired.items():
            for load_id in sorted(ids - latest[name]):
                folder = self.path / name / f"load={load_id}"
                if folder.exists():
                    shutil.rmtree(folder, ignore_errors=True)

    def _commit(self) -> None:
        load_ids = {lid for ids in self._writes.values() for lid in ids}
        record = dict(self._record or {})
        load_id = record.get("load_id") or (sorted(load_ids)[0] if load_ids else uuid.uuid4().hex)
        record["load_id"] = load_id
        record["writes"] = sorted(self._writes)
        record["retires"] = self._retires
        if self._forgets:
            record["forgets"] = sorted(set(self._forgets))
        tmp = self.path / _COMMITS / f".{load_id}.json.tmp"
        tmp.write_text(json.dumps(record, default=str, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path / _COMMITS / f"{load_id}.json")

    # -- canonical names -------------------------------------------------------------------------
    def _expose_all(self, names: list[str] | None = None) -> None:
        """(Re-)register the committed tables as views under their own names."""
        records = self._records()
        if names is None:
            names = sorted({n for rec in records for n in rec.get("writes", [])})
        for name in names:
            self._expose(name, records)
        self._expose_loads(records)

    def _expose(self, name: str, records: list[dict[str, Any]] | None = None) -> bool:
        folders = self._live_folders(name, records)
        if not folders:
            if name in self._exposed:  # a table that is gone (a failed transaction's own)
                self._exposed.discard(name)
                with contextlib.suppress(Exception):
                    self.session.catalog.dropTempView(name)
            return False
        self._exposed.add(name)
        # loads stored before a column was declared lack it: the union of the folders' columns
        reader = self.session.read.option("mergeSchema", "true")
        reader.parquet(*[str(f) for f in folders]).createOrReplaceTempView(name)
        return True

    def _expose_loads(self, records: list[dict[str, Any]]) -> None:
        forgotten = {lid for rec in records for lid in rec.get("forgets", [])}
        if self._pending is not None:  # this transaction's own forgets are visible to itself
            forgotten.update(self._forgets)
        rows = [
            _parse_times(r["load"])
            for r in records
            if "load" in r and r["load"]["load_id"] not in forgotten
        ]
        schema = LOADS.arrow_schema()
        data = pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
        self.register_arrow(LOADS.name, data)

    # -- tables ----------------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return name in self._layouts or bool(self._live_folders(name))

    def table(self, name: str) -> ir.Table:
        if name == LOADS.name:  # re-read: another process may have committed a load since
            self._expose_loads(self._records())
            return self.con.table(name)
        if self._expose(name):
            return self.con.table(name)
        if name in self._layouts:  # declared but never written: empty, with its columns
            return self.register_arrow(name, self._layouts[name].arrow_schema().empty_table())
        raise MissingTableError(
            f"table {name!r} is not in the warehouse {self.path}; load it with "
            f"`memberlens ingest {name} FILE`"
            if name in TABLES
            else f"table {name!r} is not in the warehouse {self.path}; run `memberlens run`"
        )

    def count(self, name: str) -> int:
        if name == LOADS.name:
            return int(self.table(name).count().execute())
        return int(self.table(name).count().execute()) if self._live_folders(name) else 0

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of one constant SQL statement, ``?`` parameters bound by Spark SQL."""
        return [row.asDict() for row in self.session.sql(sql, args=list(params)).collect()]

    def ensure(self, spec: TableSpec) -> None:
        """Nothing to create: an empty table is its declared layout until the first load."""

    def canonical_tables(self) -> list[str]:
        records = self._records()
        return [t for t in TABLES if self._live_folders(t, records)]

    def stored_tables(self) -> frozenset[str]:
        records = self._records()
        names = {n for rec in records for n in rec.get("writes", [])}
        return frozenset({n for n in names if self._live_folders(n, records)} | {LOADS.name})

    def fetch_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Rows of one constant SQL statement as Arrow; timestamps naive (as stored: the
        session time zone is UTC)."""
        found: pa.Table = self.session.sql(sql, args=list(params)).toArrow()
        return _naive(found)

    def _write(self, name: str, df: Any, load_id: str) -> None:
        if self._pending is None:
            raise RuntimeError(f"writing {name!r} outside a transaction: use wh.transaction()")
        folder = self.path / name / f"load={load_id}"
        self._pending.append(folder)
        df.write.mode("overwrite").parquet(str(folder))
        self._writes.setdefault(name, []).append(load_id)

    def append(self, name: str, expr: ir.Table, load_id: str) -> None:
        self._write(name, self._dataframe(expr), load_id)

    def append_rows(self, name: str, rows: pa.Table, load_id: str) -> None:
        self._write(name, self.session.createDataFrame(rows), load_id)

    def record_load(self, record: dict[str, Any]) -> None:
        self._record = {"load_id": record["load_id"], "load": record}

    def forget_loads(self, tables: Sequence[str], load_ids: Sequence[str]) -> None:
        """Retire the loads' folders of ``tables`` and hide their ``_loads`` records, in the
        commit record of this transaction (deleted once no reader can read them)."""
        if self._pending is None:
            raise RuntimeError("forgetting loads outside a transaction: use wh.transaction()")
        for name in tables:
            retired = self._retires.setdefault(name, [])
            retired.extend(i for i in load_ids if i not in retired)
        self._forgets.extend(load_ids)
        self._expose_all(list(tables))

    def replace(self, name: str, expr: ir.Table, load_id: str | None = None) -> None:
        load_id = load_id or uuid.uuid4().hex
        old = [f.name.split("=", 1)[1] for f in self._live_folders(name)]
        self.append(name, expr, load_id)
        self._retires[name] = old

    def replace_rows(
        self, name: str, rows: ir.Table, *, key: str, keep: ir.Table, load_id: str | None = None
    ) -> None:
        """The kept rows and ``rows`` written as the table's new version (Parquet files are
        not changed in place)."""
        old = self.table(name)
        kept = old.semi_join(keep.select(key), key)
        self.replace(name, kept.union(rows.select(*old.columns)), load_id)

    def index(self, name: str, column: str) -> None:
        """Nothing to do: Spark has no point-look-up index (Parquet keeps min/max statistics)."""

    def drop_index(self, name: str, column: str) -> bool:
        """Nothing to do: no index was made."""
        return False

    # -- scratch ---------------------------------------------------------------------------------
    def _dataframe(self, expr: ir.Table) -> Any:
        self.con._run_pre_execute_hooks(expr)  # registers in-memory tables the query reads
        return self.session.sql(self.con.compile(expr))

    def register_arrow(self, name: str, rows: pa.Table) -> ir.Table:
        # Arrow straight to Spark, never through pandas (whose missing values turn null text
        # into the string "NaN")
        self.session.createDataFrame(rows).createOrReplaceTempView(name)
        return self.con.table(name)

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        df = self._dataframe(expr).localCheckpoint()
        df.createOrReplaceTempView(name)
        return self.con.table(name)

    def append_scratch(self, name: str, rows: pa.Table | ir.Table) -> ir.Table:
        folder = self.path / _SCRATCH / name
        if name not in self._scratch:
            shutil.rmtree(folder, ignore_errors=True)
            self._scratch.add(name)
        frame = (
            self._dataframe(rows)
            if isinstance(rows, ir.Table)
            else self.session.createDataFrame(rows)
        )
        frame.write.mode("append").parquet(str(folder))
        self.session.read.parquet(str(folder)).createOrReplaceTempView(name)
        return self.con.table(name)

    def drop_temp(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.session.catalog.dropTempView(name)
        if name in self._scratch:
            self._scratch.discard(name)
            shutil.rmtree(self.path / _SCRATCH / name, ignore_errors=True)


def _naive(table: pa.Table) -> pa.Table:
    """Timestamp columns with a time zone (Spark's UTC) as naive timestamps."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = table.column(i).cast(pa.timestamp(field.type.unit))
            table = table.set_column(i, field.name, naive)
    return table


def _parse_times(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    for key in ("started_at", "finished_at"):
        if isinstance(out.get(key), str):
            out[key] = dt.datetime.fromisoformat(out[key])
    return out
