"""Day numbers and HHMM clock times (dunnhumby "The Complete Journey": ``DAY`` 1..711,
``TRANS_TIME`` 1631) become dates at ingest, from ``[ingest] day_one``, the same whichever
reader reads the file (DuckDB itself, or Arrow)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from memberlens.exceptions import ConfigError, MappingError
from memberlens.ingest import load, propose_mapping
from memberlens.ingest.days import DEFAULT_DAY_ONE, day_sql, day_text
from memberlens.ingest.mapping import read_mapping
from memberlens.ingest.settings import day_one
from memberlens.project import Project
from memberlens.schema import TABLES

# the header of dunnhumby's transaction_data.csv (The Complete Journey user guide)
HEADER = (
    "household_key,BASKET_ID,DAY,PRODUCT_ID,QUANTITY,SALES_VALUE,STORE_ID,RETAIL_DISC,"
    "TRANS_TIME,WEEK_NO,COUPON_DISC,COUPON_MATCH_DISC\n"
)
ROWS = (
    "2375,26984851472,1,1004906,1,1.39,364,-0.6,1631,1,0,0\n"
    "2375,26984851472,1,1033142,1,0.82,364,0,1631,1,0,0\n"
    "1364,26984896261,1,842930,1,2.19,31742,0,1520,1,0,0\n"
    "1130,26984905972,2,833025,1,0.99,31642,-0.3,0040,1,0,0\n"
    "98,27008841762,32,1034957,1,2.99,324,0,915,5,0,0\n"
    "98,27021022215,711,5978656,2,6.00,324,0,2359,102,0,0\n"
)


def stored(project, sql):
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


def test_day_numbers_and_clock_times_as_text_the_same_in_arrow_and_sql():
    day = pa.array(["1", "711", None, "abc", "2", "3", "0", "12"])
    time = pa.array(["1631", "0040", "1200", "1200", None, "2561", "40", "7:05"])
    want = [
        "2000-01-01 16:31:00",
        "2001-12-11 00:40:00",  # 2000 is a leap year: day 711 = 2001-12-11
        None,
        "abc",  # not a day number: left as written, for the bad_date rule
        "2000-01-02",
        "3 2561",  # 25:61 is no clock time: left as written
        "1999-12-31 00:40:00",
        "2000-01-12 7:05",
    ]
    assert day_text(day, time, DEFAULT_DAY_ONE).to_pylist() == want
    t = pa.table({"d": day, "t": time})  # noqa: F841 (read by DuckDB below)
    sql = duckdb.sql(f"SELECT {day_sql('d', 't', DEFAULT_DAY_ONE)} FROM t").fetchall()
    assert [r[0] for r in sql] == want
    assert (dt.date(2000, 1, 1) + dt.timedelta(days=710)).isoformat() == "2001-12-11"


def test_the_complete_journey_header_maps_day_and_time():
    m = propose_mapping(HEADER.strip().split(","), TABLES["order_items"])
    assert m.columns["ordered_at"] == "DAY" and m.days == ("ordered_at",)
    assert m.times == {"ordered_at": "TRANS_TIME"} and "TRANS_TIME" not in m.unused
    camp = propose_mapping(["DESCRIPTION", "CAMPAIGN", "START_DAY", "END_DAY"], TABLES["campaigns"])
    assert camp.columns["starts_at"] == "START_DAY" and camp.days == ("starts_at", "ends_at")
    red = propose_mapping(["household_key", "DAY", "COUPON_UPC", "CAMPAIGN"], TABLES["redemptions"])
    assert red.days == ("redeemed_at",) and red.times == {}
    # a real date column is not a day number
    uci = propose_mapping(["InvoiceNo", "InvoiceDate", "CustomerID"], TABLES["order_items"])
    assert uci.days == () and uci.times == {}


@pytest.mark.parametrize("arrow", [False, True])
def test_a_transactions_export_loads_with_dates_and_a_note(project, tmp_path, write, arrow):
    from memberlens.ingest.sources import read_source

    src = write(
        tmp_path / "transaction_data.csv", HEADER + ROWS + "5,1,x9,1,1,1.00,1,0,1200,1,0,0\n"
    )
    rep = load("order_items", read_source(src) if arrow else src, project=project)
    assert rep.rows_stored == 6 and rep.by_rule == {"bad_date": 1}
    assert any("DAY (+ TRANS_TIME as HHMM) holds day numbers: day 1 is read as 2000-01-01" in n
               for n in rep.notes)  # fmt: skip
    got = stored(project, "select distinct order_id, ordered_at from orders order by 2")
    assert [(o, str(t)) for o, t in got] == [
        ("26984896261", "2000-01-01 15:20:00"),
        ("26984851472", "2000-01-01 16:31:00"),
        ("26984905972", "2000-01-02 00:40:00"),
        ("27008841762", "2000-02-01 09:15:00"),
        ("27021022215", "2001-12-11 23:59:00"),
    ]
    assert stored(project, "select _field, _reason like '%x9%' from _quarantine_order_items") == [
        ("ordered_at", True)
    ]


def test_day_one_is_a_setting(project, tmp_path, write):
    project.file.write_text(project.file.read_text() + "\n[ingest]\nday_one = 2019-03-04\n")
    proj = Project.load(project.root)
    assert day_one(proj) == dt.date(2019, 3, 4)
    src = write(tmp_path / "cr.csv", "household_key,DAY,COUPON_UPC,CAMPAIGN\n1,421,100,8\n")
    rep = load("redemptions", src, project=proj)
    assert "placeholder" not in " ".join(rep.notes)
    assert [str(v) for (v,) in stored(proj, "select redeemed_at from redemptions")] == [
        "2020-04-27 00:00:00"  # 2019-03-04 + 420 days
    ]
    proj.file.write_text(proj.file.read_text().replace("2019-03-04", '"the first day"'))
    with pytest.raises(ConfigError, match=r"day_one = 'the first day'; write the date of day 1"):
        load("redemptions", src, project=Project.load(project.root))


def test_a_mapping_file_names_day_numbers_and_clock_times(tmp_path, write):
    spec = TABLES["orders"]
    cols = ["basket", "hh", "d", "hhmm"]
    m = propose_mapping(cols, spec)
    assert m.days == ()
    path = write(
        tmp_path / "m.toml",
        'table = "orders"\n[columns]\norder_id = "basket"\nmember_id = "hh"\nordered_at = "d"\n'
        '[day_numbers]\nfields = ["ordered_at"]\n[time_of_day]\nordered_at = "hhmm"\n',
    )
    m = read_mapping(path, spec, cols)
    assert m.days == ("ordered_at",) and m.times == {"ordered_at": "hhmm"}
    assert read_mapping(write(tmp_path / "again.toml", m.to_toml()), spec, cols) == m.__class__(
        **{**m.__dict__, "origin": str(tmp_path / "again.toml")}
    )
    bad = path.read_text().replace('fields = ["ordered_at"]', 'fields = ["member_id"]')
    with pytest.raises(MappingError, match=r"\[day_numbers\] lists 'member_id'"):
        read_mapping(write(tmp_path / "bad.toml", bad), spec, cols)


def test_a_log_of_gaps_between_orders_says_why_it_cannot_load(project, tmp_path, write):
    # Instacart's orders.csv layout: no date, only the gap to the customer's previous order
    src = write(
        tmp_path / "orders.csv",
        "order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,"
        "days_since_prior_order\n2539329,1,prior,1,2,08,\n2398795,1,prior,2,3,07,15.0\n",
    )
    with pytest.raises(MappingError, match=r"'days_since_prior_order' gives only the gap"):
        load("orders", src, project=project)
