"""``memberlens churn train|score|report`` (Typer app, in process)."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

import memberlens.cli.churn  # noqa: F401  (registers the sub-app until cli/__init__ imports it)
from memberlens.cli import app

runner = CliRunner()


def test_help_lists_the_commands():
    out = runner.invoke(app, ["churn", "--help"])
    assert out.exit_code == 0
    for command in ("train", "score", "report"):
        assert command in out.output
    for command in ("train", "score", "report"):
        sub = runner.invoke(app, ["churn", command, "--help"])
        assert sub.exit_code == 0 and "--json" in sub.output and "--project" in sub.output


def test_report_and_score_run_on_a_trained_project(demo_project, trained, tmp_path):
    out = runner.invoke(app, ["churn", "report", "--project", str(demo_project.root), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert {m["model"] for m in report["metrics"]} >= {"lightgbm", "logistic", "bgnbd_p_alive"}
    export = tmp_path / "scores.xlsx"
    out = runner.invoke(
        app,
        ["--quiet", "churn", "score", "--project", str(demo_project.root), "--export", str(export)],
    )
    assert out.exit_code == 0, out.output
    sheet = pd.read_excel(export)
    assert {"member_id", "churn_probability", "reason_1_en", "reason_1_zh"} <= set(sheet.columns)


def test_score_without_a_model_says_how_to_fix(tmp_path):
    from memberlens.project import init_project

    init_project(tmp_path / "empty")
    out = runner.invoke(app, ["churn", "score", "--project", str(tmp_path / "empty")])
    assert out.exit_code != 0
    assert "churn train" in str(out.exception) + out.output


def test_category_propensity_report_and_score(demo_project, category_training, tmp_path):
    assert category_training["target"] == "category"
    assert len(category_training["categories"]) == 5
    out = runner.invoke(
        app,
        [
            "churn",
            "report",
            "--project",
            str(demo_project.root),
            "--target",
            "propensity",
            "--category",
            "all",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    per_category = {m["category"] for m in report["metrics"]} - {None}
    assert per_category == set(category_training["categories"])
    export = tmp_path / "categories.csv"
    out = runner.invoke(
        app,
        [
            "--quiet",
            "churn",
            "score",
            "--project",
            str(demo_project.root),
            "--target",
            "propensity",
            "--category",
            "all",
            "--export",
            str(export),
        ],
    )
    assert out.exit_code == 0, out.output
    sheet = pd.read_csv(export)
    assert {"member_id", "category", "purchase_probability", "reason_1_zh"} <= set(sheet.columns)
    assert len(sheet) == 5 * sheet["member_id"].nunique()


def test_category_needs_the_propensity_target_and_a_known_name(demo_project):
    out = runner.invoke(
        app, ["churn", "train", "--project", str(demo_project.root), "--category", "all"]
    )
    assert out.exit_code != 0 and "--target propensity" in str(out.exception)
    out = runner.invoke(
        app,
        [
            "churn",
            "train",
            "--project",
            str(demo_project.root),
            "--target",
            "propensity",
            "--category",
            "玩具",
        ],
    )
    assert out.exit_code != 0 and "美妆" in str(out.exception)  # lists the known ones
