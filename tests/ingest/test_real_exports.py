"""Inputs real shops have (issue 14): purchase logs without amounts, the headers of common CRM and
POS exports, a mapping file to fill in when a required column is missing, and the CRM tables
(extra member attributes, coupons and redemptions, campaign type, targets without a group).

Headers are those of public exports: dunnhumby "The Complete Journey" (transaction_data,
hh_demographic, campaign_desc, campaign_table, coupon, coupon_redempt), the UCI Online Retail
export, and Instacart's products file."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import duckdb
import pytest

from memberlens.exceptions import MappingError, SourceError
from memberlens.ingest import load, preview, propose_mapping
from memberlens.ingest.loader import NO_AMOUNT
from memberlens.schema import TABLES


def stored(project, sql):
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


@pytest.mark.parametrize(
    ("table", "header", "expected"),
    [
        (
            "order_items",
            "household_key,BASKET_ID,DAY,PRODUCT_ID,QUANTITY,SALES_VALUE,STORE_ID,RETAIL_DISC,"
            "TRANS_TIME,WEEK_NO,COUPON_DISC,COUPON_MATCH_DISC",
            {
                "member_id": "household_key",
                "order_id": "BASKET_ID",
                "product_id": "PRODUCT_ID",
                "quantity": "QUANTITY",
                "amount": "SALES_VALUE",
                "store_id": "STORE_ID",
                "discount": "RETAIL_DISC",
                "ordered_at": "DAY",
            },
        ),
        (
            "order_items",
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
            {
                "order_id": "InvoiceNo",
                "product_id": "StockCode",
                "product_name": "Description",
                "quantity": "Quantity",
                "ordered_at": "InvoiceDate",
                "unit_price": "UnitPrice",
                "member_id": "CustomerID",
                "country": "Country",
            },
        ),
        (
            "members",
            "AGE_DESC,MARITAL_STATUS_CODE,INCOME_DESC,HOMEOWNER_DESC,HH_COMP_DESC,"
            "HOUSEHOLD_SIZE_DESC,KID_CATEGORY_DESC,household_key",
            {
                "member_id": "household_key",
                "age_band": "AGE_DESC",
                "income_band": "INCOME_DESC",
                "household_size": "HOUSEHOLD_SIZE_DESC",
                "marital_status": "MARITAL_STATUS_CODE",
                "homeowner": "HOMEOWNER_DESC",
                "kids": "KID_CATEGORY_DESC",
            },
        ),
        (
            "campaigns",
            "DESCRIPTION,CAMPAIGN,START_DAY,END_DAY",
            {"campaign_id": "CAMPAIGN", "type": "DESCRIPTION"},
        ),
        (
            "campaign_members",
            "DESCRIPTION,household_key,CAMPAIGN",
            {"campaign_id": "CAMPAIGN", "member_id": "household_key"},
        ),
        (
            "coupons",
            "COUPON_UPC,PRODUCT_ID,CAMPAIGN",
            {"coupon_id": "COUPON_UPC", "product_id": "PRODUCT_ID", "campaign_id": "CAMPAIGN"},
        ),
        (
            "redemptions",
            "household_key,DAY,COUPON_UPC,CAMPAIGN",
            {"member_id": "household_key", "coupon_id": "COUPON_UPC", "campaign_id": "CAMPAIGN"},
        ),
        (
            "products",
            "product_id,product_name,aisle_id,department_id,aisle",
            {"product_id": "product_id", "name": "product_name", "category": "aisle"},
        ),
    ],
)
def test_headers_of_public_exports_map(table, header, expected):
    mapping = propose_mapping(header.split(","), TABLES[table])
    assert {k: v for k, v in mapping.columns.items() if k in expected} == expected
    missing = [f for f in TABLES[table].required if f not in mapping.columns]
    assert missing == []


def test_orders_without_amount_load_with_a_note(project, tmp_path, write):
    src = write(
        tmp_path / "log.csv", "order_id,user_id,order_date\n1,u1,2024-01-01\n2,u1,2024-02-01\n"
    )
    rep = load("orders", src, project=project)
    assert rep.rows_stored == 2 and rep.notes == (NO_AMOUNT,)
    assert stored(project, "select count(*), count(amount) from orders") == [(2, 0)]
    assert "value models" in stored(project, "select notes from _loads")[0][0]


def test_write_mapping_when_a_required_column_is_missing(project, tmp_path, write):
    src = write(tmp_path / "x.csv", "buyer_ref,when,total\nb1,2024-01-01,10\n")
    with pytest.raises(MappingError):
        preview("orders", src)
    pv = preview("orders", src, allow_missing=True)
    assert pv.missing == ("member_id", "ordered_at")
    out = tmp_path / "orders.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "memberlens", "ingest", "orders", src, "-p", project.root,
         "--dry-run", "--write-mapping", out],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == MappingError.exit_code and "--mapping" in proc.stderr
    text = out.read_text(encoding="utf-8")
    assert '# member_id = "..."' in text and 'amount = "total"' in text
    # the user fills it in as the file says, and the load works
    filled = text.replace('# member_id = "..."', 'member_id = "buyer_ref"').replace(
        '# ordered_at = "..."', 'ordered_at = "when"'
    )
    out.write_text(filled, encoding="utf-8")
    assert tomllib.loads(filled)["columns"]["member_id"] == "buyer_ref"
    assert load("orders", src, project=project, mapping=out).rows_stored == 1


def test_crm_tables_load(project, tmp_path, write):
    write(tmp_path / "hh.csv", "household_key,AGE_DESC,INCOME_DESC\n1,25-34,50-74K\n")
    rep = load("members", tmp_path / "hh.csv", project=project)
    assert rep.rows_stored == 1
    assert stored(project, "select age_band, income_band from members") == [("25-34", "50-74K")]
    write(tmp_path / "ct.csv", "DESCRIPTION,household_key,CAMPAIGN\nTypeA,1,18\nTypeB,1,19\n")
    assert load("campaign_members", tmp_path / "ct.csv", project=project).rows_stored == 2
    write(tmp_path / "cp.csv", "COUPON_UPC,PRODUCT_ID,CAMPAIGN\n10000085364,27160,9\n")
    assert load("coupons", tmp_path / "cp.csv", project=project).rows_stored == 1
    write(tmp_path / "cr.csv", "household_key,DAY,COUPON_UPC,CAMPAIGN\n1,421,10000085364,8\n")
    assert load("redemptions", tmp_path / "cr.csv", project=project).rows_stored == 1
    assert stored(project, "select member_id, coupon_id, campaign_id from redemptions") == [
        ("1", "10000085364", "8")
    ]


def test_a_warehouse_made_before_new_fields_gets_them(project, tmp_path, write):
    with duckdb.connect(str(project.warehouse)) as con:
        con.sql("create table members (member_id varchar, _load_id varchar)")
        con.sql("create table _quarantine_members (member_id varchar, _line bigint, _rule varchar,"
                " _field varchar, _reason varchar, _load_id varchar)")  # fmt: skip
    write(tmp_path / "m.csv", "member_id,age group\nm1,35-44\n")
    assert load("members", tmp_path / "m.csv", project=project).rows_stored == 1
    assert stored(project, "select member_id, age_band from members") == [("m1", "35-44")]


def test_gz_and_zip_sources_load_directly(project, tmp_path, write):
    import gzip
    import zipfile

    text = "order_id,member_id,ordered_at,amount\no1,m1,2024-01-01,10\no2,m2,2024-01-02,20\n"
    (tmp_path / "jan.csv.gz").write_bytes(gzip.compress(text.encode()))
    rep = load("orders", tmp_path / "jan.csv.gz", project=project)
    assert rep.rows_stored == 2 and rep.source.endswith("jan.csv.gz")
    assert load("orders", tmp_path / "jan.csv.gz", project=project).already_loaded
    with zipfile.ZipFile(tmp_path / "feb.zip", "w") as z:
        z.writestr("export/feb.csv", text.replace("o1", "o3").replace("o2", "o4"))
    assert load("orders", tmp_path / "feb.zip", project=project).rows_stored == 2
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as z:
        z.writestr("a.csv", text)
        z.writestr("b.csv", text)
    with pytest.raises(SourceError, match=r"two.zip: the archive holds 2 files"):
        load("orders", tmp_path / "two.zip", project=project)
    assert stored(project, "select count(*) from orders") == [(4,)]
    assert list(project.state_dir.joinpath("tmp").iterdir()) == []  # unpacked copies removed


def test_repeated_lines_are_kept_when_the_table_says_so(project, tmp_path, write):
    head = "order_id,product_id,quantity,unit_price\n"
    scans = head + "1,A,1,2.50\n1,A,1,2.50\n1,B,2,1.00\n"  # item A scanned twice
    rep = load("order_items", write(tmp_path / "a.csv", scans), project=project)
    assert rep.by_rule == {"duplicate_line": 1} and rep.rows_stored == 2
    # the lines carry no amount: the dropped one's is quantity x unit_price (issue 14)
    assert rep.duplicates_amount == pytest.approx(2.50)
    text = project.file.read_text() + "\n[ingest.order_items]\ndrop_duplicate_lines = false\n"
    project.file.write_text(text)
    from memberlens.project import Project

    keep = Project.load(project.root)
    rep = load(
        "order_items", write(tmp_path / "b.csv", scans.replace("\n1,", "\n2,")), project=keep
    )
    assert rep.by_rule == {} and rep.rows_stored == 3


def test_the_report_gives_the_amount_of_dropped_duplicates(project, tmp_path, write):
    src = write(
        tmp_path / "o.csv",
        "order_id,member_id,ordered_at,amount\n"
        "o1,m1,2024-01-01,10.50\no1,m1,2024-01-01,10.50\no2,m1,2024-01-02,3\no2,m1,2024-01-02,4\n",
    )
    rep = load("orders", src, project=project)
    assert rep.by_rule == {"duplicate_key": 1, "duplicate_line": 1}
    assert rep.duplicates_amount == pytest.approx(14.50)


@pytest.mark.parametrize("arrow", [False, True])
def test_times_with_a_zone_are_converted_to_the_project_time_zone(tmp_path, write, arrow):
    from memberlens.ingest.sources import read_source
    from memberlens.project import init_project

    proj = init_project(tmp_path / "cn", timezone="Asia/Shanghai")
    assert 'timezone = "Asia/Shanghai"' in proj.file.read_text()
    src = write(
        tmp_path / "o.csv",
        "order_id,member_id,ordered_at,amount\n"
        "o1,m1,2024-01-05T02:00:00Z,1\n"  # 10:00 in Shanghai (UTC+8, no summer time)
        "o2,m1,2024-01-05 10:00:00+08:00,1\n"
        "o3,m1,2024-01-05T10:30:00-05:00,1\n"  # 23:30 in Shanghai
        "o4,m1,2024-01-05 10:00,1\n"  # no zone: local already
        "o5,m1,2024-01-05T23:59:59+0530,1\n",  # 02:29:59 in Shanghai
    )
    rep = load("orders", read_source(src) if arrow else src, project=proj)
    assert rep.rows_stored == 5
    got = stored(proj, "select order_id, ordered_at from orders order by 1")
    assert [(a, str(b)) for a, b in got] == [
        ("o1", "2024-01-05 10:00:00"),
        ("o2", "2024-01-05 10:00:00"),
        ("o3", "2024-01-05 23:30:00"),
        ("o4", "2024-01-05 10:00:00"),
        ("o5", "2024-01-06 02:29:59"),
    ]


def test_a_new_project_takes_currency_and_locale_from_the_data(tmp_path, write):
    from memberlens.project import Project, init_project

    head = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    lines = head + "1,A,2,12/1/2010 8:26,2.55,17850,United Kingdom\n"
    lines += "2,B,1,12/1/2010 9:00,1.00,17851,United Kingdom\n"
    proj = init_project(tmp_path / "uk")  # neither --currency nor --locale
    assert (proj.currency, proj.locale) == ("CNY", "zh-CN")
    rep = load("order_items", write(tmp_path / "l.csv", lines), project=proj)
    assert any("currency GBP, locale en and time zone Europe/London" in n for n in rep.notes)
    again = Project.load(proj.root)
    assert (again.currency, again.locale, again.timezone) == ("GBP", "en", "Europe/London")
    # decided once: a later load with other countries changes nothing
    more = head + "3,A,1,12/2/2010 8:00,2.55,1,France\n"
    assert not load("order_items", write(tmp_path / "m.csv", more), project=again).notes
    assert Project.load(proj.root).currency == "GBP"
    # a user's choice is kept
    chosen = init_project(tmp_path / "cn", currency="CNY", locale="zh-CN")
    rep = load("order_items", write(tmp_path / "n.csv", lines), project=chosen)
    assert not rep.notes and Project.load(chosen.root).currency == "CNY"


@pytest.mark.parametrize(
    ("name", "text", "expected", "said"),
    [
        (  # no country, amounts written with £: a UK shop
            "pounds",
            "order_id,member_id,ordered_at,amount\no1,m1,2024-01-05,£12.50\no2,m2,2024-01-06,£3\n",
            ("GBP", "en", "Europe/London"),
            "taken from the data (amounts written with £)",
        ),
        (  # a CRM export in English, times in UTC (Z): the zone; currency and locale said defaults
            "crm",
            "household_key,BASKET_ID,date,SALES_VALUE\n"
            "1,b1,2024-01-05T10:00:00Z,2.5\n2,b2,2024-01-06T11:30:00Z,1.0\n",
            ("CNY", "zh-CN", "UTC"),
            "currency CNY and locale zh-CN are defaults",
        ),
        (  # English headers and nothing else: the defaults, said to be defaults
            "plain",
            "customer_id,date,dollar_value\n0001,1997-01-01,29.33\n",
            ("CNY", "zh-CN", "Asia/Shanghai"),
            "are defaults: the data show no country column, currency symbol or time zone",
        ),
        (  # Chinese headers: zh-CN and CNY stated, not silent
            "cn",
            "订单号,会员ID,下单时间,实付金额\no1,m1,2024-01-05 10:00:00,12.5\n",
            ("CNY", "zh-CN", "Asia/Shanghai"),
            "taken from the data (Chinese headers)",
        ),
    ],
)
def test_a_new_project_without_a_country_column_decides_on_other_evidence(
    tmp_path, write, name, text, expected, said
):
    # issue 14, "Defaults that hold": a CRM export without a country column used to keep
    # CNY / zh-CN silently
    from memberlens.ingest.regional import regional_summary
    from memberlens.project import Project, init_project

    proj = init_project(tmp_path / name)
    assert "defaults until the first load" in regional_summary(proj)["source"]
    rep = load("orders", write(tmp_path / f"{name}.csv", text), project=proj)
    note = next(n for n in rep.notes if "time zone" in n)
    assert said in note and "memberlens.toml" in note
    again = Project.load(proj.root)
    assert (again.currency, again.locale, again.timezone) == expected
    summary = regional_summary(again)
    assert not summary["from_data_pending"] and said in summary["source"]


def test_a_gz_export_is_read_by_duckdb_with_the_same_report_as_through_arrow(tmp_path, write):
    """A .gz is unpacked to scratch and read by DuckDB itself (the fast path), not into Arrow;
    the load report and the stored rows are those of the Arrow reader."""
    import gzip
    from dataclasses import replace

    from memberlens.ingest.loader import _source_and_mapping
    from memberlens.project import init_project

    text = (
        "member_id,ordered_at,amount\n"  # no order id: generated as <file>:<line>
        "m1,2024-01-01,10\nm1,2024-01-01,10\nm2,2024-01-02,x\nm2,2024-01-03,5.005\n"
    )
    gz = tmp_path / "log.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    fast, arrow = (
        init_project(tmp_path / "fast", locale="en"),
        init_project(tmp_path / "arrow", locale="en"),
    )
    (tmp_path / "scratch").mkdir()
    _, src, _ = _source_and_mapping("orders", gz, None, scan=True, unpack_dir=tmp_path / "scratch")
    assert src.table is None and src.label == str(gz)  # described: DuckDB reads the file
    _, in_arrow, _ = _source_and_mapping("orders", gz, None, scan=False)
    assert in_arrow.table is not None
    a = load("orders", gz, project=fast)
    b = load("orders", in_arrow, project=arrow)
    assert replace(a, load_id="") == replace(b, load_id="")
    assert a.by_rule == {"bad_number": 1} and a.rounded == {"amount": 1}
    sql = "select order_id, member_id, ordered_at, amount from orders order by 1"
    assert stored(fast, sql) == stored(arrow, sql)
    assert stored(fast, sql)[0][0] == "log.csv.gz:2"
    assert [p.name for p in (fast.state_dir / "tmp").iterdir()] == []  # unpacked copy removed


@pytest.mark.parametrize("arrow", [False, True])
def test_ids_written_as_floats_match_the_plain_ids_of_other_exports(
    project, tmp_path, write, arrow
):
    # the UCI Online Retail copy in "Spark: The Definitive Guide" writes CustomerID 17850.0
    from memberlens.ingest.sources import read_source

    lines = write(
        tmp_path / "lines.csv",
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
        "536366,22633,6,2010-12-01 08:28:00,1.85,,United Kingdom\n"
        "536367,84879,32,2010-12-01 08:34:00,1.69,13047.0,United Kingdom\n",
    )
    rep = load("order_items", read_source(lines) if arrow else lines, project=project)
    assert any("CustomerID: ids written as numbers with a zero fraction" in n for n in rep.notes)
    write(tmp_path / "m.csv", "member_id,registered_at\n17850,2010-01-01\n13047,2010-02-01\n")
    load("members", tmp_path / "m.csv", project=project)
    got = stored(
        project,
        "select o.member_id, m.member_id is not null from orders o "
        "left join members m using (member_id) where o.member_id is not null order by 1",
    )
    assert got == [("13047", True), ("17850", True)]
    # product codes that merely look numeric are left alone (not all written as floats)
    assert stored(project, "select product_id from order_items order by 1") == [
        ("22633",),
        ("84879",),
        ("85123A",),
    ]
