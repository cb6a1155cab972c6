"""DuckDB reads CSV and Parquet files itself (the fast path); every other source, and every source
on Spark, goes through Arrow (``read_source`` + ``prepare``). Reference: the Arrow path, whose
results tests/ingest/test_loader.py checks by hand. Both must store the same rows and quarantine
the same lines with the same rule, field and reason, byte for byte."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memberlens.ingest import load
from memberlens.ingest.sources import read_source
from memberlens.project import init_project

# Awkward but real spellings: white space of several kinds (tab, NBSP, ideographic space), dates
# as Chinese exports write them, day-first a/b/YYYY dates, currency signs and separators, an
# empty line, repeated lines and keys (also repeated only after trimming), a column not mapped.
TRICKY = (
    "\n".join(
        [
            "订单号,会员ID,下单时间,实付金额,订单状态,备注",
            ' A1 ,m1,2024/1/5 10:00,"￥1,234.50",已支付,x',
            "A2,\tm2,2024年1月6日,$20,已退款,",
            'A1,m1,2024/1/5 10:00,"￥1,234.50",已支付,y',
            "A3,m3\u3000,20240107,1 000,Paid,",
            "A4,m4,2024.01.08,RMB30,\xa0refunded\xa0,",
            "A5,m5,2024-01-09T08:15:30,-5,paid,",
            "A6,m6,13/01/2024,7.5,已支付,",
            "A7,m7,2/1/2024 9:05,  8 ,已支付,",
            "A8,\u3000 ,2024-01-10,9,已支付,",
            "A9,m9,2024-01-10  10:00,abc,weird,",
            "A10,m10,notadate,10,,",
            "A11,m11,1985-03-01,11,已取消,",
            "A12,m12,2099-01-01,12,已支付,",
            "A13,m13,2024-01-11,1e3,已支付,",
            "A2,m2,2024-01-12,20,已退款,",
            "",
            "A14,m14,2024-01-11,-30,refunded,",
        ]
    )
    + "\n"
)


def snapshot(project, table):
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        cols = [r[0] for r in con.sql(f"describe {table}").fetchall() if r[0] != "_load_id"]
        rows = con.sql(f"select {', '.join(cols)} from {table} order by all").fetchall()
    return cols, rows


def report_of(r):
    return (
        r.rows_read,
        r.rows_stored,
        r.rows_quarantined,
        r.duplicates_dropped,
        r.by_rule,
        r.derived,
        r.anonymous_rows,
    )


def both_ways(tmp_path, table, path, **kw):
    """Load ``path`` into fresh projects through DuckDB's reader and through Arrow."""
    fast = init_project(tmp_path / "fast", locale="en")
    arrow = init_project(tmp_path / "arrow", locale="en")
    arrow.state_dir.joinpath("secret.key").write_bytes(fast.secret())  # the same pseudonyms
    r_fast = load(table, path, project=fast, **kw)
    r_arrow = load(table, read_source(path), project=arrow, **kw)
    return (fast, r_fast), (arrow, r_arrow)


def assert_same(fast, arrow, tables):
    for t in tables:
        assert snapshot(fast, t) == snapshot(arrow, t), t
        assert snapshot(fast, f"_quarantine_{t}") == snapshot(arrow, f"_quarantine_{t}"), t


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_read_by_duckdb_equals_arrow(tmp_path, encoding):
    path = tmp_path / "orders.csv"
    path.write_bytes(TRICKY.encode(encoding))
    (fast, r_fast), (arrow, r_arrow) = both_ways(tmp_path, "orders", path)
    assert report_of(r_fast) == report_of(r_arrow)
    assert_same(fast, arrow, ["orders"])
    # the file's own truth, counted by hand from TRICKY (16 data lines)
    assert r_fast.by_rule == {
        "bad_date": 1,
        "bad_number": 1,
        "date_in_future": 1,
        "date_too_old": 1,
        "duplicate_key": 1,
        "duplicate_line": 1,
        "missing_required": 1,
        "negative_amount": 1,
    }
    _, rows = snapshot(fast, "orders")
    by_id = {r[0]: r for r in rows}
    assert str(by_id["A1"][2]) == "2024-01-05 10:00:00" and str(by_id["A1"][3]) == "1234.50"
    assert by_id["A2"][1] == "m2" and by_id["A3"][1] == "m3"  # tab and U+3000 trimmed
    assert str(by_id["A3"][2]) == "2024-01-07 00:00:00" and str(by_id["A3"][3]) == "1000.00"
    assert by_id["A4"][4] == "refunded"  # NBSP around a status
    # one a/b/YYYY date has a first part above 12: the file is day first
    assert str(by_id["A6"][2]) == "2024-01-13 00:00:00"
    assert str(by_id["A7"][2]) == "2024-01-02 09:05:00" and str(by_id["A7"][3]) == "8.00"
    assert (r_fast.rows_read, r_fast.rows_stored) == (16, 8) and "A14" in by_id
    q = {r[-4]: r for r in snapshot(fast, "_quarantine_orders")[1]}  # by _line
    assert q[10][-3:] == (
        "missing_required",
        "member_id",
        "member_id=: a required field is empty; fix: fill the field in the source, or drop the row",
    )
    assert [q[n][-3] for n in (7, 11, 12, 13, 14)] == [
        "negative_amount",
        "bad_number",
        "bad_date",
        "date_too_old",
        "date_in_future",
    ]
    assert q[11][2] == "2024-01-10  10:00" and q[11][-1].startswith("amount=abc: not a number")


