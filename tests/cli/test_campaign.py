"""``memberlens campaign list|report`` as a user runs them, on a project loaded through ingest."""

from __future__ import annotations

import json
from types import SimpleNamespace

import ibis
import pytest

from memberlens.cli import main
from memberlens.experiments.campaigns import campaign_report
from memberlens.simulate import simulate_shop


def ml(*args, check=True):
    """The CLI's entry point in this process (exit code, stdout, stderr as a user sees them)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    proc = SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())
    if check and code != 0:
        raise AssertionError(f"exit {code}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaign_cli")
    simulate_shop(root / "shop", members=3_000, seed=5)
    ml("init", root / "p", "--as-of", "2025-12-31")
    for table in ("orders", "campaigns", "campaign_members"):
        ml("-q", "ingest", table, root / "shop" / f"{table}.parquet", "-p", root / "p")
    return root


def test_report_json_has_the_public_surface_and_equals_the_library(project):
    listed = json.loads(ml("campaign", "list", "-p", project / "p", "--json").stdout)
    cid = listed[-1]["campaign_id"]
    out = json.loads(ml("campaign", "report", cid, "-p", project / "p", "--json").stdout)
    arms = {a["arm"]: a for a in out["arms"]}
    assert set(arms) == {"control", "treatment"}
    for key in (
        "n",
        "responders",
        "buyers",
        "orders",
        "revenue",
        "response_rate",
        "conversion_rate",
        "aov",
    ):
        assert key in arms["control"]
    metrics = {c["metric"] for c in out["comparisons"]}
    assert metrics == {
        "conversion_rate",
        "revenue_per_member",
        "response_rate",
        "retention_rate",
    }
    for c in out["comparisons"]:
        for key in ("difference", "relative_lift", "ci_low", "ci_high", "p_value"):
            assert key in c
    con = ibis.duckdb.connect()
    tables = [
        con.read_parquet(project / "shop" / f"{n}.parquet")
        for n in ("campaigns", "campaign_members", "orders")
    ]
    direct = campaign_report(*tables, cid).to_dict()  # the same function on the raw files
    for a, b in zip(out["comparisons"], direct["comparisons"]):
        assert a["p_value"] == pytest.approx(b["p_value"], rel=1e-9)
        assert a["ci_low"] == pytest.approx(b["ci_low"], rel=1e-9)
    assert [a["n"] for a in out["arms"]] == [a["n"] for a in direct["arms"]]


def test_report_text_and_bad_input(project):
    listed = json.loads(ml("campaign", "list", "-p", project / "p", "--json").stdout)
    text = ml("campaign", "report", listed[-1]["campaign_id"], "-p", project / "p").stdout
    assert "treatment vs control, conversion_rate" in text
    bad = ml("campaign", "report", "NOPE", "-p", project / "p", check=False)
    assert bad.returncode == 4 and "not in the campaigns table" in bad.stderr
    bad = ml("campaign", "report", "X", "-p", project / "p", "--response", "view", check=False)
    assert bad.returncode == 2 and "--response must be one of" in bad.stderr


def test_report_by_a_member_attribute(project):
    ml("-q", "ingest", "members", project / "shop" / "members.parquet", "-p", project / "p")
    listed = json.loads(ml("campaign", "list", "-p", project / "p", "--json").stdout)
    cid = listed[-1]["campaign_id"]
    out = json.loads(
        ml("campaign", "report", cid, "-p", project / "p", "--by", "channel", "--json").stdout
    )
    assert out["by"] == "channel" and len(out["segments"]) >= 2
    # the segments partition the arms
    total = sum(a["n"] for s in out["segments"] for a in s["arms"] if a["arm"] == "control")
    assert total == next(a["n"] for a in out["arms"] if a["arm"] == "control")
    # every segment x arm x metric has the Bayesian read-outs the whole campaign has
    compared = [c for s in out["segments"] for c in s["comparisons"]]
    assert compared and all(0.0 <= c["probability_to_beat_control"] <= 1.0 for c in compared)
    assert all(c["expected_loss"] >= 0.0 for c in compared)
    bad = ml("campaign", "report", cid, "-p", project / "p", "--by", "shoe_size", check=False)
    assert bad.returncode == 2 and "--by must be one of" in bad.stderr


def test_report_flags_a_split_that_breaks_the_plan(project):
    listed = json.loads(ml("campaign", "list", "-p", project / "p", "--json").stdout)
    cid = listed[-1]["campaign_id"]
    args = ("campaign", "report", cid, "-p", project / "p", "--json", "--control-share")
    fair = ml(*args, 0.2)
    assert json.loads(fair.stdout)["srm"]["mismatch"] is False
    skewed = ml(*args, 0.5)
    assert json.loads(skewed.stdout)["srm"]["mismatch"] is True
    assert "SAMPLE RATIO MISMATCH" in skewed.stderr


def test_report_by_mart_needs_the_run_and_exports(project, tmp_path):
    listed = json.loads(ml("campaign", "list", "-p", project / "p", "--json").stdout)
    cid = listed[-1]["campaign_id"]
    args = ("campaign", "report", cid, "-p", project / "p")
    bad = ml(*args, "--by", "tier", check=False)
    assert bad.returncode == 5 and "memberlens run" in bad.stderr
    out = ml(*args, "--export", tmp_path / "r.html", "--cuped")
    assert "wrote" in out.stdout and "revenue_per_member_cuped" in out.stdout
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    bad = ml(*args, "--export", tmp_path / "r.pdf", check=False)
    assert bad.returncode == 2 and ".xlsx or .html" in bad.stderr


def test_costs_settings_give_roi_and_bad_costs_are_named(project):
    toml = project / "p" / "memberlens.toml"
    original = toml.read_text(encoding="utf-8")
    listed = json.loads(ml("campaign", "list", "-p", project / "p", "--json").stdout)
    cid, channel = listed[-1]["campaign_id"], listed[-1]["channel"]
    try:
        toml.write_text(
            original + f"\n[costs]\nmessage = {{ {channel} = 0.02 }}\nmargin = 0.3\n"
            '\n[campaigns]\nretention_days = 14\nresponse = "order"\n',
            encoding="utf-8",
        )
        out = json.loads(ml("campaign", "report", cid, "-p", project / "p", "--json").stdout)
        e = out["economics"][0]
        n = next(a["n"] for a in out["arms"] if a["arm"] == "treatment")
        assert e["message_cost"] == pytest.approx(0.02 * n)
        assert e["roi"] == pytest.approx((e["incremental_revenue"] * 0.3 - e["cost"]) / e["cost"])
        assert out["retention_days"] == 14 and out["response"] == "order"
        toml.write_text(original + "\n[costs]\nmessage = { sms = -1 }\n", encoding="utf-8")
        bad = ml("campaign", "report", cid, "-p", project / "p", check=False)
        assert bad.returncode == 2
        assert "[costs] message" in bad.stderr and "sms = -1" in bad.stderr
    finally:
        toml.write_text(original, encoding="utf-8")


def test_drivers_and_factorial_as_a_user_runs_them(project):
    p = project / "p"
    out = json.loads(ml("campaign", "drivers", "--all", "-p", p, "--json").stdout)
    models = {m["outcome"]: m for m in out["models"]}
    assert set(models) == {"spend", "responded"}
    assert models["spend"]["kind"] == "ols" and models["responded"]["kind"] == "logit"
    terms = {c["term"] for c in models["spend"]["coefficients"]}
    assert "treated" in terms and any(t.startswith("C(channel)") for t in terms)
    assert all(
        c["ci_low"] <= c["estimate"] <= c["ci_high"] for c in models["spend"]["coefficients"]
    )
    text = ml("campaign", "drivers", "--all", "-p", p).stdout
    assert "robust (HC1)" in text and "which factors matter" in text
    fac = json.loads(
        ml(
            "campaign",
            "factorial",
            "--all",
            "-p",
            p,
            "--factors",
            "channel",
            "--with-control",
            "--json",
        ).stdout
    )
    assert {a["term"] for a in fac["anova"]} >= {"treated", "channel", "treated x channel"}
    bad = ml("campaign", "drivers", "-p", p, check=False)
    assert bad.returncode == 2 and "--all" in bad.stderr
    bad = ml("campaign", "factorial", "--all", "-p", p, "--factors", "colour", check=False)
    assert bad.returncode == 2 and "colour" in bad.stderr
