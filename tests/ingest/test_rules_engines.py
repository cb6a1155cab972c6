"""The ingest checks are Ibis expressions: DuckDB and PySpark must give identical results."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from memberlens.engine import register_arrow
from memberlens.ingest.mapping import propose_mapping
from memberlens.ingest.rules import Context, check, mark_key_duplicates, prepare
from memberlens.schema import TABLES

ROWS = {
    "订单号": ["A1", "A2", "A2", "A3", "A4", "A5", "A6", "A7", "A1", "A8", "A9", "A10", "A11"],
    "会员ID": ["m1", "m2", "m2", "m3", None, "m1", "m1", "m1", "m9", "m2", "m2", "m2", "m3"],
    "下单时间": [
        "2024/1/5 10:00",
        "2024年1月6日",
        "2024年1月6日",
        "notadate",
        "2024-01-07",
        "2099-01-07",
        "2024-01-07",
        "2024-01-07",
        "2024-01-08",
        "1985-03-01",
        "2024-01-09",
        "20240109",
        "2024-01-10T08:15:30",
    ],
    "实付金额": [
        "￥1,234.50",
        "20",
        "20",
        "20",
        "20",
        "20",
        "-5",
        "5",
        "5",
        "5",
        "abc",
        "-30",
        "7.5",
    ],
    "订单状态": [
        "已支付",
        "已退款",
        "已退款",
        "已支付",
        "已支付",
        "已支付",
        "已支付",
        "weird",
        "已支付",
        "paid",
        "paid",
        "refunded",
        None,
    ],
}
EXPECTED_RULES = {
    2: None,
    3: None,
    4: None,
    5: "bad_date",
    6: "missing_required",
    7: "date_in_future",
    8: "negative_amount",
    9: "bad_value",
    10: None,
    11: "date_too_old",
    12: "bad_number",
    13: None,
    14: None,
}


def run_checks(backend):
    raw = pa.table(ROWS).append_column(
        "_line", pa.array(range(2, 2 + len(ROWS["订单号"])), pa.int64())
    )
    spec = TABLES["orders"]
    prepared = prepare(raw, propose_mapping(list(ROWS), spec), spec)
    table = register_arrow(backend, "ingest_input", prepared)
    ctx = Context(load_time=dt.datetime(2026, 11, 1))
    checked = mark_key_duplicates(check(table, spec, ctx), spec, ctx)
    out = (
        checked.select(
            "_line", "_rule", "_field", "_dup", "__order_id", "__ordered_at", "__amount", "__status"
        )
        .order_by("_line")
        .to_pyarrow()
    )
    return {row["_line"]: row for row in out.to_pylist()}


def test_rules_give_the_expected_rule_per_line(backend):
    rows = run_checks(backend)
    assert {line: r["_rule"] for line, r in rows.items()} == EXPECTED_RULES
    assert {line: r["_dup"] for line, r in rows.items() if r["_dup"]} == {
        4: "duplicate_line",
        10: "duplicate_key",
    }
    assert str(rows[2]["__ordered_at"]) == "2024-01-05 10:00:00"
    assert str(rows[13]["__ordered_at"]) == "2024-01-09 00:00:00"
    assert str(rows[14]["__ordered_at"]) == "2024-01-10 08:15:30"
    assert float(rows[2]["__amount"]) == 1234.5
    assert rows[14]["__status"] == "paid" and rows[3]["__status"] == "refunded"  # default paid


def test_duckdb_and_spark_agree(spark_session):
    import ibis

    duck = run_checks(ibis.duckdb.connect())
    spark = run_checks(ibis.pyspark.connect(spark_session))
    assert duck == spark
