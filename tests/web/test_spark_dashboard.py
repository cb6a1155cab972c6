"""The dashboard on a Spark project: every page and GET endpoint answers, and the aggregates are
DuckDB's.

A small simulated shop (``memberlens simulate``, 300 members, seed 7) is built through the CLI on
both engines (``init --engine``, ``ingest`` of every table, ``run``: the helpers of
``tests/engine/test_spark_e2e.py``, in this process so the test run's one Spark session is
shared). Then the dashboard of the Spark project answers every GET route and page without a
server error (as ``test_orders_only.py`` asks of an orders-only shop), and its JSON for the
overview KPIs, segments, the first page of the member list, one member's 360 view, the value
page and the data page's table counts (``/api/data/*`` read through the dashboard's read side)
equal the DuckDB project's, the outside reference here, with these tolerances:

* text, integers, dates and the order of rows: equal;
* floating-point numbers: within 1e-6 relative, 1e-9 absolute (the marts' model outputs differ
  ~4e-8 relative between the engines, see test_spark_e2e.py);
* run-specific values (``run_id``) are left out.

Run alone: ``pytest -m spark tests/web/test_spark_dashboard.py``.
"""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]

MEMBERS = 300
SEED = 7
PASSWORD = "plum orbit canvas thunder"
RTOL, ATOL = 1e-6, 1e-9
#: endpoints whose JSON must be the same on both engines (the member 360 is added by id)
COMPARED = ("/api/overview", "/api/segments", "/api/members", "/api/value")


def _e2e():
    """The CLI helpers of the engine end-to-end test (``ml``, ``TABLES``)."""
    path = Path(__file__).parents[1] / "engine" / "test_spark_e2e.py"
    spec = importlib.util.spec_from_file_location("_spark_e2e_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


E2E = _e2e()


def _get_routes(routes):
    """Every GET route's path, through included routers."""
    for r in routes:
        inner = getattr(r, "original_router", None) or (None if hasattr(r, "path") else r)
        if inner is not None and hasattr(inner, "routes"):
            yield from _get_routes(inner.routes)
        elif "GET" in (getattr(r, "methods", None) or ()):
            yield r.path


@pytest.fixture(scope="module")
def shops(tmp_path_factory, spark_session) -> dict[str, Path]:
    ml = E2E.ml
    root = tmp_path_factory.mktemp("spark-web")
    ml("--quiet", "simulate", root / "shop", "--members", MEMBERS, "--seed", SEED)
    out = {}
    for engine in ("duckdb", "pyspark"):
        project = root / engine
        ml("--quiet", "init", project, "--engine", engine)
        for table in E2E.TABLES:
            ml("--quiet", "ingest", table, root / "shop" / f"{table}.parquet", "-p", project)
        ml("--quiet", "run", "-p", project)
        out[engine] = project
    return out


def _app(project: Path, tmp_path: Path, name: str):
    from memberlens.project import Project
    from memberlens.web import create_app
    from memberlens.web.store import add_user

    app = create_app(Project.load(project), database=f"sqlite:///{tmp_path / name}.sqlite")
    with app.state.ctx.store() as db:
        add_user(db, "a", PASSWORD, "admin")
    return app


def test_every_page_and_get_endpoint_works_on_spark(shops, tmp_path, login):
    from fastapi.testclient import TestClient

    app = _app(shops["pyspark"], tmp_path, "spark")
    paths = sorted(set(_get_routes(app.routes)))
    with TestClient(app, raise_server_exceptions=False) as c:
        assert login(c, "a", PASSWORD).status_code == 303
        listed = c.get("/api/members")
        assert listed.status_code == 200 and listed.json()["source"] == "mart_members"
        member = listed.json()["rows"][0]["member_id"]
        fill = {"member_id": member, "table": "orders", "username": "a"}
        failed, tried = {}, 0
        for path in paths:
            if path.startswith(("/static", "/docs", "/openapi")):
                continue
            if "{" in path:
                if not set(re.findall(r"{(\w+)}", path)) <= set(fill):
                    continue  # ids of things this shop has none of (tokens, saved views)
                path = path.format(**fill)
            r = c.get(path)
            tried += 1
            if r.status_code >= 500:
                failed[path] = r.text[:300]
        assert not failed, failed
        assert tried > 20
        export = c.get("/api/members/export", params={"format": "csv"})
        assert export.status_code == 200 and export.text.count("\n") == listed.json()["total"] + 1


def _differences(a, b, path: str = "") -> list[str]:
    """Where two JSON values differ beyond the module's tolerances."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a if k != "run_id" for d in _differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items on DuckDB, {len(b)} on Spark"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or not math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL):
            return [f"{path}: {a!r} vs {b!r}"]
        return []
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def test_the_dashboards_aggregates_are_the_same_on_both_engines(shops, tmp_path, login):
    from fastapi.testclient import TestClient

    got = {}
    for engine, project in shops.items():
        with TestClient(_app(project, tmp_path, engine)) as c:
            assert login(c, "a", PASSWORD).status_code == 303
            answers = {path: c.get(path).json() for path in COMPARED}
            first = answers["/api/members"]["rows"][0]["member_id"]
            answers["/api/members/{id}"] = c.get(f"/api/members/{first}").json()
            # the data page (through the read side): per-table counts, without load times
            tables = c.get("/api/data/status").json()["tables"]
            answers["/api/data/status"] = [
                {k: v for k, v in t.items() if k != "last_load"} for t in tables
            ]
            answers["/api/data/quarantine/orders"] = c.get("/api/data/quarantine/orders").json()
            got[engine] = answers
    duck, spark = got["duckdb"], got["pyspark"]
    assert duck["/api/members"]["total"] > 100 and duck["/api/segments"]["available"]
    assert duck["/api/members/{id}"]["orders"] and duck["/api/members/{id}"]["history"]["rows"]
    assert duck["/api/overview"]["current"]["revenue"] > 0
    problems = [d for path in duck for d in _differences(duck[path], spark[path], path)]
    assert not problems, "\n".join(problems[:40])
