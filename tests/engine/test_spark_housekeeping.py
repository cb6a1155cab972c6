"""Spark warehouse housekeeping: retired mart folders are deleted once no reader can read them,
and ``memberlens ingest --reload`` replaces a file's earlier load on Spark as on DuckDB."""

from __future__ import annotations

import ibis
import pytest

from memberlens.engine.spark_store import SparkWarehouse
from memberlens.engine.warehouse import open_warehouse
from memberlens.ingest import load
from memberlens.ingest.status import warehouse_status
from memberlens.project import init_project

pytestmark = pytest.mark.spark

ORDERS = """订单号,会员ID,下单时间,实付金额,订单状态
A1,m1,2024-01-05,10,交易完成
A2,m2,2024-01-06,20,已支付
A3,m3,2024-01-07,30,交易完成
A3,m3,2024-01-07,30,交易完成
"""
MAPPING = (
    'table = "orders"\n[columns]\norder_id = "订单号"\nmember_id = "会员ID"\n'
    'ordered_at = "下单时间"\namount = "实付金额"\nstatus = "订单状态"\n'
    '[values.status]\n"交易完成" = "paid"\n'
)


def _folders(wh: SparkWarehouse, name: str) -> set[str]:
    return {p.name.split("=", 1)[1] for p in (wh.path / name).glob("load=*")}


def _replace(wh: SparkWarehouse, name: str, value: int, load_id: str) -> None:
    with wh.transaction():
        wh.replace(name, ibis.memtable({"v": [value]}), load_id)


def test_retired_mart_folders_are_deleted_after_the_next_replacement(tmp_path, spark_session):
    wh = SparkWarehouse(tmp_path / "warehouse", session=spark_session)
    _replace(wh, "mart_x", 1, "a")
    _replace(wh, "mart_x", 2, "b")
    # "a" was live until this commit: a reader that registered its views before may read it
    assert _folders(wh, "mart_x") == {"a", "b"}
    _replace(wh, "mart_y", 9, "y")  # another table's commit retires nothing of mart_x
    assert _folders(wh, "mart_x") == {"a", "b"}
    _replace(wh, "mart_x", 3, "c")
    assert _folders(wh, "mart_x") == {"b", "c"}  # "a" is read by nobody now
    assert wh.table("mart_x").to_pyarrow().column("v").to_pylist() == [3]
    assert wh.table("mart_y").to_pyarrow().column("v").to_pylist() == [9]
    # a reader opened now sees the same state
    reader = SparkWarehouse(tmp_path / "warehouse", session=spark_session, read_only=True)
    assert reader.fetch("SELECT v FROM mart_x") == [{"v": 3}]
    assert {"mart_x", "mart_y", "_loads"} <= reader.stored_tables()


def test_reload_replaces_the_earlier_load_on_spark(tmp_path, spark_session):
    project = init_project(tmp_path / "shop", locale="en", engine="pyspark")
    src = tmp_path / "orders.csv"
    src.write_text(ORDERS, encoding="utf-8")
    mapping = tmp_path / "orders.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    first = load("orders", src, project=project)
    assert first.by_rule == {"bad_value": 2, "duplicate_line": 1} and first.rows_stored == 1
    rep = load("orders", src, project=project, mapping=mapping, reload=True)
    assert rep.replaces == (first.load_id,)
    assert (rep.rows_stored, rep.rows_quarantined, rep.by_rule) == (3, 0, {"duplicate_line": 1})
    with open_warehouse(project, read_only=True) as wh:
        orders = wh.fetch("SELECT order_id, status FROM orders ORDER BY order_id")
        assert [(r["order_id"], r["status"]) for r in orders] == [
            ("A1", "paid"),
            ("A2", "paid"),
            ("A3", "paid"),
        ]
        assert wh.count("_quarantine_orders") == 0
        loads = wh.fetch("SELECT load_id, replaces FROM _loads")
        assert [(r["load_id"], r["replaces"]) for r in loads] == [(rep.load_id, first.load_id)]
    table = next(t for t in warehouse_status(project).tables if t.table == "orders")
    assert (table.rows_read, table.rows_stored, table.rows_quarantined) == (4, 3, 0)
    # the first load's folders stay while a reader may still read them, and go with the next
    # replacement of the table
    assert (project.warehouse / "orders" / f"load={first.load_id}").exists()
    again = load("orders", src, project=project, mapping=mapping, reload=True)
    assert again.replaces == (rep.load_id,)
    assert not (project.warehouse / "orders" / f"load={first.load_id}").exists()
    assert not (project.warehouse / "_quarantine_orders" / f"load={first.load_id}").exists()
    assert (project.warehouse / "orders" / f"load={rep.load_id}").exists()
    with open_warehouse(project, read_only=True) as wh:
        assert wh.count("orders") == 3
