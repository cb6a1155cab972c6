"""``memberlens simulate`` from the command line (reference: the CLI contract of issue 4)."""

from __future__ import annotations

import pyarrow.parquet as pq
from typer.testing import CliRunner

import memberlens.cli.simulate  # noqa: F401  (registers the command)
from memberlens.cli._app import app


def test_simulate_writes_tables_and_prints_a_summary(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            str(tmp_path / "shop"),
            "--members",
            "400",
            "--seed",
            "3",
            "--dirty",
            "--start",
            "2024-01-01",
            "--days",
            "365",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "orders" in result.output and "dirty/orders.csv" in result.output
    orders = pq.read_table(tmp_path / "shop" / "orders.parquet")
    assert f"{orders.num_rows:,}" in result.output
    assert (tmp_path / "shop" / "truth" / "dirty.json").exists()


def test_simulate_help_and_bad_start(tmp_path):
    runner = CliRunner()
    help_text = runner.invoke(app, ["simulate", "--help"]).output
    for option in ("--members", "--seed", "--start", "--days", "--dirty"):
        assert option in help_text
    result = runner.invoke(app, ["simulate", str(tmp_path), "--start", "yesterday"])
    assert result.exit_code != 0
    assert "--start" in str(result.exception)
