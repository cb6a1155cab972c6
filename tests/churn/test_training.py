"""Train, score and report on a project; scores checked against the simulator's truth."""

from __future__ import annotations

import pandas as pd
from sklearn.metrics import roc_auc_score

from memberlens.churn import model_dir, report_project, score_batches, score_project


def test_model_is_saved_with_its_backtest(demo_project, trained):
    folder = model_dir(demo_project)
    assert (folder / "model.txt").exists() and (folder / "model.json").exists()
    assert report_project(demo_project).to_dict() == trained.backtest.to_dict()


def test_scores_rank_true_dropouts_first(demo_project, trained, truth):
    scores = score_project(demo_project)
    assert scores["churn_probability"].between(0, 1).all()
    assert scores["member_id"].is_unique
    # reference: simulator truth, members whose latent dropout happened by the scoring day
    cutoff = pd.Timestamp(trained.cutoff) + pd.Timedelta(days=1)
    dropped = truth.set_index("member_id")["dropout_at"].lt(cutoff)
    y = dropped.reindex(scores["member_id"]).fillna(False).astype(int).to_numpy()
    assert roc_auc_score(y, scores["churn_probability"]) > 0.7


def test_batches_bound_the_frame_size_and_give_the_same_scores(demo_project):
    batches = list(score_batches(demo_project, batch_rows=700))
    assert max(len(b) for b in batches) <= 700 and len(batches) > 1
    joined = pd.concat(batches).set_index("member_id")["churn_probability"].sort_index()
    whole = score_project(demo_project).set_index("member_id")["churn_probability"].sort_index()
    pd.testing.assert_series_equal(joined, whole)