def test_parquet_read_by_duckdb_equals_arrow(tmp_path):
    ts = [
        dt.datetime(2024, 3, 1, 9, 30),
        dt.datetime(2099, 1, 1),
        None,
        dt.datetime(2024, 3, 2, 0, 0, 1, 500000),
        dt.datetime(2024, 3, 1, 9, 30),
    ]
    part = pa.table(
        {
            "order_id": ["p1", "p2", "p3", "p4", "p1"],
            "customer_id": pa.array([17850, 17851, 17852, None, 17850], pa.int64()),
            "order date": pa.array(ts, pa.timestamp("us")),
            "total": pa.array([12.5, 3.0, -1.25, 4.0, 12.5]),
            "status": [" paid", "refund", "void", "paid", " paid"],
        }
    )
    folder = tmp_path / "export"
    folder.mkdir()
    pq.write_table(part, folder / "part-0.parquet")
    second = part.slice(0, 2).set_column(0, "order_id", pa.array(["p5", "p6"]))
    pq.write_table(second, folder / "part-1.parquet")
    (fast, r_fast), (arrow, r_arrow) = both_ways(tmp_path, "orders", folder)
    assert report_of(r_fast) == report_of(r_arrow)
    assert_same(fast, arrow, ["orders"])
    assert (r_fast.rows_read, r_fast.rows_stored) == (7, 2)
    assert r_fast.by_rule == {"date_in_future": 2, "duplicate_line": 1, "missing_required": 2}
    _, q = snapshot(fast, "_quarantine_orders")
    assert sorted(r[-4] for r in q) == [2, 3, 4, 7]  # lines number the parts in order
    # one file, without an order id (ids are generated from the row number): the same again
    single = tmp_path / "single.parquet"
    pq.write_table(part.drop_columns(["order_id"]), single)
    (fast, r_fast), (arrow, r_arrow) = both_ways(tmp_path / "one", "orders", single)
    assert report_of(r_fast) == report_of(r_arrow) and r_fast.rows_stored == 2
    assert_same(fast, arrow, ["orders"])
    assert [r[0] for r in snapshot(fast, "orders")[1]] == ["single.parquet:1", "single.parquet:5"]


def test_personal_data_read_by_duckdb_equals_arrow(tmp_path):
    path = tmp_path / "members.csv"
    path.write_text(
        "会员编号,注册时间,手机号,邮箱,姓名\n"
        "m1,2023-05-01,+86 138-1234-5678,Zhang.Wei@Example.com,张伟\n"
        "m2,2023-05-02, 13912345678 ,,李娜\n"
        "m3,2023-05-03,,li@example.com,\n",
        encoding="utf-8",
    )
    (fast, r_fast), (arrow, r_arrow) = both_ways(tmp_path, "members", path)
    assert report_of(r_fast) == report_of(r_arrow) and r_fast.rows_stored == 3
    assert_same(fast, arrow, ["members"])
    with duckdb.connect(str(fast.warehouse), read_only=True) as con:
        rows = con.sql(
            "select phone, phone_masked, email_masked, name_masked from members order by member_id"
        ).fetchall()
    assert [r[1:] for r in rows] == [
        ("138****5678", "z***@example.com", "张**"),
        ("139****5678", None, "李**"),
        (None, "l***@example.com", None),
    ]
    assert len(rows[0][0]) == 32
    raw = fast.warehouse.read_bytes()
    assert b"13812345678" not in raw and "张伟".encode() not in raw


