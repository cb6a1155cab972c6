"""The application state on a real PostgreSQL server: the Alembic migrations, login (session and
CSRF), rate limiting, API tokens, saved views and the audit log, through psycopg 3.

The fixture starts a throwaway cluster under ``tmp_path`` with Debian's server binaries
(``/usr/lib/postgresql/*/bin``), listening on 127.0.0.1 only with password (SCRAM) auth, and stops
it afterwards. ``initdb`` refuses to run as root: as root the cluster is created and run by the
unprivileged ``postgres`` system user (``runuser``), and the temporary folders above it get the
search (x) bit for others so that user can reach its own folder. Skipped only when the server
binaries are not installed (``apt-get install postgresql``; ``make test`` installs them).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from memberlens.appstate import MIGRATIONS

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
pytestmark = [
    pytest.mark.skipif(
        not BINARIES,
        reason="PostgreSQL server binaries missing (/usr/lib/postgresql/*/bin/initdb): "
        "apt-get install -y postgresql",
    ),
    pytest.mark.slow,
]
PASSWORD = "postgres-test-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reachable_by_others(path: Path) -> None:
    """Add the search bit for others on ``path`` and its parents up to one that has it."""
    for p in [path, *path.parents]:
        mode = p.stat().st_mode
        if mode & stat.S_IXOTH:
            break
        p.chmod(mode | stat.S_IXOTH)


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory):
    bindir = Path(BINARIES[-1]).parent
    base = tmp_path_factory.mktemp("postgres")
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(
                "running as root and there is no 'postgres' user to run the server "
                "(Debian's postgresql package creates it)"
            )
        _reachable_by_others(base)
        os.chown(base, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    secret = secrets.token_urlsafe(16)
    pwfile = base / "pwfile"
    pwfile.write_text(secret + "\n")
    if prefix:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    data, log = base / "data", base / "server.log"

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        # in the server's own folder: initdb fails ("could not identify current directory")
        # when the test process's working directory is gone or out of the postgres user's reach
        done = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, cwd=base
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"{' '.join(args[:1])} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done

    run(
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        "memberlens",
        "--pwfile",
        str(pwfile),
        "--auth=scram-sha-256",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    )
    port = _free_port()
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={base}"
    started = run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(log),
        "-o",
        options,
        "-w",
        "-t",
        "60",
        "start",
        check=False,
    )
    if started.returncode != 0:
        pytest.fail(
            f"PostgreSQL did not start: {started.stderr}\n{log.read_text() if log.exists() else ''}"
        )
    try:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user="memberlens",
            password=secret,
            dbname="postgres",
            autocommit=True,
        ) as con:
            con.execute("CREATE DATABASE webstate")
        yield f"postgresql+psycopg://memberlens:{secret}@127.0.0.1:{port}/webstate"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop", check=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from memberlens.ingest import load
    from memberlens.project import init_project

    root = tmp_path_factory.mktemp("pgproject")
    proj = init_project(root / "p", locale="en")
    pacsv.write_csv(
        pa.table(
            {
                "order_id": ["o1", "o2"],
                "member_id": ["m1", "m1"],
                "status": ["paid", "paid"],
                "amount": ["12.50", "7.50"],
                "ordered_at": ["2024-01-02 10:00:00", "2024-01-20 10:00:00"],
            }
        ),
        root / "orders.csv",
    )
    load("orders", root / "orders.csv", project=proj)
    return proj


def _sql(url: str, query: str, *params):
    """Read the state database with psycopg directly (the reference: what PostgreSQL holds)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database
    ) as con:
        return con.execute(query, params).fetchall()


def test_migrations_create_the_schema_on_postgresql(postgres_url, project):
    from memberlens.web.store import open_store

    store = open_store(postgres_url)
    assert store.engine.dialect.name == "postgresql"
    assert store.engine.dialect.driver == "psycopg"
    tables = {
        r[0]
        for r in _sql(
            postgres_url,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
        )
    }
    assert {
        "users",
        "sessions",
        "api_tokens",
        "login_attempts",
        "audit_events",
        "saved_views",
        "alembic_version",
    } <= tables
    head = _sql(postgres_url, "SELECT version_num FROM alembic_version")
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert head == [(ScriptDirectory.from_config(cfg).get_current_head(),)]
    open_store(postgres_url)  # upgrading an up-to-date schema changes nothing
    assert _sql(postgres_url, "SELECT count(*) FROM alembic_version") == [(1,)]
    unique = _sql(
        postgres_url,
        "SELECT indexname FROM pg_indexes WHERE tablename = 'users' "
        "AND indexdef LIKE 'CREATE UNIQUE%%'",
    )
    assert ("ix_users_username",) in unique
    store.engine.dispose()


