"""The first-run page: with no account yet, a request from this machine (127.0.0.1 or ::1) to
/setup creates the first admin; CSRF protected, refused from other addresses and once any account
exists, and audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

PASSWORD = "first-admin-password"


@pytest.fixture()
def fresh(tmp_path):
    """An app over a small project with no account yet."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from memberlens.ingest import load
    from memberlens.project import init_project
    from memberlens.web import create_app

    proj = init_project(tmp_path / "p", locale="en")
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
    load("orders", tmp_path / "orders.csv", project=proj)
    return create_app(proj, database=f"sqlite:///{tmp_path / 's.sqlite'}")


def _client(app, host: str):
    from fastapi.testclient import TestClient

    return TestClient(app, client=(host, 50123))


def _users(app) -> int:
    from memberlens.web.models import User

    with app.state.ctx.store() as db:
        return db.scalar(select(func.count()).select_from(User))


def _events(app, action: str) -> list:
    from memberlens.web.models import AuditEvent

    with app.state.ctx.store() as db:
        return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def _form(c, **fields):
    page = c.get("/setup")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    data = {
        "username": "boss",
        "password": PASSWORD,
        "password2": PASSWORD,
        "csrf_token": token.group(1) if token else "",
        **fields,
    }
    return c.post("/setup", data=data, follow_redirects=False)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_first_admin_from_this_machine(fresh, host):
    with _client(fresh, host) as c:
        r = c.get("/login", follow_redirects=False)  # no account: the login page sends here
        assert r.status_code == 303 and r.headers["location"] == "/setup"
        page = c.get("/setup")
        assert page.status_code == 200 and 'name="password2"' in page.text
        assert _form(c, password2="another-password").status_code == 400
        assert _form(c, password="short", password2="short").status_code == 400
        assert _users(fresh) == 0
        r = _form(c)
        assert r.status_code == 303 and r.headers["location"] == "/"
        me = c.get("/api/me").json()  # logged in as the new admin
        assert (me["username"], me["role"]) == ("boss", "admin")
        # once an account exists the page is refused, and the refusal is audited
        assert c.get("/setup").status_code == 403
        again = c.post(
            "/setup",
            data={
                "username": "x",
                "password": PASSWORD,
                "password2": PASSWORD,
                "csrf_token": c.cookies.get("ml_csrf"),
            },
        )
        assert again.status_code == 403
    assert _users(fresh) == 1
    (setup,) = _events(fresh, "setup")
    assert (setup.username, setup.ip, setup.detail) == ("boss", host, {"role": "admin"})
    assert _events(fresh, "login")[0].username == "boss"
    refused = _events(fresh, "setup_refused")
    assert refused and refused[0].detail == {"reason": "account exists"}


def test_setup_needs_the_csrf_token(fresh):
    with _client(fresh, "127.0.0.1") as c:
        c.get("/setup")
        r = c.post(
            "/setup",
            data={"username": "boss", "password": PASSWORD, "password2": PASSWORD},
            follow_redirects=False,
        )
        assert r.status_code == 403
        r = c.post(
            "/setup",
            data={
                "username": "boss",
                "password": PASSWORD,
                "password2": PASSWORD,
                "csrf_token": "forged",
            },
            follow_redirects=False,
        )
        assert r.status_code == 403
    assert _users(fresh) == 0


@pytest.mark.parametrize("host", ["192.0.2.10", "10.0.0.5", "127.0.0.2", "testclient"])
def test_setup_is_refused_from_other_addresses(fresh, host):
    with _client(fresh, host) as c:
        page = c.get("/setup")
        assert page.status_code == 403 and "127.0.0.1" in page.text
        assert 'name="password2"' not in page.text
        c.get("/login")
        r = c.post(
            "/setup",
            data={
                "username": "evil",
                "password": PASSWORD,
                "password2": PASSWORD,
                "csrf_token": c.cookies.get("ml_csrf"),
            },
            follow_redirects=False,
        )
        assert r.status_code == 403
        login = c.get("/login", follow_redirects=False)  # no redirect to /setup from afar
        assert login.status_code == 200 and 'id="no-account"' in login.text
    assert _users(fresh) == 0
    (refused,) = _events(fresh, "setup_refused")
    assert (refused.username, refused.ip, refused.detail) == ("evil", host, {"reason": "not local"})