def test_identities_and_line_level_read_by_duckdb_equal_arrow(tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text(
        "member_id,id_type,id_value\nm1,phone,138 1234 5678\nm1,email,A@B.com\n"
        "m2,device,dev-1\nm2,phone,138 1234 5678\n",
        encoding="utf-8",
    )
    (fast, r_fast), (arrow, r_arrow) = both_ways(tmp_path / "i", "identities", ids)
    assert report_of(r_fast) == report_of(r_arrow) == (4, 3, 0, 1, {"duplicate_key": 1}, {}, 0)
    assert_same(fast, arrow, ["identities"])
    lines = tmp_path / "lines.csv"
    lines.write_text(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
        "536365,71053,6,12/1/2010 8:26,3.39,17850,United Kingdom\n"
        "536366,22633,6,12/1/2010 8:28,1.85,,United Kingdom\n"
        "536366,22633,6,12/1/2010 8:28,1.85,,United Kingdom\n"
        "C536379,85123A,-2,12/13/2010 9:41,2.55,17850,United Kingdom\n",
        encoding="utf-8",
    )
    (fast, r_fast), (arrow, r_arrow) = both_ways(tmp_path / "l", "order_items", lines)
    assert report_of(r_fast) == report_of(r_arrow)
    assert (r_fast.rows_stored, r_fast.by_rule, r_fast.derived) == (
        4,
        {"duplicate_line": 1},
        {"orders": 3},
    )
    assert_same(fast, arrow, ["order_items", "orders"])


def test_undecodable_gbk_names_the_line(tmp_path):
    from memberlens.exceptions import SourceError

    path = tmp_path / "o.csv"
    good = "订单号,会员ID,下单时间,实付金额\n" + "".join(
        f"A{i},m{i},2024-01-05,{i}\n" for i in range(60_000)
    )
    path.write_bytes(good.encode("gbk") + b"A_bad,m\x81\xff,2024-01-05,1\n")
    project = init_project(tmp_path / "p", locale="en")
    with pytest.raises(SourceError, match=r"o.csv, line 60002: cannot decode as gb18030"):
        load("orders", path, project=project)
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        assert con.sql("select count(*) from orders").fetchone() == (0,)


def test_duckdb_text_cleaning_equals_arrow_trim():
    """The SQL that trims text in DuckDB against Arrow's ``utf8_trim_whitespace`` (the reference
    the Arrow path uses), for every character up to U+3100 alone, leading, trailing, inside."""
    import pyarrow.compute as pc

    from memberlens.ingest.duckdb_reader import ASCII_WS, sql_clean_text

    values = [None, "", " ", "  ", "a", "ab", "a b"]
    for code in [*range(1, 0x3100), 0xFEFF, 0xFFFD, 0x1F600]:
        ch = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        values += [ch, f"x{ch}", f"{ch}x", f"x{ch}y", f"{ch}{ch}x{ch}", f"张{ch}"]
    con = duckdb.connect()

    def cleaned(vals, **kw):
        con.register("v", pa.table({"i": range(len(vals)), "c": pa.array(vals, pa.string())}))
        sql = f"SELECT {sql_clean_text('c', **kw)} FROM v ORDER BY i"
        return [r[0] for r in con.execute(sql).fetchall()]

    def arrow(vals):
        return [
            None if v in (None, "") else v
            for v in pc.utf8_trim_whitespace(pa.array(vals, pa.string())).to_pylist()
        ]

    assert cleaned(values) == arrow(values)
    # the narrower SQL for a file without tabs, carriage returns or rarer controls, and for one
    # that is pure ASCII too: exact for every value such a file can hold
    no_rare = [
        v for v in values if v is None or not any(ch in ASCII_WS and ch not in " \n" for ch in v)
    ]
    assert len(no_rare) > 70_000 and cleaned(no_rare, ascii_ws=" \n") == arrow(no_rare)
    pure = [v for v in no_rare if v is None or v.isascii()]
    assert cleaned(pure, ascii_ws=" \n", non_ascii=False) == arrow(pure)


def test_text_profile_finds_what_a_file_can_hold(tmp_path):
    from memberlens.ingest.duckdb_reader import text_profile

    cases = {
        "a,b\nx ,y\n": (" \n", True),
        "a,b\r\nx,y\r\n": (" \n\r", True),
        "a\tb\nx\ty\n": (" \n\t", True),
        "a,b\nx,y\u3000\n": (" \n", False),
        "a,b\nx\x1f,é\x0b\n": (" \n\x0b\x1f", False),
    }
    for i, (text, expected) in enumerate(cases.items()):
        path = tmp_path / f"{i}.csv"
        path.write_bytes(text.encode("utf-8"))
        assert text_profile(path) == expected, text


def test_mixed_line_endings_fall_back_to_arrow(tmp_path):
    """DuckDB's CSV reader refuses a file mixing CRLF and LF line ends; Arrow reads it, and the
    load goes through Arrow with the same result (the reference: the same lines with LF only)."""
    lines = [
        "order_id,member_id,ordered_at,amount",
        "o1,m1,2024-01-01,10",
        "o2,m2,2024-01-02,x",
        "o3,m3,2024-01-03,30",
        "o4,m4,2024-01-04,40",
    ]
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(("\r\n".join(lines[:3]) + "\n" + "\r\n".join(lines[3:]) + "\n").encode())
    clean = tmp_path / "lf.csv"
    clean.write_text("\n".join(lines) + "\n", encoding="utf-8")
    a = init_project(tmp_path / "a", locale="en")
    b = init_project(tmp_path / "b", locale="en")
    assert report_of(load("orders", mixed, project=a)) == report_of(
        load("orders", clean, project=b)
    )
    assert_same(a, b, ["orders"])
    assert snapshot(a, "_quarantine_orders")[1][0][-4:-2] == (3, "bad_number")
