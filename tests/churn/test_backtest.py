"""The time-split back-test on the simulated shop.

Reference: the simulator's truth. Its members follow a buy-till-you-die process with known
dropout; the labels at the test cutoff are what the simulated members really did next, which
no part of the model saw (trained at ``train_cutoff``, calibrated at ``calibration_cutoff``,
both with label windows ending on or before ``test_cutoff``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from memberlens.churn import ChurnModel, labelled_features


def test_cutoffs_leave_the_test_window_unseen(trained):
    report = trained.backtest
    h = dt.timedelta(days=report.horizon_days)
    assert report.train_cutoff + h <= report.calibration_cutoff
    assert report.calibration_cutoff + h <= report.test_cutoff


def test_lightgbm_beats_the_p_alive_baseline(trained):
    report = trained.backtest
    lightgbm, alive = report.metric("lightgbm"), report.metric("bgnbd_p_alive")
    assert lightgbm.auc > alive.auc + 0.05
    assert lightgbm.auc > 0.7
    assert lightgbm.pr_auc > lightgbm.positive_rate  # better than a random ranking
    assert report.metric("logistic").auc > 0.6


def test_lift_table_adds_up(trained):
    lift = trained.backtest.lift
    members = trained.backtest.metric("lightgbm").members
    positives = round(trained.backtest.metric("lightgbm").positive_rate * members)
    assert lift["decile"].tolist() == list(range(1, 11))
    assert lift["members"].sum() == members and lift["positives"].sum() == positives
    assert np.isclose(lift["capture_rate"].iloc[-1], 1.0)
    assert (np.diff(lift["capture_rate"]) >= 0).all()
    assert lift["rate"].iloc[:3].mean() > lift["rate"].iloc[-3:].mean()  # monotone-ish
    assert (np.diff(lift["mean_score"]) <= 1e-12).all()


def test_calibration_repairs_an_overconfident_model(inputs, trained):
    # an overfitted LightGBM (deep trees, tiny leaves) is overconfident; Platt scaling fitted
    # at the later calibration cutoff must not make held-out (test cutoff) Brier worse
    from sklearn.metrics import brier_score_loss

    report = trained.backtest
    h = report.horizon_days
    train = labelled_features(inputs, cutoff=report.train_cutoff, horizon_days=h)
    calib = labelled_features(inputs, cutoff=report.calibration_cutoff, horizon_days=h)
    test = labelled_features(inputs, cutoff=report.test_cutoff, horizon_days=h)
    for method in ("sigmoid", "isotonic"):
        model = ChurnModel(
            n_estimators=60,
            num_leaves=31,
            min_child_samples=5,
            learning_rate=0.3,
            calibration=method,
        ).fit(
            train, train["churned"], calibration_features=calib, calibration_labels=calib["churned"]
        )
        raw = brier_score_loss(test["churned"], model.raw_probability(test))
        calibrated = brier_score_loss(test["churned"], model.probability(test))
        assert calibrated <= raw, method


def test_logistic_baseline_is_the_penalised_optimum(inputs, trained):
    # the baseline is scikit-learn's L2-penalised logistic regression (C = 1, intercept not
    # penalised) solved to its optimum, where the intercept's score equation holds: the fitted
    # probabilities of the training members add up to their positives (McCullagh & Nelder 1989,
    # sec. 4.4). lbfgs at its default tolerance stopped 1e-5 per member away from it.
    from memberlens.churn.backtest import _logistic_scores

    report = trained.backtest
    train = labelled_features(inputs, cutoff=report.train_cutoff, horizon_days=report.horizon_days)
    y = train["churned"].to_numpy(dtype=float)
    fitted = _logistic_scores(train, train["churned"], train)
    assert abs(np.mean(fitted - y)) < 1e-9


def test_a_training_asks_for_the_last_purchase_day_once(inputs, monkeypatch):
    # every cutoff's labels check their window against the last purchase day: one query for
    # all the cutoffs that share a cache, not one per cutoff
    from memberlens.churn import backtest, labels

    calls = []
    original = labels.last_purchase_day

    def counted(orders):
        calls.append(1)
        return original(orders)

    monkeypatch.setattr(backtest, "last_purchase_day", counted)
    monkeypatch.setattr(labels, "last_purchase_day", counted)
    last = original(inputs.orders)
    cache: dict = {}
    for weeks in (20, 28, 36):
        cutoff = last - dt.timedelta(weeks=weeks)
        labelled_features(inputs, cutoff=cutoff, horizon_days=90, cache=cache)
    assert len(calls) == 1
    uncached = labelled_features(inputs, cutoff=last - dt.timedelta(weeks=20), horizon_days=90)
    assert uncached.equals(cache[(last - dt.timedelta(weeks=20), 90)])
