"""The ``campaigns`` step: ``mart_campaign_results`` equals the campaign report of each campaign
(the same function on the same tables), with segment and tier rows, and respects the as-of date."""

from __future__ import annotations

import math

import pytest

from memberlens.engine.warehouse import open_warehouse
from memberlens.experiments.projects import campaign_report_project
from memberlens.pipeline.run import run_pipeline
from memberlens.project import Project
from memberlens.simulate import simulate_shop


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from memberlens.cli import main

    def ml(*args):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            assert exc.code in (0, None), args

    root = tmp_path_factory.mktemp("campaign_step")
    simulate_shop(root / "shop", members=3_000, seed=11)
    ml("init", root / "p", "--as-of", "2025-12-31")
    for table in ("orders", "campaigns", "campaign_members"):
        ml("-q", "ingest", table, root / "shop" / f"{table}.parquet", "-p", root / "p")
    toml = root / "p" / "memberlens.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8")
        + "\n[costs]\nmessage = { sms = 0.05, wechat = 0.01, email = 0.001, app_push = 0.0 }\n"
        "margin = 0.3\n",
        encoding="utf-8",
    )
    run_pipeline(root / "p", steps=["summary", "segments", "tiers", "campaigns"])
    return Project.load(root / "p")


def _mart(project):
    with open_warehouse(project, read_only=True) as wh:
        return wh.table("mart_campaign_results").to_pandas()


def test_mart_equals_the_report_of_each_campaign(project):
    mart = _mart(project)
    assert set(mart["by"].dropna()) == {"segment", "tier"}
    for cid in sorted(mart.campaign_id.unique())[-3:]:
        report = campaign_report_project(project, cid)
        whole = mart[(mart.campaign_id == cid) & mart["by"].isna()]
        for arm in report.arms:
            rows = whole[whole.arm == arm.arm].set_index("metric")
            assert rows.loc["n", "value"] == arm.n
            assert rows.loc["conversion_rate", "value"] == pytest.approx(arm.conversion_rate)
            assert rows.loc["retention_rate", "value"] == pytest.approx(arm.retention_rate)
        for c in report.comparisons:
            row = whole[(whole.arm == c.arm) & (whole.metric == c.metric)].iloc[0]
            assert row.difference == pytest.approx(c.difference, rel=1e-12)
            assert row.p_value == pytest.approx(c.p_value, rel=1e-12)
            assert row.ci_low == pytest.approx(c.ci_low, rel=1e-12)
        roi = whole[whole.metric == "roi"].iloc[0]
        e = report.economics[0]
        assert roi.value == pytest.approx(e.roi, rel=1e-12)


def test_segment_rows_partition_the_campaign_and_adjust_over_the_family(project):
    mart = _mart(project)
    cid = sorted(mart.campaign_id.unique())[-1]
    one = mart[(mart.campaign_id == cid) & (mart.metric == "n")]
    whole = one[one["by"].isna()].set_index("arm").value
    for by in ("segment", "tier"):
        parts = one[one["by"] == by].groupby("arm").value.sum()
        assert parts.to_dict() == whole.to_dict()
    tested = mart[(mart.campaign_id == cid) & mart.p_value.notna()]
    assert (tested.p_value_holm >= tested.p_value - 1e-15).all()
    assert (tested.p_value_bh <= tested.p_value_holm + 1e-15).all()
    assert all(not math.isnan(v) for v in tested.p_value_holm)


def test_segment_rows_carry_the_bayesian_readouts(project):
    """Each segment x arm x metric row has P(beat control) and the expected loss; on conversion
    they equal the Beta-Binomial read-out of the segment's own arm counts (checked against
    Stucchio's worked example in tests/experiments/test_bayesian.py)."""
    from memberlens.experiments.bayesian import beta_binomial_readout
    from memberlens.experiments.statistics import Proportion

    mart = _mart(project)
    tiers = mart[(mart["by"] == "tier") & mart.p_value.notna()]
    cid = tiers.campaign_id.value_counts().index[0]  # the campaign with the most tested rows
    rows = mart[(mart.campaign_id == cid) & (mart["by"] == "tier")]
    tested = rows[rows.p_value.notna()]
    assert len(tested) > 0
    assert tested.probability_to_beat_control.between(0.0, 1.0).all()
    assert (tested.expected_loss >= 0.0).all()
    counts = rows[rows.metric.isin(["n", "buyers"])].pivot_table(
        index=["segment", "arm"], columns="metric", values="value"
    )
    for row in tested[tested.metric == "conversion_rate"].itertuples():
        c, t = counts.loc[(row.segment, "control")], counts.loc[(row.segment, row.arm)]
        want = beta_binomial_readout(
            Proportion(int(c.n), int(c.buyers)), Proportion(int(t.n), int(t.buyers))
        )
        assert row.probability_to_beat_control == pytest.approx(
            want.probability_to_beat_control, rel=1e-12
        )
        assert row.expected_loss == pytest.approx(want.expected_loss, rel=1e-9, abs=1e-15)


def test_programme_roi_takes_past_campaigns_and_costs(project):
    """`experiment roi -p`: baseline, lift and AOV from the past campaigns (checked against
    each campaign's own report), margin from [costs]."""
    import json

    from memberlens.experiments.projects import campaign_list_project, past_campaign_inputs

    got = past_campaign_inputs(project, "sms")
    reports = [
        campaign_report_project(project, row["campaign_id"])
        for row in campaign_list_project(project)
        if row.get("channel") == "sms"
    ]
    controls = [next(a for a in r.arms if a.arm == "control") for r in reports]
    treated = [next(a for a in r.arms if a.arm == "treatment") for r in reports]
    n_c = sum(a.n for a in controls)
    assert got["baseline_rate"] == pytest.approx(sum(a.buyers for a in controls) / n_c)
    lift = sum(
        (t.conversion_rate - c.conversion_rate) * t.n for t, c in zip(treated, controls)
    ) / sum(t.n for t in treated)
    assert got["lift"] == pytest.approx(lift, rel=1e-12)
    assert got["aov"] == pytest.approx(
        sum(t.revenue for t in treated) / sum(t.orders for t in treated)
    )
    assert got["message_cost"] == 0.05 and got["margin"] == 0.3
    import contextlib
    import io

    from memberlens.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        main(
            [
                "experiment",
                "roi",
                "-p",
                str(project.root),
                "--channel",
                "sms",
                "--members",
                "3000",
                "--json",
            ]
        )
    assert done.value.code in (0, None)
    result = json.loads(out.getvalue())
    assert result["inputs"]["lift"] == pytest.approx(lift, rel=1e-12)
    assert result["from_campaigns"]["campaigns"] == len(reports)


def test_campaigns_after_the_as_of_date_are_left_out(project):
    import datetime as dt

    run_pipeline(project.root, steps=["campaigns"], as_of=dt.date(2024, 12, 31))
    mart = _mart(project)
    assert (mart.starts_at < "2025-01-01").all()
