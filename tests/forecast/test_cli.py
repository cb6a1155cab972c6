"""``memberlens forecast`` and ``memberlens forecast backtest`` (Typer app, in process), on a
project loaded from the simulated shop through the public ingest path."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import memberlens.cli.forecast  # noqa: F401  (registers the sub-app until cli/__init__ imports it)
from memberlens.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def project(shop, tmp_path_factory):
    from memberlens.ingest import load
    from memberlens.project import init_project

    folder, _ = shop
    proj = init_project(tmp_path_factory.mktemp("forecast-project"))
    for table in ("products", "orders", "order_items"):
        load(table, folder / f"{table}.parquet", project=proj)
    return proj


def test_help_says_what_each_option_does():
    out = runner.invoke(app, ["forecast", "--help"])
    assert out.exit_code == 0
    for text in (
        "--horizon",
        "--level",
        "--metric",
        "--project",
        "--json",
        "--export",
        "backtest",
        "春节",
    ):
        assert text in out.output
    sub = runner.invoke(app, ["forecast", "backtest", "--help"])
    assert sub.exit_code == 0 and "--json" in sub.output and "seasonal-naive" in sub.output


def test_forecast_json_and_export(project, tmp_path, weekly_total):
    export = tmp_path / "forecast.csv"
    out = runner.invoke(
        app,
        [
            "forecast",
            "--project",
            str(project.root),
            "--horizon",
            "6",
            "--metric",
            "orders",
            "--json",
            "--export",
            str(export),
        ],
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["level"] == "total" and payload["metric"] == "orders"
    assert [row["week"] for row in payload["forecast"]][:2] == ["2025-12-29", "2026-01-05"]
    assert payload["last_week"] == weekly_total["week"].max().date().isoformat()
    assert {e["festival"] for e in payload["festival_effects"]} >= {"double11", "day_618"}
    assert any("last week (2025-12-29) is dropped" in n for n in payload["notes"])
    written = pd.read_csv(export, encoding="utf-8-sig")
    assert len(written) == 6 and {"yhat", "yhat_lower", "yhat_upper"} <= set(written.columns)


def test_forecast_table_by_category(project):
    out = runner.invoke(
        app, ["forecast", "--project", str(project.root), "--level", "category", "--horizon", "2"]
    )
    assert out.exit_code == 0, out.output
    assert "美妆" in out.output and "revenue forecast" in out.output


def test_backtest_json(project):
    out = runner.invoke(
        app, ["forecast", "backtest", "--project", str(project.root), "--origins", "2", "--json"]
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    models = {(row["model"], row["horizon"]) for row in payload["summary"]}
    assert ("seasonal_naive", 13) in models and ("forecast", 1) in models


def test_bad_level_exits_with_the_fix(project):
    from memberlens.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["forecast", "--project", str(project.root), "--level", "brand"])
    assert stop.value.code == 2


def test_forecast_json_lists_the_calendar_it_used(project, shop, tmp_path):
    out = runner.invoke(app, ["forecast", "-p", str(project.root), "--horizon", "4", "--json"])
    assert out.exit_code == 0, out.output
    festivals = json.loads(out.output)["festivals"]
    assert [f["name"] for f in festivals][-1] == "double12"
    assert all({"name", "dates", "lift", "kept"} <= set(f) for f in festivals)
    # a UK-style project (locale en): no Chinese calendar, no 双12 effect
    from memberlens.ingest import load
    from memberlens.project import init_project

    uk = init_project(tmp_path / "uk", currency="GBP", locale="en")
    load("orders", shop[0] / "orders.parquet", project=uk)
    out = runner.invoke(app, ["forecast", "-p", str(uk.root), "--horizon", "4", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["festivals"] == [] and payload.get("festival_effects", []) == []
    assert "no festival calendar" in payload["notes"]
    # an explicit list replaces the default, and 'none' means none
    out = runner.invoke(
        app, ["forecast", "-p", str(uk.root), "--json", "--festivals", "double11,day_618"]
    )
    assert [f["name"] for f in json.loads(out.output)["festivals"]] == ["double11", "day_618"]
    out = runner.invoke(app, ["forecast", "-p", str(project.root), "--json", "--festivals", "none"])
    assert json.loads(out.output)["festivals"] == []
