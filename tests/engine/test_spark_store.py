"""The same loads on a DuckDB project and on a PySpark (Parquet) project store the same rows."""

from __future__ import annotations

import pytest

from memberlens.engine.warehouse import open_warehouse
from memberlens.ingest import load
from memberlens.ingest.status import quarantine_rows, warehouse_status
from memberlens.project import init_project

pytestmark = pytest.mark.spark

ORDERS = """订单号,会员ID,下单时间,实付金额,订单状态
A1,m1,2024/1/5 10:00,"￥1,234.50",已支付
A2,m2,2024年1月6日,20,已退款
A2,m2,2024年1月6日,20,已退款
A3,m3,notadate,20,已支付
A1,m9,2024-01-08,5,已支付
A10,m2,2024-01-09,-30,refunded
A11,m2,2024-01-09,-30,paid
"""
LINES = """InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,6,12/1/2010 8:26,2.55,17850,United Kingdom
536365,71053,6,12/1/2010 8:26,3.39,17850,United Kingdom
536366,22633,6,12/1/2010 8:28,1.85,,United Kingdom
C536379,85123A,-2,12/13/2010 9:41,2.55,17850,United Kingdom
"""


def snapshot(project, table):
    with open_warehouse(project, read_only=True) as wh:
        t = wh.table(table)
        cols = [c for c in t.columns if c != "_load_id"]
        rows = t.select(*cols).to_pyarrow().to_pylist()
    return sorted(tuple((k, str(v)) for k, v in r.items()) for r in rows)


@pytest.fixture
def projects(tmp_path, spark_session):
    duck = init_project(tmp_path / "duck")
    spark = init_project(tmp_path / "spark", engine="pyspark")
    return duck, spark


def test_same_loads_same_warehouse(projects, tmp_path):
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (tmp_path / "lines.csv").write_text(LINES, encoding="utf-8")
    reports = {}
    for proj in projects:
        r1 = load("orders", tmp_path / "orders.csv", project=proj)
        r2 = load("order_items", tmp_path / "lines.csv", project=proj)
        r3 = load("orders", tmp_path / "orders.csv", project=proj)  # idempotent
        reports[proj.engine] = [
            (
                r.rows_read,
                r.rows_stored,
                r.rows_quarantined,
                r.duplicates_dropped,
                r.by_rule,
                r.derived,
                r.anonymous_rows,
                r.already_loaded,
            )
            for r in (r1, r2, r3)
        ]
    assert reports["duckdb"] == reports["pyspark"]
    assert reports["duckdb"][0][:4] == (7, 3, 2, 2)
    assert reports["duckdb"][1][5] == {"orders": 3}
    duck, spark = projects
    for table in ("orders", "order_items"):
        assert snapshot(duck, table) == snapshot(spark, table)
    st_d = {
        t.table: (
            t.rows_read,
            t.rows_stored,
            t.rows_quarantined,
            t.duplicates_dropped,
            t.anonymous_rows,
            t.derived_rows,
        )
        for t in warehouse_status(duck).tables
    }
    st_s = {
        t.table: (
            t.rows_read,
            t.rows_stored,
            t.rows_quarantined,
            t.duplicates_dropped,
            t.anonymous_rows,
            t.derived_rows,
        )
        for t in warehouse_status(spark).tables
    }
    assert st_d == st_s
    q = quarantine_rows("orders", spark).to_pylist()
    assert sorted((r["line"], r["rule"]) for r in q) == [(5, "bad_date"), (8, "negative_amount")]


def test_interrupted_spark_load_leaves_nothing_visible(projects, tmp_path, monkeypatch):
    _, spark = projects
    (tmp_path / "a.csv").write_text("order_id,member_id,ordered_at,amount\no1,m1,2024-01-01,1\n")
    load("orders", tmp_path / "a.csv", project=spark)
    before = snapshot(spark, "orders")
    from memberlens.ingest import loader

    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(loader, "_insert_load_record", boom)
    (tmp_path / "b.csv").write_text("order_id,member_id,ordered_at,amount\no2,m1,2024-01-02,1\n")
    with pytest.raises(KeyboardInterrupt):
        load("orders", tmp_path / "b.csv", project=spark)
    assert snapshot(spark, "orders") == before
    assert len(list((spark.warehouse / "orders").iterdir())) == 1  # the failed folder is gone
