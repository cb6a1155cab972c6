"""Fixtures of the web tests: a simulated shop (memberlens.simulate, fixed seed) loaded through
the public ingest path, marts shaped as ``memberlens run`` writes them, and one account per role."""

from __future__ import annotations

import pytest

PASSWORD = "correct-horse-battery"
ROLES = ("admin", "analyst", "marketer", "viewer")


@pytest.fixture(scope="session")
def shop(tmp_path_factory):
    """A 2,000-member simulated shop (memberlens.simulate, seed 11) loaded through the public
    ingest path, with the marts built by the real pipeline (``memberlens run``): a run as of
    2025-06-30, then one as of the last order day, so ``mart_member_history`` holds two dates."""
    import datetime as dt

    from memberlens.ingest import load
    from memberlens.pipeline.run import run_pipeline
    from memberlens.project import Project, init_project
    from memberlens.simulate import simulate_shop

    root = tmp_path_factory.mktemp("web")
    simulate_shop(root / "sim", members=2000, seed=11)
    project = init_project(root / "shop", currency="CNY", locale="zh-CN")
    # a 2,000-member shop has too few baskets for the default 20-basket support: ask for 5
    with project.file.open("a", encoding="utf-8") as fh:
        fh.write("\n[baskets]\nmin_support = 0.0012\n")
    project = Project.load(project.root)
    for table in ("members", "orders", "order_items", "products", "campaigns", "campaign_members"):
        load(table, root / "sim" / f"{table}.parquet", project=project)
    run_pipeline(project, as_of=dt.date(2025, 6, 30))
    run_pipeline(project)
    return project


@pytest.fixture(scope="session")
def bare(tmp_path_factory):
    """A project with only CDNOW orders (no members table, no marts): empty states."""
    from memberlens.ingest import load
    from memberlens.pipeline.demo import export_cdnow_csv
    from memberlens.project import init_project

    root = tmp_path_factory.mktemp("bare")
    project = init_project(root / "cdnow", currency="USD", locale="en")
    import pandas as pd

    csv = export_cdnow_csv(root / "cdnow.csv")
    # ingest stores a missing status as null, which member analytics do not read as paid
    pd.read_csv(csv, dtype=str).assign(status="paid").to_csv(csv, index=False)
    load("orders", csv, project=project)
    return project


def make_users(app) -> None:
    from memberlens.web.store import add_user

    with app.state.ctx.store() as db:
        for role in ROLES:
            add_user(db, role, PASSWORD, role)


@pytest.fixture(scope="session")
def app(shop, tmp_path_factory):
    from memberlens.web import create_app

    db = tmp_path_factory.mktemp("state") / "web.sqlite"
    application = create_app(shop, database=f"sqlite:///{db}")
    make_users(application)
    return application


def _login(client, username: str, password: str = PASSWORD):
    """Log in through the form, as a browser does (CSRF cookie first)."""
    client.get("/login")
    csrf = client.cookies.get("ml_csrf")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf, "next": "/"},
        follow_redirects=False,
    )


@pytest.fixture(scope="session")
def login():
    return _login


@pytest.fixture(scope="session")
def clients(app):
    """A logged-in TestClient per role."""
    from fastapi.testclient import TestClient

    out = {}
    for role in ROLES:
        c = TestClient(app)
        assert _login(c, role).status_code == 303
        out[role] = c
    yield out
    for c in out.values():
        c.close()


@pytest.fixture(scope="session")
def csrf():
    """Headers that carry the client's CSRF token (as the page scripts send it)."""
    return lambda client: {"X-CSRF-Token": client.cookies.get("ml_csrf")}


@pytest.fixture(scope="session")
def any_member(shop) -> str:
    from memberlens.engine.warehouse import Warehouse

    with Warehouse(shop.warehouse, read_only=True) as wh:
        m = wh.table("mart_members")
        return m.order_by(m.total_spend.desc()).limit(1).to_pyarrow()["member_id"][0].as_py()
