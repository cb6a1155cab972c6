"""`memberlens run` on the real CDNOW sample: marts, their reconciliation, atomicity, run log."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from memberlens.ingest import load
from memberlens.pipeline.demo import export_cdnow_csv
from memberlens.pipeline.run import run_pipeline
from memberlens.pipeline.runs import run_log
from memberlens.project import init_project


@pytest.fixture(scope="module")
def cdnow_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("cdnow")
    project = init_project(root / "shop", locale="en")
    load("orders", export_cdnow_csv(root / "cdnow.csv"), project=project)
    return project


def sql(project, query):
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        return con.sql(query).fetchall()


def test_marts_reconcile_with_orders(cdnow_project):
    result = run_pipeline(cdnow_project)
    assert str(result.as_of) == "1998-06-30"  # last order day of the CDNOW sample
    assert result.marts["mart_members"] == 2357
    # revenue in the member mart equals paid revenue in orders ($244,091.94, SOURCE.md)
    assert sql(cdnow_project, "select round(sum(total_spend), 2) from mart_members") == [
        (244091.94,)
    ]
    for scheme in ("cn8", "rfm11"):
        members, share = sql(
            cdnow_project,
            f"select sum(members), sum(revenue_share) from mart_segments where scheme = '{scheme}'",
        )[0]
        assert members == 2357 and share == pytest.approx(1.0)
    assert sql(cdnow_project, "select count(*) from mart_members where segment_cn8 is null") == [
        (0,)
    ]
    assert sql(cdnow_project, "select sum(members) from mart_tiers") == [(2357,)]
    assert sql(cdnow_project, "select sum(members) from mart_lifecycle") == [(2357,)]
    p = sql(cdnow_project, "select min(p_alive), max(p_alive), min(clv) from mart_members")[0]
    assert 0.0 <= p[0] <= p[1] <= 1.0 and p[2] >= 0.0


def test_pipeline_clv_matches_the_clv_model_directly(cdnow_project):
    # The mart's P(alive) is the chosen purchase model's own output on the weekly summary
    # (the model is chosen by the holdout back-test, mart_model_comparison says which).
    from memberlens.clv.selection import CANDIDATES
    from memberlens.engine import connect
    from memberlens.features import interpurchase_log_times, rfm_summary

    run_pipeline(cdnow_project)
    con = connect(cdnow_project, read_only=True)
    summary = rfm_summary(con.table("orders"), as_of="1998-06-30", time_unit="W").to_pandas()
    litt = interpurchase_log_times(con.table("orders"), end="1998-06-30").to_pandas()
    mart = con.table("mart_members").select("member_id", "p_alive").to_pandas()
    table = con.table("mart_model_comparison").to_pandas()
    con.disconnect()
    assert len(table) == 4 and table["chosen"].sum() == 1
    chosen = table.loc[table["chosen"], "model"].item()
    summary = summary.merge(litt, on="member_id")
    model = CANDIDATES[chosen][0]().fit(summary)
    expected = summary.assign(p=model.probability_alive(summary).to_numpy())
    merged = expected.merge(mart, on="member_id")
    assert len(merged) == 2357
    assert (merged.p - merged.p_alive).abs().max() < 1e-6


def test_failed_run_keeps_the_old_marts(cdnow_project, monkeypatch):
    # Ctrl-C while the marts are written: nothing of the new run is published.
    run_pipeline(cdnow_project)
    before = sql(cdnow_project, "select count(*), sum(clv) from mart_members")
    runs_before = len(run_log(cdnow_project, limit=1000))
    from memberlens.pipeline import publish

    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(publish, "record_run", boom)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(cdnow_project)
    assert sql(cdnow_project, "select count(*), sum(clv) from mart_members") == before
    # the failed run is in the log, with the writing as the step that failed
    after = run_log(cdnow_project, limit=1000)
    new = after[: len(after) - runs_before]
    assert new and {r["run_id"] for r in new} == {new[0]["run_id"]}
    failed = [r for r in new if r["status"] == "failed"]
    assert [r["step"] for r in failed] == ["publish"]
    assert failed[0]["message"].startswith("KeyboardInterrupt")


def test_a_failing_step_is_recorded_and_publishes_nothing(cdnow_project, monkeypatch):
    # A step that raises: the run stops, the old marts stay, `_runs` says which step and why.
    import dataclasses

    from memberlens.pipeline import registry

    run_pipeline(cdnow_project)
    before = sql(cdnow_project, "select count(*), sum(clv), max(as_of) from mart_members")

    def broken(_ctx):
        raise ValueError("something the step did not expect")

    steps = tuple(
        dataclasses.replace(s, run=broken) if s.name == "cohorts" else s for s in registry.STEPS
    )
    monkeypatch.setattr("memberlens.pipeline.run.STEPS", steps)
    with pytest.raises(ValueError, match="did not expect"):
        run_pipeline(cdnow_project, as_of=dt.date(1998, 1, 31))
    assert sql(cdnow_project, "select count(*), sum(clv), max(as_of) from mart_members") == before
    log = run_log(cdnow_project, limit=1000)
    run = [r for r in log if r["run_id"] == log[0]["run_id"]]
    by_step = {r["step"]: r for r in run}
    assert by_step["cohorts"]["status"] == "failed"
    assert by_step["cohorts"]["message"] == "ValueError: something the step did not expect"
    assert by_step["lifecycle"]["status"] == "ok"  # the steps before it, as they ran
    assert "profiles" not in by_step  # nothing after it ran


def test_run_log_records_each_step(cdnow_project):
    result = run_pipeline(cdnow_project)
    steps = [r for r in run_log(cdnow_project) if r["run_id"] == result.run_id]
    status = {r["step"]: r["status"] for r in steps}
    # CDNOW has orders only: the steps that need order lines say so instead of running
    assert status == {
        "summary": "ok",
        "clv": "ok",
        "segments": "ok",
        "tiers": "ok",
        "lifecycle": "ok",
        "cohorts": "ok",
        "profiles": "ok",
        "baskets": "skipped",
        "clusters": "ok",
        "replenishment": "skipped",
        "recommendations": "skipped",
        "churn": "ok",
        "forecast": "ok",  # an en project: no festival calendar, and it beats seasonal-naive
        "campaigns": "skipped",  # no campaigns loaded
        "members": "ok",
        "publish": "ok",
    }
    notes = {r["step"]: r["message"] for r in steps}
    assert (
        notes["baskets"] == "needs order_items: load it with `memberlens ingest order_items FILE`"
    )
    assert all(str(r["as_of"]) == "1998-06-30" for r in steps)
    ran = sorted((r for r in steps if r["status"] == "ok"), key=lambda r: r["started_at"])
    # real times: each step starts when the one before it finished
    assert [r["step"] for r in ran][:3] == ["summary", "clv", "segments"]
    for a, b in zip(ran, ran[1:], strict=False):
        assert a["started_at"] <= a["finished_at"] <= b["started_at"]
    assert all(r["seconds"] >= 0 and r["peak_memory"] > 0 for r in ran)


def test_demo_shop_marts_use_every_table(tmp_path):
    # The simulated shop has members, events and interactions: engagement, profiles by province
    # and lifecycle history must all be filled.
    from memberlens.pipeline.demo import run_demo

    result = run_demo(tmp_path / "demo", members=3000, seed=5)
    project = result.project
    engaged, with_province = sql(
        project, "select count(*) filter (where engagement > 0), count(province) from mart_members"
    )[0]
    assert engaged > 0 and with_province == result.run.marts["mart_members"]
    dims = {r[0] for r in sql(project, "select distinct dimension from mart_profiles")}
    assert dims == {"segment_cn8", "province", "channel"}
    months = sql(project, "select count(distinct as_of) from mart_lifecycle_history")[0][0]
    assert months == 13  # 12 monthly moves need 13 month ends
    # each month's transitions account for every member counted at the later month end
    moved = sql(
        project,
        "select to_as_of, sum(members) from mart_lifecycle_transitions "
        "group by 1 order by 1 desc limit 1",
    )[0]
    counted = sql(
        project, f"select sum(members) from mart_lifecycle_history where as_of = '{moved[0]}'"
    )[0][0]
    assert moved[1] == counted
    # every product rule's counts are recounted from the stored lines of paid orders (the
    # planted co-purchase pairs are too rare at 3,000 members for the 20-basket support; the
    # simulator's pairs are checked in tests/baskets/test_simulated_truth.py)
    rules = sql(
        project,
        "select antecedent, consequent, count, antecedent_count, confidence "
        "from mart_rules where antecedent_size = 1",
    )
    assert rules
    paid = (
        "select distinct i.order_id, i.product_id from order_items i join orders o "
        "using (order_id) where o.status = 'paid'"
    )
    for antecedent, consequent, count, antecedent_count, confidence in rules[:5]:
        both, alone = sql(
            project,
            f"select count(*) filter (where n = 2), count(*) from "
            f"(select order_id, count(*) n from ({paid}) where product_id "
            f"in ('{antecedent}', '{consequent}') group by 1) where "
            f"order_id in (select order_id from ({paid}) where "
            f"product_id = '{antecedent}')",
        )[0]
        assert (both, alone) == (count, antecedent_count) and count >= 20
        assert confidence == pytest.approx(both / alone)
    # top-10 recommendations per member, ranked 1..n without repeats, with reasons
    recs = sql(
        project,
        "select count(distinct member_id), max(rank), count(*) filter (where "
        "reason_en is null or reason_zh is null), count(*) - count(distinct "
        "(member_id, product_id)) from mart_recommendations",
    )[0]
    assert recs[0] > 0 and recs[1] == 10 and recs[2] == 0 and recs[3] == 0
    # the scratch table the recommendations were streamed into is gone after the run
    assert sql(
        project,
        "select count(*) from duckdb_tables() where table_name = '__next_mart_recommendations'",
    ) == [(0,)]
    # bought together comes from the baskets step's product rules: every pair is a stored rule
    assert sql(project, "select count(*) > 0 from mart_bought_together") == [(True,)]
    assert sql(
        project,
        "select count(*) from mart_bought_together b anti join mart_rules r "
        "on r.antecedent = b.product_id and r.consequent = b.other_product_id "
        "and r.antecedent_size = 1",
    ) == [(0,)]
    # churn scores for every buying member, copied into the member mart
    churn = sql(
        project,
        "select count(*), min(churn_probability), max(churn_probability), "
        "count(distinct churn_risk_decile) from mart_churn",
    )[0]
    assert churn[0] == result.run.marts["mart_members"] and 0 <= churn[1] < churn[2] <= 1
    assert churn[3] == 10
    assert sql(
        project,
        "select count(*) from mart_members m join mart_churn c using (member_id) "
        "where m.churn_probability is distinct from c.churn_probability",
    ) == [(0,)]


def test_project_settings_drive_the_run(tmp_path):
    # The documented [segments.*], [lifecycle], [tiers] and [baskets] tables (docs/pipeline.md).
    import re

    project = init_project(tmp_path / "shop")
    doc = (__import__("pathlib").Path(__file__).parents[2] / "docs" / "pipeline.md").read_text()
    settings = re.search(r"```toml\n(.*?)```", doc, re.S).group(1)
    project.file.write_text(project.file.read_text() + "\n" + settings)
    load("orders", export_cdnow_csv(tmp_path / "cdnow.csv"), project=project)
    result = run_pipeline(project.root)
    vip = sql(project, "select segment_vip, count(*) from mart_members group by 1 order by 1")
    assert {r[0] for r in vip} == {"vip", "other"} and sum(r[1] for r in vip) == 2357
    assert result.models["value_tiers"]["weights"]["spend"] == pytest.approx(0.4)


def test_member_history_keeps_one_row_per_member_and_as_of(cdnow_project):
    # Two as-of dates are both kept; re-running a date replaces its rows instead of doubling them.
    run_pipeline(cdnow_project, as_of=dt.date(1998, 3, 31))
    run_pipeline(cdnow_project)
    run_pipeline(cdnow_project)
    rows = sql(
        cdnow_project,
        "select as_of, count(*), count(distinct member_id), "
        "count(segment_cn8), count(value_tier), count(lifecycle_stage) "
        "from mart_member_history group by as_of order by as_of",
    )
    # members who had bought by 1998-03-31 (all 2,357 joined in Q1 1997) and by the end
    assert rows == [
        (dt.date(1998, 3, 31), 2357, 2357, 2357, 2357, 2357),
        (dt.date(1998, 6, 30), 2357, 2357, 2357, 2357, 2357),
    ]
    # the latest date's segments are the member mart's
    assert sql(
        cdnow_project,
        "select count(*) from mart_member_history h join mart_members m "
        "using (member_id) where h.as_of = '1998-06-30' and "
        "h.segment_cn8 is distinct from m.segment_cn8",
    ) == [(0,)]
    moved = sql(
        cdnow_project,
        "select count(*) from mart_member_history a join "
        "mart_member_history b using (member_id) where a.as_of < b.as_of "
        "and a.lifecycle_stage <> b.lifecycle_stage",
    )[0][0]
    assert moved > 0  # three months later some members changed stage


def test_a_run_that_cannot_start_is_recorded(tmp_path):
    # No orders loaded: the run fails before its first step and `_runs` still says so.
    from memberlens.exceptions import MissingTableError

    project = init_project(tmp_path / "empty", locale="en")
    with pytest.raises(MissingTableError, match="orders"):
        run_pipeline(project)
    log = run_log(project)
    assert [(r["step"], r["status"]) for r in log] == [("start", "failed")]
    assert "orders" in log[0]["message"] and "memberlens ingest orders" in log[0]["message"]
