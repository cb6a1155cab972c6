"""Small shops: `memberlens run` finishes on a shop of any size, steps that cannot work on so few
members say so (degraded), and two runs on the same data give the same marts."""

from __future__ import annotations

import json
import re

import duckdb
import pandas as pd
import pytest

from memberlens.ingest import load
from memberlens.pipeline.demo import LOAD_ORDER
from memberlens.pipeline.run import run_pipeline
from memberlens.project import init_project
from memberlens.simulate import simulate_shop

#: columns that differ between two runs by design
RUN_COLUMNS = {"run_id"}


def small_shop(root, members: int, seed: int):
    simulate_shop(root / "data", members=members, seed=seed)
    project = init_project(root / "shop")
    for table in LOAD_ORDER:
        load(table, root / "data" / f"{table}.parquet", project=project)
    return project


def marts(project) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        names = [
            r[0]
            for r in con.sql(
                "select table_name from duckdb_tables() where table_name like 'mart_%'"
            ).fetchall()
        ]
        out = {}
        for name in sorted(names):
            frame = con.sql(f'select * from "{name}"').df()
            frame = frame.drop(columns=[c for c in frame.columns if c in RUN_COLUMNS])
            # rows in a canonical order: the marts are sets, their storage order is not part
            # of the result
            out[name] = frame.sort_values(list(frame.columns), ignore_index=True)
        return out


@pytest.mark.slow
@pytest.mark.parametrize(("members", "seed"), [(1, 5), (7, 3), (50, 3), (200, 3)])
def test_small_shops_run_and_repeat_exactly(tmp_path, members, seed):
    project = small_shop(tmp_path, members, seed)
    first = run_pipeline(project)
    once = marts(project)
    second = run_pipeline(project)
    twice = marts(project)

    # the same steps, statuses and messages; churn's and clusters' messages say whether they
    # fitted or reused the model of the first run (docs/churn.md, docs/segmentation.md), clv's
    # whether it reused the purchase model chosen by the first run's back-test (docs/clv.md),
    # recommendations' whether ALS was fitted or its item factors reused (docs/recommend.md),
    # forecast's whether it kept the forecast of the first run (docs/forecast.md)
    kept_forecast = re.compile(r"^forecast of the run of \S+ kept: [^;]*; ")

    def steps(run):
        return [
            (
                s.step,
                s.status,
                s.message.split(" (")[0]
                if s.step == "clusters"
                else s.message.split("; ")[0]
                if s.step == "recommendations"
                else kept_forecast.sub("", s.message)[:200]
                if s.step == "forecast"
                else re.sub(r", choice of \S+ reused", "", s.message),
            )
            for s in run.steps
            if s.step not in ("publish", "churn")
        ]

    assert steps(first) == steps(second)
    recs = [{s.step: s for s in run.steps}["recommendations"] for run in (first, second)]
    if recs[0].status == "ok":
        assert recs[0].message.endswith("; ALS fitted (no saved factors)")
        assert "; item factors reused, PSI 0.00, fitted " in recs[1].message
    forecast = [{s.step: s for s in run.steps}["forecast"] for run in (first, second)]
    if forecast[0].status == "ok":
        assert kept_forecast.match(forecast[1].message), forecast[1].message
    clv = [{s.step: s for s in run.steps}["clv"] for run in (first, second)]
    if "(by holdout)" in clv[0].message:
        assert "reused)" in clv[1].message
    clusters = [{s.step: s for s in run.steps}["clusters"] for run in (first, second)]
    if clusters[0].status == "ok":
        assert "k chosen and fitted" in clusters[0].message
        assert "model reused" in clusters[1].message
    churn = [{s.step: s for s in run.steps}.get("churn") for run in (first, second)]
    assert (churn[0] is None) == (churn[1] is None)
    if churn[0] is not None and churn[0].status == "ok":
        assert churn[1].status == "ok" and "model reused" in churn[1].message
    assert once.keys() == twice.keys()
    for name in once:
        if name == "mart_models":  # the same models, but churn's says trained, then reused
            assert [_without_churn_decision(m) for m in once[name]["models"]] == [
                _without_churn_decision(m) for m in twice[name]["models"]
            ]
            continue
        pd.testing.assert_frame_equal(once[name], twice[name], obj=name)
    assert {s.status for s in first.steps} <= {"ok", "skipped", "degraded"}
    if members < 50:
        status = {s.step: s.status for s in first.steps}
        assert status["clv"] == status["clusters"] == "degraded"
        assert first.marts["mart_members"] == len(once["mart_members"]) > 0


def _without_churn_decision(text: str) -> dict:
    """A run's model summary without what says whether churn trained or reused its model, or
    clv its choice of purchase model."""
    models = json.loads(text)
    purchase = models.get("purchase_model") or {}
    for key in ("chosen_on", "reused"):  # clv: the second run reuses the first run's choice
        purchase.pop(key, None)
    churn = models.get("churn") or {}
    for key in ("decision", "psi"):
        churn.pop(key, None)
    for target in ("churn", "propensity"):
        if isinstance(churn.get(target), dict):
            churn[target].pop("source", None)
    return models
