"""A shop that loaded `orders` alone, with only the required columns (order_id, member_id,
ordered_at, amount), built by `memberlens run`: every page and every GET endpoint answers
without a server error (the geography endpoint answered 500 when orders had no country)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest


def _get_routes(routes):
    """(path, include_in_schema) of every GET route, through included routers."""
    for r in routes:
        inner = getattr(r, "original_router", None) or (None if hasattr(r, "path") else r)
        if inner is not None and hasattr(inner, "routes"):
            yield from _get_routes(inner.routes)
        elif "GET" in (getattr(r, "methods", None) or ()):
            yield r.path


@pytest.fixture(scope="module")
def orders_only(tmp_path_factory):
    """CDNOW orders (Lifetimes 0.11.3 sample) cut to the four required columns."""
    import pandas as pd

    from memberlens.pipeline.demo import export_cdnow_csv

    root = tmp_path_factory.mktemp("orders-only")
    raw = pd.read_csv(export_cdnow_csv(root / "cdnow.csv"), dtype=str)
    pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(raw))],
            "member_id": raw.customer_id,
            "ordered_at": pd.to_datetime(raw.date).dt.strftime("%Y-%m-%d"),
            "amount": raw.dollar_value,
        }
    ).to_csv(root / "orders.csv", index=False)

    def ml(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "memberlens", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr

    ml("init", root / "shop", "--locale", "en", "--currency", "USD")
    ml("ingest", "orders", root / "orders.csv", "-p", root / "shop")
    ml("run", "-p", root / "shop", "--quiet")
    from memberlens.project import Project

    return Project.load(root / "shop")


def test_every_page_and_get_endpoint_works_with_orders_alone(orders_only, tmp_path, login):
    from fastapi.testclient import TestClient

    from memberlens.web import create_app
    from memberlens.web.store import add_user

    app = create_app(orders_only, database=f"sqlite:///{tmp_path / 's.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "a", "plum orbit canvas thunder", "admin")
    paths = sorted(set(_get_routes(app.routes)))
    assert "/api/geography" in paths and "/geo" in paths
    with TestClient(app, raise_server_exceptions=False) as c:
        assert login(c, "a", "plum orbit canvas thunder").status_code == 303
        member = c.get("/api/members").json()["rows"][0]["member_id"]
        fill = {"member_id": member, "table": "orders", "username": "a"}
        failed = {}
        for path in paths:
            if path.startswith(("/static", "/docs", "/openapi")):
                continue
            if "{" in path:
                names = re.findall(r"{(\w+)}", path)
                if not set(names) <= set(fill):
                    continue  # ids of things this shop has none of (tokens, saved views)
                path = path.format(**fill)
            r = c.get(path)
            if r.status_code >= 500:
                failed[path] = r.text[:300]
        assert not failed, failed
        geo = c.get("/api/geography").json()
        assert geo["available"] is False and "countries" not in geo


def test_the_spec_tells_scripts_how_to_authenticate(bare, tmp_path):
    """A script needs no login form: the spec declares the Bearer token on every /api/ route
    and says how to get one; a token alone reads the API."""
    from fastapi.testclient import TestClient

    from memberlens.web import create_app
    from memberlens.web.store import add_user, issue_token

    app = create_app(bare, database=f"sqlite:///{tmp_path / 's.sqlite'}")
    with app.state.ctx.store() as db:
        user = add_user(db, "bot", "plum orbit canvas thunder", "analyst")
        _, token = issue_token(db, user, "nightly")
    with TestClient(app) as c:
        spec = c.get("/openapi.json").json()
        assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
        api = [
            op for p, ops in spec["paths"].items() if p.startswith("/api/") for op in ops.values()
        ]
        assert api and all(op["security"] == [{"bearerAuth": []}] for op in api)
        assert "memberlens user token" in spec["info"]["description"]
        assert "/healthz" in spec["paths"]
        headers = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/overview", headers=headers).status_code == 200
