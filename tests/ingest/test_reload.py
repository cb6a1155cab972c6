"""``memberlens ingest TABLE FILE --reload`` (issue 18, item 5): after a mapping fix, a file's
earlier load is replaced, stored and quarantined rows alike, in one transaction."""

from __future__ import annotations

import duckdb
import pytest

from memberlens.ingest import load
from memberlens.ingest.status import warehouse_status

ORDERS = """订单号,会员ID,下单时间,实付金额,订单状态
A1,m1,2024-01-05,10,交易完成
A2,m2,2024-01-06,20,已支付
A3,m3,2024-01-07,30,交易完成
A3,m3,2024-01-07,30,交易完成
"""


def stored(project, sql):
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


def reconciles(r) -> bool:
    return r.rows_read == r.rows_stored + r.rows_quarantined + r.duplicates_dropped


@pytest.fixture
def fixed_mapping(tmp_path):
    path = tmp_path / "orders.toml"
    path.write_text(
        'table = "orders"\n[columns]\norder_id = "订单号"\nmember_id = "会员ID"\n'
        'ordered_at = "下单时间"\namount = "实付金额"\nstatus = "订单状态"\n'
        '[values.status]\n"交易完成" = "paid"\n',
        encoding="utf-8",
    )
    return path


def test_reload_replaces_stored_and_quarantined_rows(project, tmp_path, write, fixed_mapping):
    src = write(tmp_path / "orders.csv", ORDERS)
    first = load("orders", src, project=project)
    assert first.by_rule == {"bad_value": 2, "duplicate_line": 1} and first.rows_stored == 1
    again = load("orders", src, project=project, mapping=fixed_mapping)
    assert again.already_loaded and again.rows_stored == 0  # without --reload: nothing stored
    rep = load("orders", src, project=project, mapping=fixed_mapping, reload=True)
    assert rep.replaces == (first.load_id,) and reconciles(rep)
    assert (rep.rows_stored, rep.rows_quarantined, rep.by_rule) == (3, 0, {"duplicate_line": 1})
    assert stored(project, "select order_id, status from orders order by 1") == [
        ("A1", "paid"),
        ("A2", "paid"),
        ("A3", "paid"),
    ]
    assert stored(project, "select count(*) from _quarantine_orders") == [(0,)]
    assert stored(project, "select load_id, replaces from _loads") == [(rep.load_id, first.load_id)]
    orders = next(t for t in warehouse_status(project).tables if t.table == "orders")
    assert (orders.rows_read, orders.rows_stored, orders.rows_quarantined) == (4, 3, 0)
    assert orders.rows_read == orders.rows_stored + orders.duplicates_dropped


def test_reload_keeps_other_files_and_fails_atomically(
    project, tmp_path, write, fixed_mapping, monkeypatch
):
    other = write(
        tmp_path / "other.csv", "order_id,member_id,ordered_at,amount\nB1,m9,2024-02-01,5\n"
    )
    load("orders", other, project=project)
    src = write(tmp_path / "orders.csv", ORDERS)
    first = load("orders", src, project=project)
    before = stored(project, "select * from orders order by 1")

    from memberlens.ingest import loader

    def boom(*_a, **_k):  # an interruption after the old rows were removed and new ones added
        raise KeyboardInterrupt

    monkeypatch.setattr(loader, "_insert_load_record", boom)
    with pytest.raises(KeyboardInterrupt):
        load("orders", src, project=project, mapping=fixed_mapping, reload=True)
    assert stored(project, "select * from orders order by 1") == before
    assert stored(project, "select count(*) from _quarantine_orders") == [(2,)]
    monkeypatch.undo()
    rep = load("orders", src, project=project, mapping=fixed_mapping, reload=True)
    assert rep.replaces == (first.load_id,)
    ids = [r[0] for r in stored(project, "select order_id from orders order by 1")]
    assert ids == ["A1", "A2", "A3", "B1"]


def test_reload_of_a_line_export_replaces_the_derived_orders(project, tmp_path, write):
    head = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
    src = write(tmp_path / "lines.csv", head + "1,A,2,2024-01-01,5,c1\n2,B,1,2024-01-02,-3,c2\n")
    first = load("order_items", src, project=project)
    assert first.by_rule == {"negative_amount": 1} and first.derived == {"orders": 1}
    src.write_text(head + "1,A,2,2024-01-01,5,c1\n2,B,1,2024-01-02,3,c2\n")  # corrected
    rep = load("order_items", src, project=project, reload=True)
    assert rep.replaces == (first.load_id,) and rep.derived == {"orders": 2}
    assert stored(project, "select order_id, amount from orders order by 1") == [
        ("1", pytest.approx(10)),
        ("2", pytest.approx(3)),
    ]
    assert stored(project, "select count(*) from order_items") == [(2,)]
