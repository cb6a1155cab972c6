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
