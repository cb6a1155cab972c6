"""The first-run page: with no account yet, a request from this machine (127.0.0.1 or ::1), to a
loopback Host, with a matching Origin and the one-time setup token that `memberlens serve` prints,
creates the first admin; CSRF protected, refused otherwise and once any account exists, and
audited."""

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


def _client(app, host: str, *, host_header: str | None = None, origin: str | None = "same"):
    """A browser on ``host`` that opened http://HOST_HEADER:8000 (default: the peer's own
    address) and sends the Origin of that page (or ``origin``; None: no Origin header)."""
    from fastapi.testclient import TestClient

    name = host_header or (f"[{host}]" if ":" in host else host)
    base = f"http://{name}:8000"
    headers = {} if origin is None else {"Origin": base if origin == "same" else origin}
    return TestClient(app, client=(host, 50123), base_url=base, headers=headers)


def _users(app) -> int:
    from memberlens.web.models import User

    with app.state.ctx.store() as db:
        return db.scalar(select(func.count()).select_from(User))


def _events(app, action: str) -> list:
    from memberlens.web.models import AuditEvent

    with app.state.ctx.store() as db:
        return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def _form(c, **fields):
    setup_token = c.app.state.setup_token
    page = c.get("/setup", params={"token": setup_token})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    data = {
        "username": "boss",
        "password": PASSWORD,
        "password2": PASSWORD,
        "csrf_token": token.group(1) if token else "",
        "setup_token": setup_token or "",
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
        assert _form(c, password="1234567890", password2="1234567890").status_code == 400
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
    assert _users(fresh) == 1 and fresh.state.setup_token is None  # the token is used up
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


@pytest.mark.parametrize(
    "host_header, origin, token, reason",
    [
        # DNS rebinding: the browser thinks it talks to the attacker's name, resolved to us
        ("rebind.attacker.example", "same", "right", "host"),
        ("127.0.0.1", "http://rebind.attacker.example:8000", "right", "origin"),
        ("127.0.0.1", None, "right", "origin"),  # no Origin: not a form of this page
        ("localhost", "same", "wrong", "token"),
        ("localhost", "same", "", "token"),
    ],
)
def test_setup_needs_loopback_host_same_origin_and_the_console_token(
    fresh, host_header, origin, token, reason
):
    with _client(fresh, "127.0.0.1", host_header=host_header, origin=origin) as c:
        c.get("/login")
        right = fresh.state.setup_token
        r = c.post(
            "/setup",
            data={
                "username": "evil",
                "password": PASSWORD,
                "password2": PASSWORD,
                "csrf_token": c.cookies.get("ml_csrf"),
                "setup_token": right if token == "right" else token,
            },
            follow_redirects=False,
        )
        assert r.status_code == 403
        if reason == "host":
            assert c.get("/setup").status_code == 403  # not even the form
    assert _users(fresh) == 0
    (refused,) = _events(fresh, "setup_refused")
    assert refused.detail == {"reason": reason}


def test_the_setup_link_fills_in_the_token_and_a_bare_page_asks_for_it(fresh):
    with _client(fresh, "127.0.0.1") as c:
        bare = c.get("/setup")
        assert bare.status_code == 200 and 'name="setup_token" autocomplete' in bare.text
        linked = c.get("/setup", params={"token": fresh.state.setup_token})
        assert 'type="hidden" name="setup_token"' in linked.text
        wrong = c.get("/setup", params={"token": "guess"})
        assert 'type="hidden" name="setup_token"' not in wrong.text
