"""``memberlens recommend for|evaluate`` (Typer app, in process) on a project loaded with the
simulated shop through the public ingest path."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import memberlens.cli.recommend  # noqa: F401  (registers the sub-app until cli/__init__ imports it)
from memberlens.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def project(shop_dir, tmp_path_factory):
    from memberlens.ingest import load
    from memberlens.project import init_project

    proj = init_project(tmp_path_factory.mktemp("rec-project") / "shop")
    for table in ("members", "products", "orders", "order_items", "events"):
        load(table, shop_dir / f"{table}.parquet", project=proj)
    return proj


def test_help_lists_the_commands():
    out = runner.invoke(app, ["recommend", "--help"])
    assert out.exit_code == 0 and "for" in out.output and "evaluate" in out.output
    for command in ("for", "evaluate"):
        sub = runner.invoke(app, ["recommend", command, "--help"])
        assert sub.exit_code == 0 and "--json" in sub.output and "--project" in sub.output


def test_for_members_fits_then_reads_the_mart(project):
    root = str(project.root)
    out = runner.invoke(
        app,
        [
            "recommend",
            "for",
            "M000000001",
            "M000000002",
            "nobody",
            "--k",
            "5",
            "--project",
            root,
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [r["member_id"] for r in rows] == ["M000000001"] * 5 + ["M000000002"] * 5 + [
        "nobody"
    ] * 5
    assert {r["source"] for r in rows[10:]} == {"popular"}
    assert all(r["reason_zh"] and r["product_name"] for r in rows)
    # with the mart `memberlens run` writes, the same command reads it instead of fitting
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.recommend import recommendation_mart

    with open_warehouse(project) as wh:
        recs, _ = recommendation_mart(
            wh.table("orders"),
            wh.table("order_items"),
            wh.table("products"),
            wh.table("events"),
            as_of="2025-12-31",
            k=5,
            kind="popular",
        )
        wh.con.create_table("mart_recommendations", recs, overwrite=True)
    out = runner.invoke(
        app, ["recommend", "for", "M000000001", "--k", "5", "--project", root, "--json"]
    )
    assert out.exit_code == 0, out.output
    assert {r["source"] for r in json.loads(out.output)} == {"popular"}
    out = runner.invoke(
        app, ["--quiet", "recommend", "for", "M000000001", "--kind", "als", "--project", root]
    )
    assert out.exit_code == 0, out.output
    assert "M000000001" in out.output and "als" in out.output


def test_evaluate(project):
    out = runner.invoke(
        app,
        [
            "recommend",
            "evaluate",
            "--cutoff",
            "2025-09-30",
            "--project",
            str(project.root),
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    kinds = {s["kind"]: s for s in result["scores"]}
    assert set(kinds) == {"popular", "als", "item_knn", "hybrid"}
    assert kinds["hybrid"]["ndcg"] > kinds["popular"]["ndcg"]
    table = runner.invoke(
        app,
        [
            "--quiet",
            "recommend",
            "evaluate",
            "--cutoff",
            "2025-09-30",
            "--k",
            "5",
            "--project",
            str(project.root),
        ],
    )
    assert table.exit_code == 0 and "NDCG@5" in table.output


def test_bad_kind_is_refused(project):
    out = runner.invoke(
        app, ["recommend", "for", "M000000001", "--kind", "svd", "--project", str(project.root)]
    )
    assert out.exit_code != 0
    assert "--kind" in str(out.exception) + out.output
