"""Every route of the app's own route table, called by every role (anonymous, viewer, marketer,
analyst, admin), answers as its declared access rule says: 401 (or the login redirect of a page)
without a login, 403 without the permission, anything else with it. A route without a rule fails.
"""

from __future__ import annotations

import re

import pytest

from memberlens.web.roles import ROLE_NAMES, ROLES, allows

CALLERS = ("anonymous", *ROLE_NAMES)
#: values for the path parameters of the route table (ids that do not exist where harmless)
PARAMS = {
    "table": "orders",
    "token_id": "999999",
    "username": "no-such-user",
    "view_id": "999999",
    "audience": "no_such_audience",
    "campaign_id": "CMP202505",
}
PARAMS |= {"name": "no-such-rule", "token": "bad.token"}


def _path(template: str, member: str) -> str:
    values = {**PARAMS, "member_id": member}
    return re.sub(r"{(\w+)(?::\w+)?}", lambda m: values[m.group(1)], template)


def _expected(access: str, caller: str) -> str:
    if access == "public":
        return "open"
    if caller == "anonymous":
        return "login"
    if access == "login" or allows(caller, access):
        return "allowed"
    return "forbidden"


@pytest.fixture(scope="module")
def anonymous(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        c.get("/login")  # a CSRF cookie, as a browser has one
        yield c


def test_every_route_declares_an_access_rule(app):
    from memberlens.web.auth import route_rules

    rules = route_rules(app)
    assert len(rules) > 40
    assert not [r.path for r in rules if r.access is None]
    assert {r.access for r in rules} <= {"public", "login", *ROLES["admin"].permissions}


def test_a_route_without_a_rule_is_found(app):
    from fastapi import FastAPI

    from memberlens.web.auth import route_rules

    bare = FastAPI()
    bare.add_api_route("/api/forgotten", lambda: {"rows": []})
    assert [(r.path, r.access) for r in route_rules(bare)][-1] == ("/api/forgotten", None)


@pytest.mark.parametrize("caller", CALLERS)
def test_role_walk_over_the_route_table(app, clients, anonymous, any_member, caller):
    from memberlens.web.auth import route_rules

    client = anonymous if caller == "anonymous" else clients[caller]
    headers = {"X-CSRF-Token": client.cookies.get("ml_csrf") or ""}
    checked = 0
    for rule in route_rules(app):
        if rule.path in ("/logout", "/login") and caller != "anonymous":
            continue  # would end or replace the shared session; public anyway
        path = "/static/app.css" if rule.path == "/static" else _path(rule.path, any_member)
        for method in sorted(rule.methods - {"HEAD"}) or ["GET"]:
            r = client.request(method, path, headers=headers, follow_redirects=False)
            expected = _expected(rule.access, caller)
            where = (caller, method, path, rule.access, r.status_code, r.text[:160])
            api = path.startswith("/api/")
            if expected == "open":
                assert r.status_code != 401, where
            elif expected == "login":
                if api:
                    assert r.status_code == 401, where
                else:
                    assert r.status_code == 303 and "/login" in r.headers["location"], where
            elif expected == "forbidden":
                assert r.status_code == 403, where
            else:
                assert r.status_code not in (401, 403) and r.status_code < 500, where
            checked += 1
    assert checked > 40


def test_viewers_get_aggregates_only_on_value(clients, shop):
    # reference: mart_members counted with DuckDB SQL outside the app
    import duckdb

    viewer = clients["viewer"].get("/api/value").json()
    analyst = clients["analyst"].get("/api/value").json()
    text = str(viewer)
    assert "churn_risk" not in viewer and "likely" not in viewer["next_purchase"]["replenishment"]
    assert "member_id" not in text
    assert analyst["churn_risk"] and "member_id" in analyst["churn_risk"][0]
    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        n, at_risk = con.execute(
            "SELECT count(*), sum(total_spend::DOUBLE * (1 - p_alive)) FROM mart_members "
            "WHERE p_alive < 0.5"
        ).fetchone()
    finally:
        con.close()
    summary = viewer["churn_risk_summary"]
    assert summary["members"] == n > 0
    assert summary["value_at_risk"] == pytest.approx(at_risk, abs=0.01)