def test_login_tokens_views_and_audit_on_postgresql(postgres_url, project):
    from fastapi.testclient import TestClient

    from memberlens.web import create_app
    from memberlens.web.auth import MAX_FAILURES_PER_USER
    from memberlens.web.store import add_user

    app = create_app(project, database=postgres_url)
    with app.state.ctx.store() as db:
        add_user(db, "pgadmin", PASSWORD, "admin")
        add_user(db, "pgviewer", PASSWORD, "viewer")

    def login(c, user, password=PASSWORD):
        c.get("/login")
        return c.post(
            "/login",
            data={
                "username": user,
                "password": password,
                "csrf_token": c.cookies.get("ml_csrf"),
                "next": "/",
            },
            follow_redirects=False,
        )

    with TestClient(app) as admin, TestClient(app) as script, TestClient(app) as other:
        assert login(admin, "pgadmin").status_code == 303
        assert admin.get("/api/me").json()["role"] == "admin"
        csrf = {"X-CSRF-Token": admin.cookies.get("ml_csrf")}
        assert admin.post("/api/tokens", json={"name": "nightly"}).status_code == 403  # no CSRF
        created = admin.post("/api/tokens", json={"name": "nightly"}, headers=csrf)
        assert created.status_code == 201
        token = created.json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert script.get("/api/members", headers=bearer).json()["total"] == 1
        assert script.get("/api/overview", headers=bearer).json()["current"]["orders"] == 2
        view = admin.post(
            "/api/views",
            json={"page": "members", "name": "广东", "params": {"province": "广东省"}},
            headers=csrf,
        )
        assert view.status_code == 201
        assert admin.get("/api/views").json()["views"][0]["params"] == {"province": "广东省"}
        # scopes, expiry and the token that made a token (migration 0002) on PostgreSQL
        child = script.post("/api/tokens", headers=bearer, json={"days": 30})
        assert child.status_code == 201 and child.json()["parent_id"] == created.json()["id"]
        assert (
            script.post("/api/tokens", headers=bearer, json={"scopes": ["admin"]}).status_code
            == 403
        )
        child_bearer = {"Authorization": f"Bearer {child.json()['token']}"}
        admin.delete(f"/api/tokens/{created.json()['id']}", headers=csrf)
        assert script.get("/api/members", headers=bearer).status_code == 401
        assert script.get("/api/members", headers=child_bearer).status_code == 401
        codes = [
            login(other, "pgviewer", "wrong-password").status_code
            for _ in range(MAX_FAILURES_PER_USER + 1)
        ]
        assert codes == [401] * MAX_FAILURES_PER_USER + [429]
        admin.post("/logout", data={"csrf_token": admin.cookies.get("ml_csrf")})
        assert admin.get("/api/me").status_code == 401
    # reference: the rows PostgreSQL holds, read with psycopg
    stored = _sql(
        postgres_url,
        "SELECT token_hash, revoked_at IS NOT NULL, parent_id IS NOT NULL, scopes "
        "FROM api_tokens ORDER BY id",
    )
    assert [row[1:] for row in stored] == [(True, False, "read"), (True, True, "read")]
    assert all(len(row[0]) == 64 and token not in row[0] for row in stored)
    (hash_,) = _sql(postgres_url, "SELECT password_hash FROM users WHERE username = %s", "pgadmin")[
        0
    ]
    assert hash_.startswith("$argon2id$")
    actions = [r[0] for r in _sql(postgres_url, "SELECT action FROM audit_events ORDER BY id")]
    for action in (
        "login",
        "token_create",
        "token_revoke",
        "login_failed",
        "login_blocked",
        "logout",
    ):
        assert action in actions, action
    detail = _sql(
        postgres_url,
        "SELECT detail ->> 'name' FROM audit_events WHERE action = 'token_create' ORDER BY id",
    )
    assert detail == [("nightly",), ("script",)]  # a JSON column PostgreSQL can query
    assert _sql(postgres_url, "SELECT count(*) FROM sessions WHERE revoked") == [(1,)]
    app.state.ctx.store.engine.dispose()


def test_audiences_snapshots_and_opt_outs_on_postgresql(postgres_url, tmp_path):
    """Migration 0003_audiences on PostgreSQL: an audience saved, frozen (the compact list in a
    bytea column) and read back, opt-outs unique per member and channel (checked with psycopg)."""
    import ibis
    import pyarrow as pa

    from memberlens.activation import audiences as aud
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.project import init_project
    from memberlens.web.store import open_store

    proj = init_project(tmp_path / "aud", locale="en")
    mart = pa.table({"member_id": ["m1", "m2", "m3"], "clv": [10.0, 600.0, 900.0]})
    with open_warehouse(proj) as wh, wh.transaction():
        wh.replace("mart_members", ibis.memtable(mart))
    store = open_store(postgres_url)
    aud.create_audience(proj, "pg_vip", "clv > 500 and not opted_out('sms')", store=store)
    assert aud.add_opt_outs(proj, ["m3", "m3"], "sms", source="test", store=store) == 1
    assert aud.audience_size(proj, "pg_vip", store=store).size == 1
    snap = aud.freeze_audience(proj, "pg_vip", store=store)
    assert aud.frozen_members(proj, "pg_vip", store=store).member_ids == ("m2",) == snap.member_ids
    assert _sql(postgres_url, "SELECT name, expression FROM audiences") == [
        ("pg_vip", "clv > 500 and not opted_out('sms')")
    ]
    assert _sql(postgres_url, "SELECT member_count FROM audience_snapshots") == [(1,)]
    kinds = dict(
        _sql(
            postgres_url,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'audience_snapshots'",
        )
    )
    assert kinds["members"] == "bytea"
    import psycopg
    import pytest

    with pytest.raises(psycopg.errors.UniqueViolation):
        _sql(
            postgres_url,
            "INSERT INTO opt_outs (member_id, channel, at) VALUES ('m3', 'sms', now())",
        )
    aud.delete_audience(proj, "pg_vip", store=store)
    assert _sql(postgres_url, "SELECT count(*) FROM audience_snapshots") == [(0,)]
    store.engine.dispose()
