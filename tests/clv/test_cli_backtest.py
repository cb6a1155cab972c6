"""``memberlens backtest`` on the CDNOW demo project (FHL 2005 split) and its core function."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import memberlens.cli.clv  # noqa: F401  (registers the command until cli/__init__ imports it)
from memberlens.cli._app import app
from memberlens.clv.checking import backtest_orders
from memberlens.exceptions import ConfigError


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory):
    from memberlens.pipeline.demo import run_demo

    directory = tmp_path_factory.mktemp("demo")
    run_demo(directory)
    return directory


def test_backtest_json_reproduces_fhl_2005(demo_project, reference, tmp_path):
    result = CliRunner().invoke(app, ["backtest", "--calibration-end", "1997-09-30",
                                      "--holdout-end", "1998-06-30", "-p", str(demo_project),
                                      "--json", "--plot", str(tmp_path / "b.png")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert round(report["params"]["alpha"], 3) == reference["bgnbd_paper"]["alpha"]
    assert report["error"]["actual_total"] == 1882
    assert round(report["error"]["correlation"], 3) == \
        reference["holdout"]["bgnbd_correlation_paper"]
    assert report["tracking"]["periods"]["actual_cumulative"][-1] == 4339
    assert (tmp_path / "b.png").stat().st_size > 0


def test_backtest_table_output(demo_project):
    result = CliRunner().invoke(app, ["backtest", "--calibration-end", "1997-09-30",
                                      "--holdout-end", "1998-06-30", "-p", str(demo_project),
                                      "--model", "pnbd"])
    assert result.exit_code == 0, result.output
    assert "pnbd on 2,357 members" in result.stdout and "7+" in result.stdout


def test_unknown_model_is_refused(cdnow_transactions):
    with pytest.raises(ConfigError, match="model must be one of"):
        backtest_orders(cdnow_transactions, calibration_end="1997-09-30",
                        holdout_end="1998-06-30", model="xyz")
