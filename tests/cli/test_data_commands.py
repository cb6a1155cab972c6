"""The public CLI, run as a user runs it (a subprocess): init, ingest, status, quarantine."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest

from memberlens.pipeline.demo import export_cdnow_csv


def ml(*args, cwd=None, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "memberlens", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_init_writes_the_project_file(tmp_path):
    ml("init", tmp_path / "shop", "--as-of", "2024-06-30", "--currency", "CNY", "--locale", "en")
    cfg = tomllib.loads((tmp_path / "shop" / "memberlens.toml").read_text())
    assert cfg["project"] == {
        "name": "shop",
        "as_of": "2024-06-30",
        "currency": "CNY",
        "locale": "en",
        "timezone": "UTC",
        "defaults_from_data": False,
    }
    assert cfg["warehouse"] == {
        "engine": "duckdb",
        "path": "warehouse.duckdb",
        "memory_limit": "4GB",
    }
    assert set(cfg["sources"]) == {
        "coupons",
        "redemptions",
        "members",
        "orders",
        "order_items",
        "products",
        "events",
        "interactions",
        "campaigns",
        "campaign_members",
        "identities",
    }
    assert (tmp_path / "shop" / ".memberlens" / "secret.key").stat().st_mode & 0o777 == 0o600
    again = ml("init", tmp_path / "shop", check=False)
    assert again.returncode == 2 and "--force" in again.stderr


def test_cdnow_through_the_cli(tmp_path):
    # CDNOW 1/10 sample (Lifetimes 0.11.3 wheel): 6,919 lines, 2,357 customers, $244,091.94.
    ml("init", tmp_path / "p")
    src = export_cdnow_csv(tmp_path / "cdnow.csv")
    dry = json.loads(
        ml(
            "ingest",
            "orders",
            src,
            "-p",
            tmp_path / "p",
            "--dry-run",
            "--json",
            "--write-mapping",
            tmp_path / "map.toml",
        ).stdout
    )
    assert dry["mapping"] == {
        "order_id": "_generated_order_id",
        "member_id": "customer_id",
        "ordered_at": "date",
        "amount": "dollar_value",
    }
    assert "order_id: none in the file" in (tmp_path / "map.toml").read_text()
    assert dry["unused"] == ["number_of_cds"]
    assert dry["rows"][0]["ordered_at"].startswith("1997-01-01")
    rep = json.loads(
        ml(
            "ingest",
            "orders",
            src,
            "-p",
            tmp_path / "p",
            "--mapping",
            tmp_path / "map.toml",
            "--json",
        ).stdout
    )
    assert (
        rep["rows_read"],
        rep["rows_stored"],
        rep["rows_quarantined"],
        rep["duplicates_dropped"],
    ) == (6919, 6919, 0, 0)
    status = json.loads(ml("status", "-p", tmp_path / "p", "--json").stdout)
    orders = {t["table"]: t for t in status["tables"]}["orders"]
    assert orders["rows_stored"] == 6919
    assert orders["first_at"].startswith("1997-01-01") and orders["last_at"].startswith(
        "1998-06-30"
    )
    import duckdb

    with duckdb.connect(str(tmp_path / "p" / "warehouse.duckdb"), read_only=True) as con:
        total, members = con.sql(
            "select sum(amount), count(distinct member_id) from orders"
        ).fetchone()
    assert (float(total), members) == (244091.94, 2357)
    again = json.loads(ml("ingest", "orders", src, "-p", tmp_path / "p", "--json").stdout)
    assert again["already_loaded"] and again["rows_stored"] == 0


def test_quarantine_listing_and_export(tmp_path):
    ml("init", tmp_path / "p")
    (tmp_path / "o.csv").write_text(
        "order_id,member_id,ordered_at,amount\n"
        "o1,m1,2024-01-01,10\no2,m1,yesterday,10\no3,m2,2024-01-02,x\n"
    )
    ml("ingest", "orders", tmp_path / "o.csv", "-p", tmp_path / "p")
    rows = json.loads(ml("quarantine", "orders", "-p", tmp_path / "p", "--json").stdout)
    assert [(r["line"], r["field"], r["rule"]) for r in rows] == [
        (3, "ordered_at", "bad_date"),
        (4, "amount", "bad_number"),
    ]
    ml("quarantine", "orders", "-p", tmp_path / "p", "--export", tmp_path / "q.csv")
    text = (tmp_path / "q.csv").read_text(encoding="utf-8-sig")
    assert "yesterday" in text and text.count("\n") == 3


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["ingest", "orders", "nope.csv"], 3, "no such file"),
        (["ingest", "bogus", "x.csv"], 2, "unknown table 'bogus'"),
        (["status"], 2, "memberlens init"),
    ],
)
def test_errors_are_one_line_with_exit_codes(tmp_path, args, code, words):
    if args[0] != "status":
        ml("init", tmp_path / "p")
        args = [*args, "-p", tmp_path / "p"]
    proc = ml(*args, cwd=tmp_path, check=False)
    assert proc.returncode == code, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_every_command_has_help():
    top = ml("--help").stdout
    for cmd in ("init", "ingest", "status", "quarantine", "demo"):
        assert cmd in top
        assert "Usage" in ml(cmd, "--help").stdout


def test_run_and_members_commands(tmp_path):
    ml("init", tmp_path / "p")
    ml("ingest", "orders", export_cdnow_csv(tmp_path / "cdnow.csv"), "-p", tmp_path / "p")
    run = json.loads(ml("run", "-p", tmp_path / "p", "--json").stdout)
    assert run["as_of"] == "1998-06-30" and run["marts"]["mart_members"] == 2357
    top = json.loads(
        ml(
            "members",
            "-p",
            tmp_path / "p",
            "--segment",
            "important_value",
            "--limit",
            "5",
            "--json",
        ).stdout
    )
    assert len(top) == 5 and {r["segment_cn8"] for r in top} == {"important_value"}
    assert [r["clv"] for r in top] == sorted((r["clv"] for r in top), reverse=True)
    ml("members", "-p", tmp_path / "p", "--tier", "churn_risk", "--export", tmp_path / "c.xlsx")
    import pandas as pd

    exported = pd.read_excel(tmp_path / "c.xlsx")
    assert len(exported) > 0 and set(exported.value_tier) == {"churn_risk"}
    bad = ml("members", "-p", tmp_path / "p", "--segment", "x", "--scheme", "nope", check=False)
    assert bad.returncode != 0 and "use one of" in bad.stderr


def test_demo_builds_a_shop_end_to_end(tmp_path):
    out = ml(
        "demo", "--dir", tmp_path / "demo", "--members", "3000", "--seed", "3", "--no-serve"
    ).stdout
    assert "重要价值客户" in out and "RFM 八类" in out and "¥" in out
    import duckdb

    with duckdb.connect(str(tmp_path / "demo" / "warehouse.duckdb"), read_only=True) as con:
        tables = {r[0] for r in con.sql("show tables").fetchall()}
        quarantined = con.sql("select sum(rows_quarantined) from _loads").fetchone()[0]
        members = con.sql("select count(*) from mart_members").fetchone()[0]
        buyers = con.sql(
            "select count(distinct member_id) from orders where status = 'paid'"
        ).fetchone()[0]
    assert {
        "members",
        "orders",
        "order_items",
        "products",
        "events",
        "interactions",
        "campaigns",
        "campaign_members",
        "identities",
        "mart_members",
    } <= tables
    assert quarantined == 0  # the clean simulated shop passes every ingest rule
    assert members == buyers
    again = ml(
        "demo", "--dir", tmp_path / "demo", "--members", "3000", "--seed", "3", "--no-serve"
    ).stdout
    assert "loaded before" in again
