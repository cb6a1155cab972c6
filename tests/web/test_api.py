"""Every JSON endpoint, in process (FastAPI TestClient), for each role, with the masking rules."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

GET_ENDPOINTS = {
    # path: permission needed (None: any logged-in user)
    "/api/me": None,
    "/api/roles": None,
    "/api/tokens": None,
    "/api/overview": "view_kpis",
    "/api/segments": "view_kpis",
    "/api/cohorts": "view_kpis",
    "/api/value": "view_kpis",
    "/api/geography": "view_kpis",
    "/api/baskets": "view_kpis",
    "/api/members": "view_members",
    "/api/members/export?format=csv": "export_members",
    "/api/data/status": "view_data",
    "/api/data/runs": "view_data",
    "/api/data/quarantine/orders": "view_data",
    "/api/users": "manage_users",
    "/api/audit": "view_audit",
    "/api/views": None,
}
PHONE_MASK = re.compile(r"^\d{3}\*{4}\d{4}$")
HEX32 = re.compile(r"\b[0-9a-f]{32}\b")


@pytest.mark.parametrize("role", ["admin", "analyst", "marketer", "viewer"])
def test_each_role_gets_exactly_what_roles_py_declares(clients, role):
    # reference: the permission table in memberlens.web.roles (the one place it is declared)
    from memberlens.web.roles import allows

    for path, permission in GET_ENDPOINTS.items():
        r = clients[role].get(path)
        expected = 200 if permission is None or allows(role, permission) else 403
        assert r.status_code == expected, (role, path, r.status_code, r.text[:200])


def test_member_endpoints_need_a_login(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as anon:
        for path in GET_ENDPOINTS:
            assert anon.get(path).status_code == 401, path
        page = anon.get("/members", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert anon.get("/openapi.json").status_code == 200  # the schema is public


def test_member_list_masks_contacts_and_pages(clients, shop):
    r = clients["marketer"].get("/api/members", params={"page_size": 200})
    body = r.json()
    assert body["source"] == "mart_members" and len(body["rows"]) == 200
    rows = body["rows"]
    assert not {"phone", "email", "name", "id_number"} & set(rows[0])
    assert all(PHONE_MASK.match(x["phone_masked"]) for x in rows if x["phone_masked"])
    assert not HEX32.search(r.text)  # no pseudonymised (hashed) identifiers either
    spend = [x["total_spend"] for x in rows]
    assert spend == sorted(spend, reverse=True)
    page2 = clients["marketer"].get("/api/members", params={"page_size": 200, "page": 2}).json()
    assert not {x["member_id"] for x in rows} & {x["member_id"] for x in page2["rows"]}


def test_member_list_filters_by_segment_of_either_scheme(clients, shop):
    import duckdb

    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        expected = con.execute(
            "SELECT count(*) FROM mart_members WHERE segment_cn8 = ?", ["important_value"]
        ).fetchone()[0]
    finally:
        con.close()
    # the key, the Chinese and the English name of a segment select the same members
    for name in ("important_value", "重要价值客户", "Important value"):
        got = clients["analyst"].get("/api/members", params={"segment": name}).json()
        assert got["total"] == expected > 0, name
        assert {r["segment_cn8"] for r in got["rows"]} == {"important_value"}
    # a hostile filter value is a bound literal: it matches nothing and breaks nothing
    evil = clients["analyst"].get("/api/members", params={"segment": "x' OR 1=1 --"}).json()
    assert evil["total"] == 0


def test_member_360_has_profile_scores_orders_and_no_clear_contacts(clients, any_member, shop):
    r = clients["analyst"].get(f"/api/members/{any_member}")
    body = r.json()
    assert body["profile"]["member_id"] == any_member
    assert PHONE_MASK.match(body["profile"]["phone_masked"])
    assert "phone" not in body["profile"] and not HEX32.search(r.text)
    assert body["scores"]["segment_cn8"]
    # reference: the orders table itself, counted with DuckDB SQL outside the app
    import duckdb

    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        n = con.execute("SELECT count(*) FROM orders WHERE member_id = ?", [any_member]).fetchone()[
            0
        ]
    finally:
        con.close()
    assert body["orders_total"] == n and len(body["orders"]) == min(n, 200)
    assert clients["analyst"].get("/api/members/NO-SUCH-MEMBER").status_code == 404


def test_reveal_is_admin_only_audited_and_says_pseudonymised(clients, any_member, csrf):
    path = f"/api/members/{any_member}/reveal"
    for role in ("analyst", "marketer", "viewer"):
        assert clients[role].post(path, headers=csrf(clients[role])).status_code == 403
    admin = clients["admin"]
    assert admin.post(path).status_code == 403  # no CSRF token: refused
    r = admin.post(path, headers=csrf(admin))
    assert r.status_code == 200
    body = r.json()
    assert body["pseudonymised"] is True and body["values"] is None
    events = admin.get("/api/audit", params={"action": "reveal"}).json()["events"]
    assert events[0]["target"] == any_member and events[0]["username"] == "admin"


def test_reveal_shows_clear_values_when_the_project_keeps_them(tmp_path, login, csrf):
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from fastapi.testclient import TestClient

    from memberlens.ingest import load
    from memberlens.project import init_project
    from memberlens.web import create_app
    from memberlens.web.store import add_user

    proj = init_project(tmp_path / "clear")
    text = proj.file.read_text().replace("keep_clear_pii = false", "keep_clear_pii = true")
    proj.file.write_text(text)
    from memberlens.project import Project

    proj = Project.load(proj.root)
    pacsv.write_csv(
        pa.table({"member_id": ["m1"], "phone": ["13812345678"], "email": ["li@example.com"]}),
        tmp_path / "members.csv",
    )
    pacsv.write_csv(
        pa.table(
            {
                "order_id": ["o1"],
                "member_id": ["m1"],
                "ordered_at": ["2024-01-02 10:00:00"],
                "amount": ["12.50"],
                "status": ["paid"],
            }
        ),
        tmp_path / "orders.csv",
    )
    load("members", tmp_path / "members.csv", project=proj)
    load("orders", tmp_path / "orders.csv", project=proj)
    app = create_app(proj, database=f"sqlite:///{tmp_path / 's.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "root", "long-enough-pass", "admin")
    with TestClient(app) as c:
        login(c, "root", "long-enough-pass")
        listed = c.get("/api/members").text
        assert "13812345678" not in listed and "138****5678" in listed
        body = c.post("/api/members/m1/reveal", headers=csrf(c)).json()
        assert body["pseudonymised"] is False
        assert body["values"]["phone"] == "13812345678"


@pytest.mark.parametrize("role", ["admin", "analyst", "marketer"])
def test_export_columns_follow_the_role_and_are_audited(clients, role):
    from memberlens.web.roles import ROLES

    r = clients[role].get(
        "/api/members/export", params={"format": "csv", "segment": "重要价值客户"}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig", dtype=str)
    assert set(frame.columns) <= set(ROLES[role].export_columns)
    assert not {"phone", "email", "name"} & set(frame.columns)
    assert len(frame) > 0
    if "segment_cn8" in frame:
        assert (frame["segment_cn8"] == "important_value").all()
    if "phone_masked" in frame:
        assert frame["phone_masked"].dropna().str.match(PHONE_MASK).all()
    events = clients["admin"].get("/api/audit", params={"action": "export"}).json()["events"]
    assert any(e["username"] == role and e["detail"]["rows"] == len(frame) for e in events)


def test_excel_export_opens_with_openpyxl(clients):
    r = clients["analyst"].get("/api/members/export", params={"format": "xlsx"})
    assert r.status_code == 200
    frame = pd.read_excel(io.BytesIO(r.content))
    assert len(frame) == clients["analyst"].get("/api/members").json()["total"]


def test_overview_matches_an_independent_pandas_computation(clients, shop):
    # reference: the definitions in memberlens.web.queries.overview recomputed with pandas
    import duckdb

    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        o = con.execute(
            "SELECT member_id, ordered_at, amount::DOUBLE AS amount, status FROM orders"
        ).df()
    finally:
        con.close()
    o["day"] = o["ordered_at"].dt.normalize()
    paid = o[(o.status == "paid") & o.member_id.notna()]
    start, end = pd.Timestamp("2025-07-01"), pd.Timestamp("2025-09-29")
    cur = paid[(paid.day >= start) & (paid.day <= end)]
    prev = paid[(paid.day >= start - pd.Timedelta(days=91)) & (paid.day < start)]
    first = paid.groupby("member_id").day.min()
    days = cur.groupby("member_id").day.nunique()
    body = (
        clients["viewer"]
        .get("/api/overview", params={"start": "2025-07-01", "end": "2025-09-29", "grain": "week"})
        .json()
    )
    k = body["current"]
    assert k["revenue"] == pytest.approx(cur.amount.sum(), abs=0.01)
    assert k["orders"] == len(cur)
    assert k["active_members"] == cur.member_id.nunique()
    assert k["aov"] == pytest.approx(cur.amount.sum() / len(cur), abs=0.01)
    assert k["new_members"] == int(((first >= start) & (first <= end)).sum())
    assert k["repurchase_rate"] == pytest.approx((days >= 2).mean())
    retained = set(prev.member_id) & set(cur.member_id)
    assert k["retention"] == pytest.approx(len(retained) / prev.member_id.nunique())
    assert body["previous_start"] == "2025-04-01" and body["previous_end"] == "2025-06-30"
    assert sum(b["revenue"] for b in body["trend"]) == pytest.approx(cur.amount.sum(), abs=0.05)
    assert clients["viewer"].get("/api/overview", params={"grain": "year"}).status_code == 422


def test_aggregate_endpoints_read_the_marts(clients):
    seg = clients["viewer"].get("/api/segments").json()
    assert {"cn8", "rfm11"} <= set(seg["schemes"])
    assert sum(s["revenue_share"] for s in seg["schemes"]["cn8"]) == pytest.approx(1.0)
    assert sum(s["members"] for s in seg["schemes"]["cn8"]) == sum(
        t["members"] for t in seg["value_tier"]
    )
    assert seg["transitions"] and {"from_stage", "to_stage", "members"} <= set(
        seg["transitions"][0]
    )
    rows = clients["viewer"].get("/api/cohorts").json()["rows"]
    assert rows[0]["period"] == 0 and rows[0]["retention"] == pytest.approx(1.0)
    assert {"cohort", "members", "repurchase_rate"} <= set(rows[0])
    value = clients["analyst"].get("/api/value", params={"bins": 10}).json()
    assert len(value["clv_histogram"]) == 10
    risk = [r["value_at_risk"] for r in value["churn_risk"]]
    assert risk == sorted(risk, reverse=True) and all(
        r["p_alive"] < 0.5 for r in value["churn_risk"]
    )
    geo = clients["viewer"].get("/api/geography").json()
    assert sum(p["members"] for p in geo["provinces"]) == 2000 and geo["countries"]


def test_basket_rules_are_filtered_and_sorted_by_lift(clients, shop):
    # reference: the mart_rules table itself, counted with DuckDB SQL; the thresholds are the
    # mart's own medians so that the filter keeps some rules and drops others
    import duckdb

    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        total, min_lift, min_conf = con.execute(
            "SELECT count(*), median(lift), median(confidence) FROM mart_rules"
        ).fetchone()
        expected = con.execute(
            "SELECT count(*) FROM mart_rules WHERE lift >= ? AND confidence >= ?",
            [min_lift, min_conf],
        ).fetchone()[0]
    finally:
        con.close()
    body = (
        clients["viewer"]
        .get("/api/baskets", params={"min_lift": min_lift, "min_confidence": min_conf})
        .json()
    )
    assert body.get("table") == "mart_rules", body
    assert total > body["total"] == expected > 0
    lifts = [r["lift"] for r in body["rows"]]
    assert lifts == sorted(lifts, reverse=True) and min(lifts) >= min_lift
    assert all(r["confidence"] >= min_conf for r in body["rows"])


def test_data_endpoints_reconcile_with_the_loader(clients):
    status = clients["analyst"].get("/api/data/status").json()
    orders = next(t for t in status["tables"] if t["table"] == "orders")
    assert orders["rows_read"] == (
        orders["rows_stored"]
        - orders["derived_rows"]
        + orders["rows_quarantined"]
        + orders["duplicates_dropped"]
    )
    assert "/" not in status["warehouse"]  # no server paths
    assert clients["analyst"].get("/api/data/quarantine/nope").status_code == 422


def test_api_token_lifecycle(clients, app, csrf):
    from fastapi.testclient import TestClient

    from memberlens.web.models import ApiToken

    me = clients["analyst"]
    created = me.post("/api/tokens", json={"name": "nightly"}, headers=csrf(me))
    assert created.status_code == 201
    token = created.json()["token"]
    with app.state.ctx.store() as db:  # stored hashed, never in clear
        stored = [t.token_hash for t in db.query(ApiToken).all()]
    assert token not in stored and all(len(h) == 64 for h in stored)
    with TestClient(app) as script:
        auth = {"Authorization": f"Bearer {token}"}
        assert script.get("/api/members", headers=auth).status_code == 200
        assert script.get("/api/users", headers=auth).status_code == 403
        revoked = me.delete(f"/api/tokens/{created.json()['id']}", headers=csrf(me))
        assert revoked.json()["revoked"] is True
        assert script.get("/api/members", headers=auth).status_code == 401
        assert (
            script.get("/api/members", headers={"Authorization": "Bearer mlt_forged"}).status_code
            == 401
        )


def test_csrf_is_required_for_cookie_requests(clients):
    admin = clients["admin"]
    r = admin.post(
        "/api/users", json={"username": "x1", "password": "quiet-harbour-7", "role": "viewer"}
    )
    assert r.status_code == 403 and r.json()["error"] == "CsrfError"
    r = admin.post(
        "/api/users",
        json={"username": "x1", "password": "quiet-harbour-7", "role": "viewer"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert r.status_code == 403


def test_admin_manages_users_and_settings_are_audited(clients, login, app, csrf):
    from fastapi.testclient import TestClient

    admin = clients["admin"]
    r = admin.post(
        "/api/users",
        json={"username": "temp.user", "password": "temp-password-1", "role": "viewer"},
        headers=csrf(admin),
    )
    assert r.status_code == 201
    assert (
        admin.post(
            "/api/users",
            json={"username": "temp.user", "password": "temp-password-1", "role": "viewer"},
            headers=csrf(admin),
        ).status_code
        == 400
    )
    with TestClient(app) as c:
        assert login(c, "temp.user", "temp-password-1").status_code == 303
        assert c.get("/api/members").status_code == 403
        admin.patch("/api/users/temp.user", json={"role": "analyst"}, headers=csrf(admin))
        assert c.get("/api/members").status_code == 200  # role change applies at once
        admin.patch("/api/users/temp.user", json={"active": False}, headers=csrf(admin))
        assert c.get("/api/members").status_code == 401
    assert (
        admin.patch("/api/users/admin", json={"role": "viewer"}, headers=csrf(admin)).status_code
        == 403
    )
    actions = {e["action"] for e in admin.get("/api/audit").json()["events"]}
    assert {"login", "settings", "user_create"} <= actions


def test_login_is_rate_limited_and_failures_audited(app, login, clients):
    from fastapi.testclient import TestClient

    from memberlens.web.auth import MAX_FAILURES_PER_USER

    with TestClient(app) as c:
        codes = [
            login(c, "viewer", "wrong-password").status_code
            for _ in range(MAX_FAILURES_PER_USER + 1)
        ]
        assert codes[:MAX_FAILURES_PER_USER] == [401] * MAX_FAILURES_PER_USER
        assert codes[-1] == 429
        assert login(c, "viewer").status_code == 429  # even the right password, for now
    events = clients["admin"].get("/api/audit").json()["events"]
    assert any(e["action"] == "login_blocked" for e in events)


def test_session_cookie_flags_and_logout_revokes(app, login):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        r = login(c, "analyst")
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        session = c.cookies.get("ml_session")
        c.post("/logout", data={"csrf_token": c.cookies.get("ml_csrf")})
        c.cookies.set("ml_session", session)
        assert c.get("/api/me").status_code == 401


def test_open_redirect_after_login_is_refused(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        c.get("/login")
        r = c.post(
            "/login",
            data={
                "username": "marketer",
                "password": "correct-horse-battery",
                "csrf_token": c.cookies.get("ml_csrf"),
                "next": "//evil.example/x",
            },
            follow_redirects=False,
        )
        assert r.headers["location"] == "/"


def test_bare_project_shows_empty_states_not_errors(bare, tmp_path, login):
    from fastapi.testclient import TestClient

    from memberlens.web import create_app
    from memberlens.web.store import add_user

    app = create_app(bare, database=f"sqlite:///{tmp_path / 's.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "a", "quiet-harbour-7", "admin")
    with TestClient(app) as c:
        login(c, "a", "quiet-harbour-7")
        for path in ("/api/segments", "/api/cohorts", "/api/value", "/api/baskets"):  # no marts
            body = c.get(path).json()
            assert body["available"] is False and "memberlens run" in body["hint"], path
        members = c.get("/api/members", params={"sort": "frequency"}).json()
        assert members["source"] == "rfm_summary"
        # reference: CDNOW sample, 2,357 customers (Fader & Hardie's cdnowSummary)
        assert members["total"] == 2357
        assert c.get("/api/overview").json()["current"]["orders"] >= 0
        assert c.get(f"/api/members/{members['rows'][0]['member_id']}").status_code == 200
        for page in ("/", "/segments", "/members", "/value", "/cohorts", "/geo", "/data"):
            assert c.get(page).status_code == 200, page


def test_saved_views_belong_to_their_owner(clients, csrf):
    mine, other = clients["marketer"], clients["analyst"]
    r = mine.post(
        "/api/views",
        json={
            "page": "members",
            "name": "广东冠军",
            "params": {"segment": "Champions", "province": "广东省"},
        },
        headers=csrf(mine),
    )
    assert r.status_code == 201
    view = r.json()
    assert view["params"] == {"segment": "Champions", "province": "广东省"}
    assert view["id"] in [v["id"] for v in mine.get("/api/views").json()["views"]]
    assert view["id"] not in [v["id"] for v in other.get("/api/views").json()["views"]]
    assert other.delete(f"/api/views/{view['id']}", headers=csrf(other)).status_code == 404
    assert (
        mine.post("/api/views", json={"page": "nope", "name": "x"}, headers=csrf(mine)).status_code
        == 422
    )
    assert mine.delete(f"/api/views/{view['id']}", headers=csrf(mine)).status_code == 200
    assert mine.get("/api/views").json()["views"] == []


def test_a_program_holding_the_warehouse_file_does_not_stop_the_dashboard(tmp_path, login):
    """Another process with DuckDB's write lock on the warehouse file (a writer): the dashboard
    reads the published snapshot, so it answers as usual."""
    import subprocess
    import sys

    from fastapi.testclient import TestClient

    from memberlens.ingest import load
    from memberlens.pipeline.demo import export_cdnow_csv
    from memberlens.project import init_project
    from memberlens.web import create_app
    from memberlens.web.store import add_user

    proj = init_project(tmp_path / "busy")
    load("orders", export_cdnow_csv(tmp_path / "o.csv"), project=proj)
    app = create_app(proj, database=f"sqlite:///{tmp_path / 's.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "a", "quiet-harbour-7", "admin")
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(60)",
            str(proj.warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "locked"
        with TestClient(app) as c:
            login(c, "a", "quiet-harbour-7")
            r = c.get("/api/members")
            assert r.status_code == 200 and r.json()["total"] > 0
    finally:
        writer.kill()
        writer.wait()


def test_warm_start_computes_the_default_overview(shop, tmp_path):
    import time

    from memberlens.web import create_app

    app = create_app(shop, database=f"sqlite:///{tmp_path / 's.sqlite'}", warm=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        key[0][0] == "overview" for key in list(app.state.ctx._cache)
    ):
        time.sleep(0.1)
    assert any(key[0][0] == "overview" for key in app.state.ctx._cache)


def test_quarantine_browser_masks_rejected_contacts_and_hides_paths(tmp_path, login):
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from fastapi.testclient import TestClient

    from memberlens.ingest import load
    from memberlens.project import init_project
    from memberlens.web import create_app
    from memberlens.web.store import add_user

    proj = init_project(tmp_path / "q")
    pacsv.write_csv(
        pa.table(
            {
                "member_id": ["m1", "m2"],
                "birthday": ["1990-01-02", "not-a-date"],
                "phone": ["13812345678", "13987654321"],
            }
        ),
        tmp_path / "members.csv",
    )
    pacsv.write_csv(
        pa.table(
            {
                "order_id": ["o1"],
                "member_id": ["m1"],
                "status": ["paid"],
                "ordered_at": ["2024-01-02 10:00:00"],
                "amount": ["1.00"],
            }
        ),
        tmp_path / "orders.csv",
    )
    load("members", tmp_path / "members.csv", project=proj)
    load("orders", tmp_path / "orders.csv", project=proj)
    app = create_app(proj, database=f"sqlite:///{tmp_path / 's.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "an", "quiet-harbour-7", "analyst")
    with TestClient(app) as c:
        login(c, "an", "quiet-harbour-7")
        r = c.get("/api/data/quarantine/members")
        rows = r.json()["rows"]
        assert rows and rows[0]["rule"]
        # ingest stores rejected personal values pseudonymised already; never a clear value
        assert "13987654321" not in r.text
        assert rows[0]["phone"] in ("139****4321", "(pseudonymised)")
        assert str(tmp_path) not in r.text and rows[0]["source"] == "members.csv"
        status = c.get("/api/data/status").text
        assert str(tmp_path) not in status and "members.csv" in status
