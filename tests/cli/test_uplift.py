"""``memberlens uplift fit|report|targets`` as a user runs them, on a simulated shop loaded
through ingest (memberlens.simulate, 8,000 members, seed 7)."""

from __future__ import annotations

import json

import openpyxl
import pytest


@pytest.fixture(scope="module")
def project(tmp_path_factory, ml):
    from memberlens.simulate import simulate_shop

    root = tmp_path_factory.mktemp("uplift_cli")
    simulate_shop(root / "shop", members=8_000, seed=7)
    ml("init", root / "p", "--locale", "en")
    for table in ("members", "orders", "campaigns", "campaign_members"):
        ml("-q", "ingest", table, root / "shop" / f"{table}.parquet", "-p", root / "p")
    return root / "p"


def test_fit_report_targets(project, ml):
    out = ml(
        "uplift",
        "fit",
        "CMP202505",
        "-p",
        project,
        "--margin",
        "0.3",
        "--contact-cost",
        "0.05",
        "--json",
    )
    fit = json.loads(out.stdout)
    methods = [e["method"] for e in fit["evaluations"]]
    assert methods == ["t_learner", "x_learner", "class_transformation"]
    assert (
        fit["chosen_method"]
        == max(fit["evaluations"], key=lambda e: e["qini_coefficient"])["method"]
    )
    assert fit["n_train"] + fit["n_test"] == fit["n_members"]
    assert len(fit["evaluations"][0]["deciles"]) == 10
    assert fit["scored_members"] == 8_000  # every member of the members table

    report = json.loads(ml("uplift", "report", "CMP202505", "-p", project, "--json").stdout)
    assert report == fit
    text = ml("uplift", "report", "-p", project).stdout
    assert "Qini" in text and "decile" in text

    top = json.loads(
        ml("uplift", "targets", "CMP202505", "-p", project, "--top", "20", "--json").stdout
    )
    assert len(top) == 20
    uplift = [r["uplift"] for r in top]
    assert uplift == sorted(uplift, reverse=True)
    # expected incremental profit = uplift x revenue per treated buyer x margin - contact cost
    r = top[0]
    assert r["expected_incremental_profit"] == pytest.approx(
        r["uplift"] * fit["revenue_per_buyer"] * 0.3 - 0.05
    )
    # the chosen learner is saved (format version, feature list) and rescores without a refit
    saved = json.loads(
        (project / ".memberlens" / "models" / "uplift-CMP202505" / "model.json").read_text()
    )
    assert saved["format_version"] == 1 and saved["method"] == fit["chosen_method"]
    assert saved["feature_names"] and saved["metadata"]["campaign_id"] == "CMP202505"
    again = json.loads(
        ml(
            "uplift", "targets", "CMP202505", "-p", project, "--top", "20", "--json", "--rescore"
        ).stdout
    )
    assert [r["member_id"] for r in again] == [r["member_id"] for r in top]
    assert [r["uplift"] for r in again] == pytest.approx(uplift, rel=1e-9)
    xlsx = project.parent / "targets.xlsx"
    ml(
        "uplift",
        "targets",
        "CMP202505",
        "-p",
        project,
        "--top",
        "50",
        "--by",
        "profit",
        "--export",
        xlsx,
    )
    sheet = openpyxl.load_workbook(xlsx).active
    assert sheet.max_row == 51 and sheet.cell(1, 1).value == "member_id"

    # the mart an audience can select on: one row per member for this campaign
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.project import Project

    wh = open_warehouse(Project.load(project), read_only=True)
    try:
        t = wh.table("mart_uplift_scores")
        assert t.filter(t.campaign_id == "CMP202505").count().execute() == 8_000
        assert {"member_id", "campaign_id", "uplift", "expected_incremental_profit"} <= set(
            t.columns
        )
    finally:
        wh.close()


def test_user_errors(project, ml):
    bad = ml("uplift", "fit", "NOPE", "-p", project, check=False)
    assert bad.returncode != 0 and "not in the campaigns table" in bad.stderr
    assert "internal error" not in bad.stderr
    bad = ml("uplift", "fit", "CMP202505", "-p", project, "--method", "s_learner", check=False)
    assert bad.returncode != 0 and "--method must be one of" in bad.stderr
    bad = ml("uplift", "targets", "CMP202301", "-p", project, check=False)
    assert bad.returncode != 0 and "uplift fit CMP202301" in bad.stderr
    bad = ml("segments", "evaluate", "-p", project, check=False)
    assert bad.returncode != 0 and "memberlens run" in bad.stderr


def test_a_model_fitted_without_a_margin_has_no_profit_to_rank_by(project, ml):
    """Without a margin the expected profit is blank for everyone: ``--by profit`` would rank
    blanks (an arbitrary list), so it is refused with the fix, and ``--json`` shows the blank
    as null (strict JSON, no NaN)."""
    ml("-q", "uplift", "fit", "CMP202505", "--method", "t_learner", "-p", project)
    for rescore in ((), ("--rescore",)):
        bad = ml("uplift", "targets", "CMP202505", "--by", "profit", *rescore, "-p", project,
                 check=False)  # fmt: skip
        assert bad.returncode == 2, bad.stderr
        assert "--margin 0.3" in bad.stderr and "--by uplift" in bad.stderr

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    out = ml("uplift", "targets", "CMP202505", "--top", "5", "--json", "-p", project).stdout
    rows = json.loads(out, parse_constant=no_constants)
    assert len(rows) == 5 and all(r["expected_incremental_profit"] is None for r in rows)
