"""The estimator contract, save/load and the reasons in both languages (simulated shop)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from memberlens.churn import ChurnModel, labelled_features


@pytest.fixture(scope="module")
def frames(inputs, trained):
    report = trained.backtest
    h = report.horizon_days
    return (
        labelled_features(inputs, cutoff=report.train_cutoff, horizon_days=h),
        labelled_features(inputs, cutoff=report.calibration_cutoff, horizon_days=h),
    )


@pytest.fixture(scope="module")
def fitted(frames):
    train, calib = frames
    return ChurnModel(n_estimators=60).fit(
        train, train["churned"], calibration_features=calib, calibration_labels=calib["churned"]
    )


def test_contract(frames, fitted):
    train, _ = frames
    before = train.copy()
    model = ChurnModel(n_estimators=20)
    assert model.fit(train, train["churned"]) is model
    assert train.equals(before)  # input not mutated
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        ChurnModel().probability(train)
    p = fitted.probability(train)
    assert p.between(0, 1).all() and p.index.equals(train.index)


def test_save_load_round_trip(tmp_path, frames, fitted):
    _, calib = frames
    fitted.save(tmp_path / "m", metadata={"cutoff": "2025-01-01"})
    loaded, meta = ChurnModel.load(tmp_path / "m")
    assert meta == {"cutoff": "2025-01-01"}
    np.testing.assert_allclose(loaded.probability(calib), fitted.probability(calib), rtol=1e-12)


def test_reasons_in_english_and_chinese(frames, fitted):
    _, calib = frames
    reasons = fitted.reasons(calib, top=3)
    assert len(reasons) == len(calib)
    assert (reasons["reason_1_en"].str.len() > 0).mean() > 0.9
    assert reasons["reason_1_zh"].str.contains(r"[\u4e00-\u9fff]").mean() > 0.9
    # a days-since-last reason quotes the member's own number in both languages
    rows = reasons["reason_1_feature"] == "days_since_last"
    assert rows.any()
    days = calib.loc[rows, "days_since_last"].astype(int).astype(str)
    assert (reasons.loc[rows, "reason_1_en"] == "no purchase for " + days + " days").all()
    assert (reasons.loc[rows, "reason_1_zh"] == "距上次购买" + days + "天").all()
    assert all(re.search(r"\d", text) for text in reasons["reason_1_en"] if text)


def test_missing_bgnbd_features_are_handled(frames):
    # BG/NBD may not converge on data without drop-out (fit_purchase_model returns None):
    # the two model features are then missing, and LightGBM still fits and scores
    from memberlens.churn.features import with_purchase_model

    train, calib = frames
    blank = with_purchase_model(
        train.drop(columns=["p_alive", "expected_purchases"]), None, horizon_days=90
    )
    assert blank["p_alive"].isna().all()
    model = ChurnModel(n_estimators=20).fit(blank, blank["churned"])
    assert model.probability(calib).between(0, 1).all()
