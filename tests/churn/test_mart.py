"""The churn mart for ``memberlens run`` on the simulated shop.

References: the saved models' own scores (``score_project``) and back-tests, and the
simulator's truth (who is still active, ``truth/members.parquet``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from memberlens.churn import churn_mart, score_project
from memberlens.churn.mart import (
    TrainingPolicy,
    population_stability,
    risk_deciles,
    run_model_dir,
    sample_rate,
)
from memberlens.churn.model import ChurnModel
from memberlens.exceptions import ConfigError


@pytest.fixture(scope="module")
def mart(demo_project, trained, category_training):
    """The mart with the saved churn and category models; the purchase model is the one the
    demo's run trained and kept (``churn-purchase-run``). Small batches, so several batches
    are joined."""
    from memberlens.engine.warehouse import open_warehouse

    warehouse = open_warehouse(demo_project, read_only=True)
    try:
        return churn_mart(warehouse.con, as_of=trained.cutoff, project=demo_project, batch_rows=700)
    finally:
        warehouse.close()


def test_columns_and_summary(mart, trained):
    frame, summary = mart
    assert list(frame.columns[:5]) == [
        "member_id",
        "churn_probability",
        "churn_risk_decile",
        "propensity_30d",
        "category_1",
    ]
    assert {"category_3_propensity", "reason_1_en", "reason_1_zh", "reason_3_zh"} <= set(
        frame.columns
    )
    assert frame["member_id"].is_unique and frame["member_id"].is_monotonic_increasing
    assert summary["members"] == len(frame) and summary["horizon_days"] == trained.horizon_days
    assert summary["churn"]["source"] == "saved (churn-churn)"
    assert summary["propensity"]["source"] == "saved (churn-purchase-run)"
    # the first use of a model saved without a score reference: no PSI yet, the reference kept
    assert summary["decision"] == f"model reused, trained {trained.cutoff}"
    assert len(ChurnModel.load(trained.model_dir)[1]["score_reference"]) == 9
    assert summary["auc"] == trained.backtest.metric("lightgbm").auc
    assert summary["propensity"]["auc"] > summary["propensity"]["baseline_auc"]["bgnbd_p_alive"]
    assert set(summary["categories"]) == set(frame["category_1"].dropna())
    assert summary["model_kind"] == "lightgbm (sigmoid)"


def test_scores_equal_the_saved_models_own(demo_project, mart):
    frame, _ = mart
    churn = score_project(demo_project).set_index("member_id")["churn_probability"]
    np.testing.assert_allclose(
        frame.set_index("member_id")["churn_probability"],
        churn.reindex(frame["member_id"]),
        rtol=1e-12,
    )
    categories = score_project(demo_project, target="category")
    best = categories.sort_values(
        ["member_id", "purchase_probability"], ascending=[True, False]
    ).drop_duplicates("member_id")
    best = best.set_index("member_id")
    top = frame.set_index("member_id")
    assert (top["category_1"] == best["category"].reindex(top.index)).all()
    np.testing.assert_allclose(
        top["category_1_propensity"], best["purchase_probability"].reindex(top.index), rtol=1e-12
    )
    assert (top["category_1_propensity"] >= top["category_2_propensity"]).all()
    assert (top["category_2_propensity"] >= top["category_3_propensity"]).all()


def test_risk_deciles_split_members_in_tenths(mart):
    frame, _ = mart
    sizes = frame["churn_risk_decile"].value_counts().sort_index()
    assert sizes.index.tolist() == list(range(1, 11)) and sizes.max() - sizes.min() <= 1
    by = frame.groupby("churn_risk_decile")["churn_probability"]
    assert (by.min().iloc[:-1].to_numpy() >= by.max().iloc[1:].to_numpy()).all()
    # ranks 0, 1, 2 of 3 members fall in deciles 1, 4 and 7; ties go by member_id
    assert risk_deciles([0.2, 0.9, 0.2], ["b", "a", "c"]).tolist() == [4, 1, 7]


def test_propensity_ranks_truly_active_members_first(mart, truth):
    # reference: the simulator's latent state at the as-of day (not dropped out yet)
    frame, summary = mart
    as_of = pd.Timestamp(summary["as_of"]) + pd.Timedelta(days=1)
    alive = ~truth.set_index("member_id")["dropout_at"].lt(as_of)
    y = alive.reindex(frame["member_id"]).fillna(True).astype(int).to_numpy()
    assert roc_auc_score(y, frame["propensity_30d"]) > 0.7
    assert roc_auc_score(1 - y, frame["churn_probability"]) > 0.7


@pytest.mark.slow  # trains the churn and purchase models with their back-tests (~30 s)
def test_without_saved_models_it_trains_at_the_as_of_day(inputs, trained):
    frame, summary = churn_mart(inputs, as_of=trained.cutoff)
    assert summary["churn"]["source"] == f"trained at {trained.cutoff}"
    # the same cutoffs as `memberlens churn train`: the same back-test
    assert summary["auc"] == pytest.approx(trained.backtest.metric("lightgbm").auc, abs=1e-12)
    assert summary["categories"] == {} and "category_1" not in frame.columns
    assert frame["churn_probability"].between(0, 1).all()


def test_a_member_sample_is_the_same_members_every_time(inputs):
    members = inputs.orders.member_id.nunique().execute()
    sample = inputs.sample(4)
    ids = set(sample.orders.member_id.to_pandas())
    assert ids == set(inputs.sample(4).orders.member_id.to_pandas())
    assert 0.2 * members < len(ids) < 0.3 * members  # about one member in four
    # a sampled member keeps every order (the sample cuts members, not their history)
    kept = inputs.orders.filter(inputs.orders.member_id.isin(list(ids))).count().execute()
    assert sample.orders.count().execute() == kept
    assert inputs.sample(1) is inputs
    with pytest.raises(ValueError, match="one_in"):
        inputs.sample(0)


def test_sample_rate():
    assert sample_rate(4000, None) == 1 and sample_rate(4000, 4000) == 1
    assert sample_rate(4001, 4000) == 2 and sample_rate(4_100_000, 200_000) == 21


@pytest.mark.slow  # trains the churn and purchase models twice (~60 s)
def test_trained_on_a_sample_every_member_is_still_scored(inputs, trained, truth):
    # reference: the simulator's latent state, as above; and the model trained on everyone
    full, full_summary = churn_mart(inputs, as_of=trained.cutoff)
    quarter = -(-len(full) // 4)
    frame, summary = churn_mart(inputs, as_of=trained.cutoff, train_sample=quarter)
    one_in = sample_rate(len(frame), quarter)
    assert one_in == 4 and summary["churn"]["source"].endswith(f"on 1 member in {one_in}")
    assert list(frame["member_id"]) == list(full["member_id"])  # everyone scored
    ratio = summary["churn"]["n_train"] / full_summary["churn"]["n_train"]
    assert 0.2 < ratio < 0.3
    as_of = pd.Timestamp(summary["as_of"]) + pd.Timedelta(days=1)
    alive = ~truth.set_index("member_id")["dropout_at"].lt(as_of)
    y = alive.reindex(frame["member_id"]).fillna(True).astype(int).to_numpy()
    sampled_auc = roc_auc_score(1 - y, frame["churn_probability"])
    assert sampled_auc > 0.7
    assert sampled_auc > roc_auc_score(1 - y, full["churn_probability"]) - 0.03


def test_reasons_only_for_the_highest_risk_deciles(mart):
    frame, summary = mart
    explained = frame["reason_1_en"].notna()
    assert (explained == (frame["churn_risk_decile"] <= 2)).all()
    assert summary["reasons_for"] == int(explained.sum()) > 0


def test_population_stability_index():
    # reference: the definition (Siddiqi 2006, ch. 8) worked by hand on ten decile bins
    edges = [i / 10 for i in range(1, 10)]
    assert population_stability(edges, np.linspace(0.005, 0.995, 100)) == pytest.approx(
        0, abs=1e-12
    )
    # everyone in the top bin: nine bins at the 1e-4 floor and one holding (almost) all
    expected = 9 * (1e-4 - 0.1) * np.log(1e-4 / 0.1) + (1 - 0.1) * np.log(1 / 0.1)
    assert population_stability(edges, np.full(50, 0.95)) == pytest.approx(expected, rel=1e-12)
    # half the members moved from the lowest to the highest bin: 0.05 each way
    half = np.r_[np.linspace(0.105, 0.895, 80), np.full(5, 0.05), np.full(15, 0.95)]
    shares = np.array([0.05] + [0.1] * 8 + [0.15])
    assert population_stability(edges, half) == pytest.approx(
        float(np.sum((shares - 0.1) * np.log(shares / 0.1))), rel=1e-12
    )


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"retrain_days": -1}, "retrain_days"),
        ({"max_psi": 0}, "max_psi"),
        ({"reasons_deciles": 11}, "reasons_deciles"),
        ({"retrain_days": "30"}, "retrain_days"),
    ],
)
def test_a_bad_policy_names_the_setting(settings, key):
    with pytest.raises(ConfigError, match=rf"\[churn\] {key}"):
        TrainingPolicy.from_settings(settings)


@pytest.mark.slow  # trains the churn and purchase models twice with their back-tests (~60 s)
def test_models_are_trained_once_then_reused_until_the_scores_drift(inputs, trained, tmp_path):
    import json
    from types import SimpleNamespace

    project = SimpleNamespace(state_dir=tmp_path)
    day = trained.cutoff
    first, summary = churn_mart(inputs, as_of=day, project=project)
    assert summary["decision"] == f"model trained {day} (no saved model)"
    folder = run_model_dir(project, "churn")
    assert (folder / "model.json").exists()
    again, summary = churn_mart(inputs, as_of=day, project=project)
    assert summary["decision"].startswith(f"model reused, trained {day}, PSI 0.0")
    assert summary["psi"] < 0.01
    pd.testing.assert_series_equal(first["churn_probability"], again["churn_probability"])
    # a reference the scores no longer fit (every member in its lowest tenth): retrain
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    meta["metadata"]["score_reference"] = [0.999] * 9
    (folder / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    _, summary = churn_mart(inputs, as_of=day, project=project)
    assert summary["decision"].startswith(f"model trained {day} (score drift: PSI ")
    # an old model: retrained when older than retrain_days, reused when training is off
    later = day + pd.Timedelta(days=5).to_pytimedelta()
    _, summary = churn_mart(
        inputs, as_of=later, project=project, train=False, policy=TrainingPolicy(retrain_days=1)
    )
    assert summary["decision"].startswith(f"model reused, trained {day} (5 days old")
