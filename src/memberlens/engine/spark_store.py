"""The warehouse on Spark: Parquet folders with a commit record per load, the same interface.

Layout under the project's ``warehouse/`` folder::

    <table>/load=<load id>/part-*.parquet      canonical rows stored by one load (or mart refresh)
    _quarantine_<table>/load=<load id>/...     rejected rows of that load
    _commits/<load id>.json                    the load's record; written last, atomically

A reader sees only folders whose load has a commit record, so a load that fails or is interrupted
half way leaves nothing visible (its folders are removed, or ignored and swept later). Marts are
replaced by a new ``load=`` folder plus a commit record that retires the older ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from memberlens.exceptions import MissingTableError
from memberlens.schema import IBIS_TYPES, TABLES, TableSpec

_COMMITS = "_commits"
_LOAD_COLUMNS = {
    "load_id": "string",
    "table_name": "string",
    "source": "string",
    "fingerprint": "string",
    "format": "string",
    "encoding": "string",
    "started_at": "timestamp",
    "finished_at": "timestamp",
    "rows_read": "int64",
    "rows_stored": "int64",
    "rows_quarantined": "int64",
    "duplicates_dropped": "int64",
    "anonymous_rows": "int64",
    "by_rule": "string",
    "mapping": "string",
    "derived": "string",
    "replaces": "string",
    "notes": "string",
}


def canonical_schema(spec: TableSpec) -> ibis.Schema:
    cols: dict[str, str] = {}
    for f in spec.fields:
        cols[f.name] = IBIS_TYPES[f.type]
        if f.pii:
            cols[f"{f.name}_masked"] = "string"
    cols["_load_id"] = "string"
    return ibis.schema(cols)


def quarantine_schema(spec: TableSpec) -> ibis.Schema:
    cols = {f.name: "string" for f in spec.fields}
    cols |= {
        "_line": "int64",
        "_rule": "string",
        "_field": "string",
        "_reason": "string",
        "_load_id": "string",
    }
    return ibis.schema(cols)


class SparkWarehouse:
    """Same methods as :class:`~memberlens.engine.warehouse.Warehouse`, on Spark and Parquet."""

    def __init__(self, path: str | Path, *, session=None, read_only: bool = False):
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
        self._schemas: dict[str, ibis.Schema] = {}
        for spec in TABLES.values():
            self._schemas[spec.name] = canonical_schema(spec)
            self._schemas[f"_quarantine_{spec.name}"] = quarantine_schema(spec)
        self._schemas["_loads"] = ibis.schema(_LOAD_COLUMNS)

    def __enter__(self) -> SparkWarehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """The Spark session stays up for the next call (it is costly to start)."""

    # -- commits ---------------------------------------------------------------------------------
    def _records(self) -> list[dict]:
        out = []
        for p in sorted((self.path / _COMMITS).glob("*.json")):
            out.append(json.loads(p.read_text(encoding="utf-8")))
        return out

    def _live_folders(self, name: str) -> list[Path]:
        records = self._records()
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
        self._writes: dict[str, list[str]] = {}
        self._retires: dict[str, list[str]] = {}
        self._record: dict | None = None
        try:
            yield
        except BaseException:
            for folder in self._pending:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        else:
            self._commit()
        finally:
            self._pending = None

    def _commit(self) -> None:
        load_ids = {lid for ids in self._writes.values() for lid in ids}
        record = dict(self._record or {})
        load_id = record.get("load_id") or (sorted(load_ids)[0] if load_ids else uuid.uuid4().hex)
        record["load_id"] = load_id
        record["writes"] = sorted(self._writes)
        record["retires"] = self._retires
        tmp = self.path / _COMMITS / f".{load_id}.json.tmp"
        tmp.write_text(json.dumps(record, default=str, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path / _COMMITS / f"{load_id}.json")

    # -- tables ----------------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        if name == "_loads":
            return True
        return bool(self._live_folders(name)) or name in self._schemas

    def table(self, name: str) -> ir.Table:
        if name == "_loads":
            rows = [_parse_times(r["load"]) for r in self._records() if "load" in r]
            schema = self._schemas["_loads"]
            data = (
                pa.Table.from_pylist(rows, schema=schema.to_pyarrow())
                if rows
                else schema.to_pyarrow().empty_table()
            )
            return _register(self.con, "_loads", data)
        folders = self._live_folders(name)
        if not folders:
            if name in self._schemas:
                return _register(self.con, name, self._schemas[name].to_pyarrow().empty_table())
            raise MissingTableError(f"table {name!r} is not in the warehouse {self.path}")
        view = f"wh_{name}"
        df = self.session.read.parquet(*[str(f) for f in folders])
        df.createOrReplaceTempView(view)
        return self.con.table(view)

    def count(self, name: str) -> int:
        return int(self.table(name).count().execute()) if self._live_folders(name) else 0

    def ensure(self, spec: TableSpec) -> None:
        """Nothing to create: an empty table is its schema until the first load."""

    def canonical_tables(self) -> list[str]:
        return [t for t in TABLES if self._live_folders(t)]

    def append(self, name: str, expr: ir.Table, load_id: str) -> None:
        folder = self.path / name / f"load={load_id}"
        self._pending.append(folder)
        df = self.session.sql(self.con.compile(expr))
        df.write.mode("overwrite").parquet(str(folder))
        self._writes.setdefault(name, []).append(load_id)

    def record_load(self, record: dict) -> None:
        self._record = {"load_id": record["load_id"], "load": record}

    def replace(self, name: str, expr: ir.Table, load_id: str | None = None) -> None:
        load_id = load_id or uuid.uuid4().hex
        old = [f.name.split("=", 1)[1] for f in self._live_folders(name)]
        self.append(name, expr, load_id)
        self._retires[name] = old

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        df = self.session.sql(self.con.compile(expr)).localCheckpoint()
        df.createOrReplaceTempView(name)
        return self.con.table(name)

    def drop_temp(self, name: str) -> None:
        self.session.catalog.dropTempView(name)


def _parse_times(record: dict) -> dict:
    import datetime as dt

    out = dict(record)
    for key in ("started_at", "finished_at"):
        if isinstance(out.get(key), str):
            out[key] = dt.datetime.fromisoformat(out[key])
    return out


def _register(con, name: str, data: pa.Table) -> ir.Table:
    from memberlens.engine import register_arrow

    return register_arrow(con, name, data)
