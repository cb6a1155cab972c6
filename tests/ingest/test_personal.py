"""Desensitisation beyond masking (issue 15, item 13): birthday, city and gender are not stored in
clear by default; birth month and day (birthday campaigns), an age band and the province are."""

from __future__ import annotations

import datetime as dt

import duckdb

from memberlens.ingest import load
from memberlens.ingest.status import quarantine_rows
from memberlens.project import Project

MEMBERS = (
    "会员编号,生日,性别,省份,城市\n"
    "m1,1990-03-15,女,浙江省,杭州市\n"
    "m2,2010-12-31,男,广东省,深圳市\n"
    "m3,1990-02-30,男,江苏省,苏州市\n"  # not a date: quarantined, its birthday shown
)


def stored(project, sql):
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((born.month, born.day) > (day.month, day.day))


def band(age: int) -> str:
    # ten-year bands from 25 as in CRM exports (dunnhumby AGE_DESC: 25-34 ... 65+), 18-24 and <18
    bounds = [(65, "65+"), (55, "55-64"), (45, "45-54"), (35, "35-44"), (25, "25-34")]
    return next((label for low, label in bounds if age >= low), "18-24" if age >= 18 else "<18")


def with_text(project, extra: str) -> Project:
    project.file.write_text(project.file.read_text() + extra)
    return Project.load(project.root)


def test_birthday_city_and_gender_are_generalised_by_default(project, tmp_path, write):
    load("members", write(tmp_path / "m.csv", MEMBERS), project=project)
    today = dt.date.today()
    rows = stored(
        project,
        "select member_id, birthday, birth_month, birth_day, age_band, gender, province, city "
        "from members order by 1",
    )
    assert rows == [
        ("m1", None, 3, 15, band(age_on(dt.date(1990, 3, 15), today)), None, "浙江省", None),
        ("m2", None, 12, 31, band(age_on(dt.date(2010, 12, 31), today)), None, "广东省", None),
    ]
    raw = project.warehouse.read_bytes()
    assert "杭州市".encode() not in raw and "深圳市".encode() not in raw
    (bad,) = quarantine_rows("members", project).to_pylist()
    assert bad["field"] == "birthday" and bad["birthday"] == "1990-02-30"
    assert bad["city"] is None and bad["gender"] is None and bad["province"] == "江苏省"


def test_clear_values_are_kept_on_request(project, tmp_path, write):
    keep = with_text(project, "\n[ingest]\ngeneralise = ['birthday']\n")
    load("members", write(tmp_path / "m.csv", MEMBERS), project=keep)
    assert stored(keep, "select gender, city, birthday from members order by member_id") == [
        ("F", "杭州市", None),
        ("M", "深圳市", None),
    ]
    clear = project.file.read_text().replace("keep_clear_pii = false", "keep_clear_pii = true")
    project.file.write_text(clear)
    everything = Project.load(project.root)
    load("members", write(tmp_path / "n.csv", MEMBERS.replace("m", "n")), project=everything)
    assert stored(
        everything, "select birthday, birth_month from members where member_id = 'n1'"
    ) == [(dt.date(1990, 3, 15), 3)]
