"""One declaration of each table's layout gives DuckDB's tables and the engines' schemas."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest

from memberlens.engine.layout import LOADS, RUNS, layout, layouts
from memberlens.engine.protocol import WarehouseProtocol, present_tables
from memberlens.engine.warehouse import Warehouse, open_warehouse
from memberlens.exceptions import MissingTableError
from memberlens.project import init_project
from memberlens.schema import TABLES


def test_every_table_is_declared_once():
    names = layouts()
    for spec in TABLES.values():
        assert spec.name in names and f"_quarantine_{spec.name}" in names
    assert {"_loads", "_runs", "mart_member_history", "mart_models"} <= set(names)
    assert layout("mart_members") is None  # its columns come from the step that writes it


@pytest.mark.parametrize("name", sorted(layouts()))
def test_duckdb_ddl_makes_the_declared_schema(name):
    declared = layout(name)
    con = ibis.duckdb.connect()
    con.raw_sql(declared.ddl())
    found = con.table(name).schema()
    assert list(found.names) == list(declared.column_names)
    assert {n: _plain(t) for n, t in found.items()} == {
        n: _plain(t) for n, t in declared.ibis_schema().items()
    }
    # rows built in Python with the Arrow schema go into the table unchanged
    empty = declared.arrow_schema().empty_table()
    con.insert(name, ibis.memtable(empty))
    con.disconnect()


def _plain(dtype):
    """The type without nullability and a timestamp's stored precision (DuckDB: microseconds)."""
    dtype = dtype.copy(nullable=True)
    return dtype.copy(scale=None) if dtype.is_timestamp() else dtype


def test_pii_fields_get_a_masked_column_and_money_is_decimal():
    members = layout("members")
    assert "phone_masked" in members.column_names
    assert layout("orders").ibis_schema()["amount"].is_decimal()
    assert layout("_quarantine_orders").ibis_schema()["amount"].is_string()


def test_duckdb_warehouse_implements_the_protocol(tmp_path):
    project = init_project(tmp_path / "p")
    with open_warehouse(project) as wh:
        assert isinstance(wh, WarehouseProtocol) and isinstance(wh, Warehouse)
        assert wh.engine == "duckdb"
        assert wh.has("_loads") and wh.has("_runs") and not wh.has("orders")
        with pytest.raises(MissingTableError, match="memberlens ingest orders"):
            wh.table("orders")
        assert present_tables(wh, ("orders", "_runs")).keys() == {"_runs"}
        row = {
            "run_id": "r1",
            "step": "summary",
            "as_of": dt.date(2024, 1, 31),
            "config_hash": "abc",
            "started_at": dt.datetime(2024, 2, 1, 8),
            "finished_at": dt.datetime(2024, 2, 1, 9),
            "rows_in": 3,
            "rows_out": 2,
            "status": "ok",
            "message": "",
        }
        with wh.transaction():
            wh.append_rows("_runs", pa.Table.from_pylist([row], schema=RUNS.arrow_schema()), "r1")
        assert wh.fetch("SELECT step, rows_out FROM _runs WHERE run_id = ?", ["r1"]) == [
            {"step": "summary", "rows_out": 2}
        ]
        scratch = wh.append_scratch("__s", pa.table({"x": [1, 2]}))
        wh.append_scratch("__s", pa.table({"x": [3]}))
        assert scratch.count().execute() == 3
        wh.drop_temp("__s")
        assert not wh.has("__s")
        wh.register_arrow("__a", pa.table({"x": [1]}))
        wh.drop_temp("__a")
        assert not wh.has("__a")
    assert LOADS.primary_key == "load_id"


def test_the_history_mart_layout_holds_the_pipeline_history_columns():
    from memberlens.engine.layout import MART_MEMBER_HISTORY
    from memberlens.pipeline.publish import HISTORY_COLUMNS

    assert MART_MEMBER_HISTORY.column_names == ("as_of", "run_id", "member_id", *HISTORY_COLUMNS)
