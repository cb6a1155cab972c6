"""The recommendations step keeps its ALS item factors between runs: a second `memberlens run` on
the same data reuses them (no ALS iterations) and writes exactly the marts of the first; a
changed ``[recommend]`` setting the factors depend on, an as-of day before their fit or an age
above ``retrain_days`` makes the run fit ALS again.

Reference for what a reuse computes: each member's factors are the closed-form solve of Hu,
Koren & Volinsky (2008), eq. 4, from the kept item factors, which is ``implicit`` 0.7.3's
``AlternatingLeastSquares.recalculate_user``: ``tests/recommend/test_factors.py::
test_members_factors_are_the_closed_form_of_hu_koren_volinsky`` checks that solve against numpy,
``tests/recommend/test_reference_implicit.py`` our ALS scores against implicit's."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from tests.pipeline.test_small_shops import marts, small_shop

from memberlens.pipeline.run import run_pipeline
from memberlens.pipeline.steps.recommendations import factors_folder

STEPS = ("recommendations",)


def _decision(run) -> str:
    """What the step's message says about ALS (after the counts)."""
    step = {s.step: s for s in run.steps}["recommendations"]
    assert step.status == "ok", step.message
    return step.message.split("; ", 1)[1]


@pytest.mark.slow
def test_second_run_reuses_the_factors_and_writes_the_same_marts(tmp_path):
    project = small_shop(tmp_path, 200, 3)
    first = run_pipeline(project, steps=STEPS)
    once = marts(project)
    assert _decision(first) == "ALS fitted (no saved factors)"
    kept = factors_folder(project) / "item_factors.parquet"
    stamp = kept.stat().st_mtime_ns

    second = run_pipeline(project, steps=STEPS)
    twice = marts(project)
    assert _decision(second) == f"item factors reused, PSI 0.00, fitted {first.as_of}"
    assert kept.stat().st_mtime_ns == stamp  # a reuse keeps the fit's file (and its day)
    assert len(once["mart_recommendations"]) > 0
    for name in ("mart_recommendations", "mart_bought_together"):
        pd.testing.assert_frame_equal(once[name], twice[name], obj=name)

    # a setting the factors depend on: the next run fits ALS again and keeps its factors
    project.file.write_text(project.file.read_text() + "\n[recommend]\nfactors = 8\n")
    third = run_pipeline(project.root, steps=STEPS)
    assert _decision(third) == "ALS fitted (settings changed: factors)"
    assert kept.stat().st_mtime_ns != stamp
    assert _decision(run_pipeline(project.root, steps=STEPS)).startswith("item factors reused")

    # factors fitted after the as-of day have seen later purchases; older ones than
    # retrain_days are fitted again
    earlier = run_pipeline(project.root, steps=STEPS, as_of=first.as_of - dt.timedelta(days=7))
    assert (
        _decision(earlier)
        == f"ALS fitted (saved factors fitted {first.as_of}, after the as-of day)"
    )
    project.file.write_text(project.file.read_text() + "retrain_days = 3\n")
    later = run_pipeline(project.root, steps=STEPS, as_of=first.as_of)
    assert _decision(later) == (
        f"ALS fitted (saved factors fitted {first.as_of - dt.timedelta(days=7)}, "
        "more than 3 days ago)"
    )
