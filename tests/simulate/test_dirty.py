"""Dirty mode: the defects found in the written CSV files, counted here independently with the
csv module and the rules of the ingest issue (quarantine rules in order, then duplicates), match
``truth/dirty.json`` exactly (reference: the simulator's own truth file)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from decimal import Decimal, InvalidOperation

import pyarrow.parquet as pq

from memberlens.schema import GENDER, ORDER_STATUS

STATUS = {s.lower(): canon for canon, spellings in ORDER_STATUS.items() for s in spellings}
NOW = dt.datetime.now()


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def _count(rows, header, required, key, rules) -> Counter:
    """Exact duplicate lines, then the first failing rule, then repeated keys among valid rows."""
    counts, seen_lines, seen_keys = Counter(rows=len(rows)), set(), set()
    col = {h: i for i, h in enumerate(header)}
    for row in rows:
        line = tuple(row)
        if line in seen_lines:
            counts["duplicate_line"] += 1
            continue
        seen_lines.add(line)
        checks = [("missing_required", lambda r, c: any(r[c[f]] == "" for f in required)), *rules]
        rule = next((name for name, test in checks if test(row, col)), None)  # lazy: in order
        if rule:
            counts[rule] += 1
        elif row[col[key]] in seen_keys:
            counts["duplicate_key"] += 1
        else:
            seen_keys.add(row[col[key]])
    return counts


def _read(path, encoding):
    with open(path, encoding=encoding, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_members_export_defects_match_truth(small_shop):
    out, report = small_shop
    raw = (out / "dirty" / "members.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    header, rows = _read(out / "dirty" / "members.csv", "utf-8-sig")
    assert header[:4] == ["会员ID", "注册时间", "生日", "性别"]
    rules = [
        ("bad_date", lambda r, c: _time(r[c["注册时间"]]) is None),
        ("date_too_old", lambda r, c: _time(r[c["注册时间"]]) < dt.datetime(1990, 1, 1)),
        ("date_in_future", lambda r, c: _time(r[c["注册时间"]]) > NOW),
    ]
    counts = _count(rows, header, ["会员ID"], "会员ID", rules)
    truth = json.loads((out / "truth" / "dirty.json").read_text(encoding="utf-8"))["members"]
    assert dict(counts) == {k: v for k, v in truth.items() if v}
    assert truth["rows"] == report.rows["members"] + sum(v for k, v in truth.items() if k != "rows")
    genders = {r[header.index("性别")] for r in rows}
    assert genders <= {s for spellings in GENDER.values() for s in spellings}


def test_orders_export_defects_match_truth(small_shop):
    out, report = small_shop
    header, rows = _read(out / "dirty" / "orders.csv", "gbk")  # decodes only if GBK
    assert header[:5] == ["订单号", "会员ID", "下单时间", "实付金额", "订单状态"]
    m_header, m_rows = _read(out / "dirty" / "members.csv", "utf-8-sig")
    known = set(
        pq.read_table(out / "members.parquet", columns=["member_id"])
        .column("member_id")
        .to_pylist()
    )
    assert {r[0] for r in m_rows if r[0].startswith("M8")} == set()

    def status(r, c):
        return STATUS.get(r[c["订单状态"]].lower())

    rules = [
        ("bad_number", lambda r, c: _number(r[c["实付金额"]]) is None),
        ("bad_date", lambda r, c: _time(r[c["下单时间"]]) is None),
        ("bad_value", lambda r, c: status(r, c) is None),
        ("date_too_old", lambda r, c: _time(r[c["下单时间"]]) < dt.datetime(1990, 1, 1)),
        ("date_in_future", lambda r, c: _time(r[c["下单时间"]]) > NOW),
        (
            "negative_amount",
            lambda r, c: _number(r[c["实付金额"]]) < 0 and status(r, c) != "refunded",
        ),
        ("unknown_member", lambda r, c: r[c["会员ID"]] not in known),
    ]
    counts = _count(rows, header, ["订单号", "会员ID", "下单时间", "实付金额"], "订单号", rules)
    truth = json.loads((out / "truth" / "dirty.json").read_text(encoding="utf-8"))["orders"]
    assert dict(counts) == {k: v for k, v in truth.items() if v}
    assert all(truth[rule] > 0 for rule in ("duplicate_line", "bad_date", "unknown_member"))
    assert truth["rows"] == report.rows["orders"] + sum(v for k, v in truth.items() if k != "rows")


def test_clean_rows_of_the_export_are_the_parquet_table(small_shop):
    """Keeping the first occurrence of each valid key gives back orders.parquet exactly."""
    out, _ = small_shop
    header, rows = _read(out / "dirty" / "orders.csv", "gbk")
    clean = pq.read_table(out / "orders.parquet").to_pandas()
    first = {}
    for r in rows:
        first.setdefault(r[0], r)
    zh = {"paid": "已支付", "refunded": "已退款", "cancelled": "已取消"}
    for o in clean.sample(300, random_state=0).itertuples():
        r = first[o.order_id]
        assert (r[1], r[2], Decimal(r[3]), r[4]) == (
            o.member_id,
            o.ordered_at.strftime("%Y-%m-%d %H:%M:%S"),
            o.amount,
            zh[o.status],
        )
