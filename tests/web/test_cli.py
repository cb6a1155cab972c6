"""``memberlens user ...`` and ``memberlens serve --help`` through the real Typer app."""

from __future__ import annotations

from typer.testing import CliRunner

from memberlens.appstate import MIGRATIONS


def _app():
    import memberlens.cli.web  # noqa: F401  (registers serve and user until cli/__init__ does)
    from memberlens.cli import app

    return app


def test_user_add_list_token_and_login(tmp_path, login):
    from fastapi.testclient import TestClient

    from memberlens.project import init_project
    from memberlens.web import create_app

    proj = init_project(tmp_path / "p")
    run = CliRunner().invoke
    app = _app()
    r = run(
        app,
        [
            "user",
            "add",
            "boss",
            "--role",
            "admin",
            "--password",
            "a-long-password",
            "--project",
            str(proj.root),
        ],
    )
    assert r.exit_code == 0, r.output
    r = run(
        app,
        [
            "user",
            "add",
            "bad",
            "--role",
            "owner",
            "--password",
            "a-long-password",
            "--project",
            str(proj.root),
        ],
    )
    assert r.exit_code != 0 and "role" in str(r.exception or r.output)
    assert "boss\tadmin\tactive" in run(app, ["user", "list", "--project", str(proj.root)]).output
    token = run(app, ["user", "token", "boss", "--project", str(proj.root)]).output.strip()
    assert token.startswith("mlt_")
    web = create_app(proj)
    with TestClient(web) as c:
        assert (
            c.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["role"] == "admin"
        )
        assert login(c, "boss", "a-long-password").status_code == 303
    assert (
        run(app, ["user", "set-role", "boss", "viewer", "--project", str(proj.root)]).exit_code == 0
    )
    assert "boss\tviewer" in run(app, ["user", "list", "--project", str(proj.root)]).output


def test_serve_help_names_the_options():
    out = CliRunner().invoke(_app(), ["serve", "--help"]).output
    for option in ("--project", "--host", "--port", "--database"):
        assert option in out


def test_migrations_upgrade_and_downgrade(tmp_path):
    # reference: Alembic's own command API run against the package's migration scripts

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    import memberlens.web.store as store

    s = store.open_store(f"sqlite:///{tmp_path / 'm.sqlite'}")
    names = set(inspect(s.engine).get_table_names())
    assert {
        "users",
        "sessions",
        "api_tokens",
        "audit_events",
        "login_attempts",
        "saved_views",
        "alembic_version",
    } <= names
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with s.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(s.engine).get_table_names()) <= {"alembic_version"}
    store.migrate(s.engine)  # and back up again
    assert "users" in inspect(s.engine).get_table_names()
