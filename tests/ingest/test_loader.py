"""Ingest end to end on DuckDB: encodings, formats, quarantine rules, duplicates, atomicity."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from memberlens.exceptions import MappingError, SourceError
from memberlens.ingest import load
from memberlens.ingest.status import quarantine_rows, warehouse_status

DIRTY_ORDERS = """订单号,会员ID,下单时间,实付金额,订单状态
A1,m1,2024/1/5 10:00,"￥1,234.50",已支付
A2,m2,2024年1月6日,20,已退款
A2,m2,2024年1月6日,20,已退款
A3,m3,notadate,20,已支付
A4,,2024-01-07,20,已支付
A5,m1,2099-01-07,20,已支付
A6,m1,2024-01-07,-5,已支付
A7,m1,2024-01-07,5,weird
A1,m9,2024-01-08,5,已支付
A8,m2,1985-03-01,5,paid
A9,m2,2024-01-09,abc,paid
A10,m2,2024-01-09,-30,refunded
"""


def reconciles(report) -> bool:
    return (
        report.rows_read == report.rows_stored + report.rows_quarantined + report.duplicates_dropped
    )


def stored(project, sql):
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8", "utf-8-sig"])
def test_each_rule_once_in_any_encoding(project, tmp_path, write, encoding):
    src = write(tmp_path / "orders.csv", DIRTY_ORDERS, encoding)
    report = load("orders", src, project=project)
    assert (
        report.rows_read,
        report.rows_stored,
        report.rows_quarantined,
        report.duplicates_dropped,
    ) == (12, 3, 7, 2)
    assert report.by_rule == {
        "bad_date": 1,
        "bad_number": 1,
        "bad_value": 1,
        "date_in_future": 1,
        "date_too_old": 1,
        "duplicate_key": 1,
        "duplicate_line": 1,
        "missing_required": 1,
        "negative_amount": 1,
    }
    assert reconciles(report)
    rows = stored(
        project,
        "select order_id, member_id, ordered_at, amount, status from orders order by order_id",
    )
    assert [(r[0], r[1], str(r[2]), str(r[3]), r[4]) for r in rows] == [
        ("A1", "m1", "2024-01-05 10:00:00", "1234.50", "paid"),
        ("A10", "m2", "2024-01-09 00:00:00", "-30.00", "refunded"),
        ("A2", "m2", "2024-01-06 00:00:00", "20.00", "refunded"),
    ]


def test_quarantine_names_file_line_field_rule_and_fix(project, tmp_path, write):
    src = write(tmp_path / "orders.csv", DIRTY_ORDERS, "gbk")
    load("orders", src, project=project)
    rows = quarantine_rows("orders", project).to_pylist()
    by_line = {r["line"]: r for r in rows}
    assert by_line[5]["rule"] == "bad_date" and by_line[5]["field"] == "ordered_at"
    assert "notadate" in by_line[5]["reason"] and "fix:" in by_line[5]["reason"]
    assert by_line[6]["rule"] == "missing_required" and by_line[6]["field"] == "member_id"
    assert by_line[12]["rule"] == "bad_number" and by_line[12]["amount"] == "abc"
    assert all(r["source"].endswith("orders.csv") for r in rows)
    assert sorted(by_line) == [5, 6, 7, 8, 9, 11, 12]


def test_reload_is_idempotent_and_new_rows_add(project, tmp_path, write):
    first = write(
        tmp_path / "jan.csv",
        "order_id,member_id,ordered_at,amount\no1,m1,2024-01-01,10\no2,m2,2024-01-02,20\n",
    )
    assert load("orders", first, project=project).rows_stored == 2
    again = load("orders", first, project=project)
    assert again.already_loaded and again.rows_stored == 0 and reconciles(again)
    overlap = write(
        tmp_path / "feb.csv",
        "order_id,member_id,ordered_at,amount\no2,m2,2024-01-02,20\no3,m3,2024-02-01,30\n",
    )
    rep = load("orders", overlap, project=project)
    assert (rep.rows_stored, rep.by_rule) == (1, {"already_stored": 1})
    assert stored(project, "select count(*) from orders") == [(3,)]
    st = warehouse_status(project)
    orders = next(t for t in st.tables if t.table == "orders")
    assert (orders.rows_read, orders.rows_stored, orders.duplicates_dropped) == (4, 3, 1)
    assert orders.first_at.startswith("2024-01-01") and orders.last_at.startswith("2024-02-01")


def test_failed_load_leaves_warehouse_unchanged(project, tmp_path, write, monkeypatch):
    good = write(tmp_path / "a.csv", "order_id,member_id,ordered_at,amount\no1,m1,2024-01-01,10\n")
    load("orders", good, project=project)
    before = stored(project, "select * from orders order by 1")
    loads_before = stored(project, "select count(*) from _loads")

    from memberlens.ingest import loader

    def boom(*_a, **_k):  # an interruption after rows were inserted (e.g. Ctrl-C)
        raise KeyboardInterrupt

    monkeypatch.setattr(loader, "_insert_load_record", boom)
    more = write(tmp_path / "b.csv", "order_id,member_id,ordered_at,amount\no2,m1,2024-01-02,10\n")
    with pytest.raises(KeyboardInterrupt):
        load("orders", more, project=project)
    assert stored(project, "select * from orders order by 1") == before
    assert stored(project, "select count(*) from _loads") == loads_before
    assert stored(project, "select count(*) from _quarantine_orders") == [(0,)]


def test_orders_before_or_after_members_store_the_same_and_status_warns(project, tmp_path, write):
    """Unknown members do not depend on load order: orders are kept and linked when members
    arrive; status warns while many orders reference members that are not loaded."""
    from memberlens.project import init_project

    members = write(tmp_path / "members.csv", "会员编号,注册时间\nm1,2023-05-01\n")
    orders = write(
        tmp_path / "orders.csv",
        "order_id,member_id,ordered_at,amount\no1,m1,2024-01-01,10\no2,m404,2024-01-01,10\n",
    )
    load("members", members, project=project)
    first = load("orders", orders, project=project)
    other = init_project(tmp_path / "other", locale="en")
    second = load("orders", orders, project=other)
    load("members", members, project=other)
    assert first.rows_stored == second.rows_stored == 2 and first.by_rule == second.by_rule == {}
    assert stored(project, "select * exclude (_load_id) from orders order by 1") == stored(
        other, "select * exclude (_load_id) from orders order by 1"
    )
    st = warehouse_status(project)
    orders_status = next(t for t in st.tables if t.table == "orders")
    assert orders_status.unlinked_rows == 1
    assert len(st.warnings) == 1 and "1 of 2 rows reference members" in st.warnings[0]
    load("members", write(tmp_path / "more.csv", "会员编号\nm404\n"), project=project)
    assert warehouse_status(project).warnings == []


def test_pii_is_pseudonymised_and_masked(project, tmp_path, write):
    members = write(
        tmp_path / "members.csv",
        "member_id,phone,email\nm1,+86 138-1234-5678,Zhang.Wei@example.com\nm2,13812345678,\n",
    )
    load("members", members, project=project)
    rows = stored(
        project,
        "select member_id, phone, phone_masked, email, email_masked from members order by 1",
    )
    (m1, p1, pm1, e1, em1), (m2, p2, pm2, e2, em2) = rows
    assert pm1 == pm2 == "138****5678" and em1 == "z***@example.com"
    assert p1 == p2 and len(p1) == 32 and "5678" not in p1  # same person, same pseudonym
    assert e1 != "zhang.wei@example.com" and e2 is None
    raw = project.warehouse.read_bytes()
    assert b"13812345678" not in raw and b"Zhang.Wei" not in raw


def test_clear_pii_can_be_kept_by_setting(tmp_path, write):
    from memberlens.project import init_project

    proj = init_project(tmp_path / "p")
    text = proj.file.read_text().replace("keep_clear_pii = false", "keep_clear_pii = true")
    proj.file.write_text(text)
    from memberlens.project import Project

    proj = Project.load(proj.root)
    load("members", write(tmp_path / "m.csv", "member_id,phone\nm1,13812345678\n"), project=proj)
    assert stored(proj, "select phone, phone_masked from members") == [
        ("13812345678", "138****5678")
    ]


def test_excel_parquet_jsonl_and_sql_sources(project, tmp_path, write):
    frame = pd.DataFrame(
        {
            "会员ID": ["m1", "m2"],
            "支付时间": pd.to_datetime(["2024-03-01 09:30", "2024-03-02 00:00"]),
            "订单编号": ["x1", "x2"],
            "订单金额": [12.5, 30],
        }
    )
    frame.to_excel(tmp_path / "o.xlsx", index=False)
    rep = load("orders", tmp_path / "o.xlsx", project=project)
    assert rep.rows_stored == 2 and reconciles(rep)
    frame.assign(订单编号=["x3", "x4"]).to_parquet(tmp_path / "o.parquet")
    assert load("orders", tmp_path / "o.parquet", project=project).rows_stored == 2
    frame.assign(订单编号=["x5", "x6"], 支付时间=["2024-03-01", "2024-03-02"]).to_json(
        tmp_path / "o.jsonl", orient="records", lines=True, force_ascii=False
    )
    assert load("orders", tmp_path / "o.jsonl", project=project).rows_stored == 2
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    frame.assign(订单编号=["x7", "x8"]).to_sql("orders_export", sa.create_engine(url), index=False)
    rep = load("orders", url, sql_table="orders_export", project=project)
    assert rep.rows_stored == 2
    amounts = stored(project, "select order_id, ordered_at, amount from orders order by 1")
    assert [(a, str(b), str(c)) for a, b, c in amounts][:2] == [
        ("x1", "2024-03-01 09:30:00", "12.50"),
        ("x2", "2024-03-02 00:00:00", "30.00"),
    ]
    assert len(amounts) == 8


def test_bad_files_get_clear_errors(project, tmp_path, write):
    with pytest.raises(SourceError, match="no such file"):
        load("orders", tmp_path / "missing.csv", project=project)
    bad = write(
        tmp_path / "bad.csv", "order_id,member_id,ordered_at,amount\no1,m1,2024-01-01,1,2\n"
    )
    with pytest.raises(SourceError, match=r"bad.csv, line 2"):
        load("orders", bad, project=project)
    nocols = write(tmp_path / "x.csv", "foo,bar\n1,2\n")
    with pytest.raises(MappingError, match="member_id") as err:
        load("orders", nocols, project=project)
    assert "--write-mapping" in str(err.value)


def test_orders_without_order_id_get_generated_ids(project, tmp_path, write):
    src = write(
        tmp_path / "cd.csv",
        "customer_id,date,dollar_value\n0001,19970101,29.33\n0001,19970118,29.73\n",
    )
    rep = load("orders", src, project=project)
    assert rep.rows_stored == 2
    assert stored(
        project, "select order_id, str_split(order_id, ':')[2] from orders order by 1"
    ) == [("cd.csv:2", "2"), ("cd.csv:3", "3")]


def test_line_level_export_derives_orders_and_links_refunds(project, tmp_path, write):
    # Online-Retail style: invoices, C-prefixed cancellations, lines without a customer.
    src = write(
        tmp_path / "lines.csv",
        "\n".join(
            [
                "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
                "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",
                "536365,71053,LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom",
                "536366,22633,HAND WARMER,6,12/1/2010 8:28,1.85,,United Kingdom",
                "C536379,85123A,HEART,-2,12/13/2010 9:41,2.55,17850,United Kingdom",
                "536380,22633,HAND WARMER,1,12/13/2010 9:41,-1.85,17850,United Kingdom",
            ]
        )
        + "\n",
    )
    rep = load("order_items", src, project=project)
    assert rep.rows_stored == 4 and rep.by_rule == {"negative_amount": 1}
    assert rep.derived == {"orders": 3} and rep.anonymous_rows == 1
    rows = stored(
        project,
        "select order_id, member_id, ordered_at, amount, status, refund_of from orders order by 1",
    )
    assert [(a, b, str(c), str(d), e, f) for a, b, c, d, e, f in rows] == [
        ("536365", "17850", "2010-12-01 08:26:00", "35.64", "paid", None),
        ("536366", None, "2010-12-01 08:28:00", "11.10", "paid", None),
        ("C536379", "17850", "2010-12-13 09:41:00", "-5.10", "refunded", "536365"),
    ]
    st = {t.table: t for t in warehouse_status(project).tables}
    assert st["orders"].derived_rows == 3 and st["orders"].anonymous_rows == 1
    assert st["order_items"].anonymous_rows == 1
