"""`memberlens run --steps/--skip/--strict` and the last run in `memberlens status`, run as a user
runs them (a subprocess), on the real CDNOW sample."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pytest

from memberlens.pipeline.demo import export_cdnow_csv


def ml(*args, expect=0):
    proc = subprocess.run(
        [sys.executable, "-m", "memberlens", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    ml("init", root / "p", "--locale", "en")
    ml("ingest", "orders", export_cdnow_csv(root / "cdnow.csv"), "-p", root / "p")
    return root / "p"


def sql(shop, query):
    with duckdb.connect(str(shop / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(query).fetchall()


def test_skip_and_status(shop):
    run = json.loads(ml("run", "-p", shop, "--skip", "churn,forecast", "--json").stdout)
    status = {s["step"]: s["status"] for s in run["steps"]}
    assert status["churn"] == status["forecast"] == "skipped"
    assert status["clv"] == status["members"] == "ok"
    clv = next(s for s in run["steps"] if s["step"] == "clv")
    assert clv["seconds"] > 0 and clv["peak_memory"] > 0 and clv["rows_out"] == 2357
    assert clv["writes"] == ["mart_model_comparison"] and "mart_models" in run["marts"]
    # status shows the same run, step by step, with seconds, rows and memory
    last = json.loads(ml("status", "-p", shop, "--json").stdout)["last_run"]
    assert [r["step"] for r in last] == [s["step"] for s in run["steps"]]
    assert {r["run_id"] for r in last} == {run["run_id"]}
    text = ml("status", "-p", shop).stdout
    assert "peak MiB" in text and f"last run {run['run_id']}" in text


def test_steps_keep_the_other_steps_columns(shop):
    ml("run", "-p", shop, "--skip", "churn,forecast")
    totals = "select round(sum(clv), 6), count(value_tier), count(cluster) from mart_members"
    before = sql(shop, totals)
    run = json.loads(ml("run", "-p", shop, "--steps", "summary,segments,members", "--json").stdout)
    status = {s["step"]: s["status"] for s in run["steps"]}
    assert status["clv"] == "skipped" and status["segments"] == "ok"
    note = next(s["message"] for s in run["steps"] if s["step"] == "members")
    assert "kept from the stored mart" in note and "clv" in note
    # CLV, tiers and clusters of the earlier run of the same date are still in the mart
    after = sql(shop, totals)
    assert after == before and after[0][1] == 2357


def test_a_step_reads_the_stored_members_when_its_producer_did_not_run(shop):
    ml("run", "-p", shop, "--skip", "churn,forecast")
    run = json.loads(ml("run", "-p", shop, "--steps", "tiers", "--json").stdout)
    tiers = next(s for s in run["steps"] if s["step"] == "tiers")
    assert tiers["status"] == "ok" and tiers["rows_out"] == 2357
    # with no stored mart of that date it says so instead
    run = json.loads(
        ml("run", "-p", shop, "--steps", "tiers", "--as-of", "1998-01-31", "--json").stdout
    )
    tiers = next(s for s in run["steps"] if s["step"] == "tiers")
    assert tiers["status"] == "skipped"
    assert "no stored mart of 1998-01-31" in tiers["message"]


def test_unknown_step_names_the_nearest(shop):
    err = ml("run", "-p", shop, "--skip", "recomendations", expect=2).stderr
    assert "did you mean 'recommendations'?" in err


def test_strict_exits_8_when_a_step_degraded(shop):
    # with 春节 asked for, the forecast cannot use CDNOW's 1997 (before the 春节 table): degraded
    toml = shop / "memberlens.toml"
    before = toml.read_text()
    toml.write_text(before + '\n[forecast]\nfestivals = ["spring_festival_holiday"]\n')
    try:
        out = ml("run", "-p", shop, "--steps", "summary,forecast", "--strict", expect=8).stdout
    finally:
        toml.write_text(before)
    assert "degraded:" in out and "forecast:" in out


def test_a_run_log_of_the_older_layout_is_migrated_and_read(tmp_path):
    # a warehouse whose _runs predates seconds, peak_memory and position: the next writer adds
    # the columns, status reads the old rows
    ml("init", tmp_path / "p")
    with duckdb.connect(str(tmp_path / "p" / "warehouse.duckdb")) as con:
        con.sql(
            "create table _runs (run_id varchar, step varchar, as_of date, config_hash varchar, "
            "started_at timestamp, finished_at timestamp, rows_in bigint, rows_out bigint, "
            "status varchar, message varchar)"
        )
        con.sql(
            "insert into _runs values ('r1', 'summary', '2024-01-31', 'h', "
            "'2024-02-01 10:00', '2024-02-01 10:01', 10, 5, 'ok', '')"
        )
    ml("ingest", "orders", export_cdnow_csv(tmp_path / "cdnow.csv"), "-p", tmp_path / "p")
    last = json.loads(ml("status", "-p", tmp_path / "p", "--json").stdout)["last_run"]
    assert [(r["run_id"], r["step"], r["position"]) for r in last] == [("r1", "summary", None)]
    assert "last run r1" in ml("status", "-p", tmp_path / "p").stdout
