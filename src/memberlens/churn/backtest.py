"""Training at a point in time and the time-split back-test.

Everything the model learns from must be known on the day it is used (``known_through``):

* **calibration cutoff** ``c2 = known_through - horizon``: its labels end on ``known_through``;
* **training cutoffs** ``c1 = c2 - horizon`` and ``snapshots - 1`` more, ``step_days`` apart
  before it: their labels end on or before ``c2``.

LightGBM learns on the members of the stacked training cutoffs; the calibrator learns on the
members at ``c2``, a later period whose outcomes no tree saw. The back-test sets
``known_through`` to a **test cutoff** ``c3 = last purchase day - horizon`` and scores every
member at ``c3`` against what they did in ``(c3, c3 + horizon]``, which no part of the model saw.
It compares LightGBM (calibrated and raw), a logistic regression on the same features and the
BG/NBD baseline (churn score ``1 - P(alive)``, Fader, Hardie & Lee 2005, eq. 11).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from memberlens.churn.features import FEATURE_COLUMNS, ChurnInputs, member_features
from memberlens.churn.labels import (
    PROPENSITY_DAYS,
    churn_labels,
    default_horizon_days,
    last_purchase_day,
)
from memberlens.churn.metrics import ScoreMetrics, lift_table, score_metrics
from memberlens.churn.model import Calibration, ChurnModel
from memberlens.exceptions import DataError
from memberlens.features.purchases import as_day

__all__ = ["ChurnBacktest", "Target", "backtest_churn", "fit_at", "labelled_features"]

Target = Literal["churn", "purchase"]
SNAPSHOTS = 3     # training cutoffs stacked
STEP_DAYS = 60    # days between them


def _label_column(target: Target) -> str:
    if target not in ("churn", "purchase"):
        raise DataError(f"target: must be 'churn' or 'purchase', got {target!r}")
    return "churned" if target == "churn" else "purchased"


def window_days(target: Target, horizon_days: int) -> int:
    """Days the target's label looks ahead (and the features' BG/NBD horizon)."""
    if target == "churn" and int(horizon_days) < PROPENSITY_DAYS:
        raise DataError(f"horizon_days: must be at least {PROPENSITY_DAYS} (the propensity "
                        f"window, labelled alongside), got {horizon_days!r}; pass e.g. 90")
    return int(horizon_days) if target == "churn" else PROPENSITY_DAYS


def labelled_features(inputs: ChurnInputs, *, cutoff: dt.date, horizon_days: int,
                      cache: dict | None = None) -> pd.DataFrame:
    """Features at ``cutoff`` joined to its labels (``churned``, ``purchased``); ``cache`` (a
    dict owned by the caller) keeps frames that one training run reads twice."""
    if cache is not None:
        key = (cutoff, int(horizon_days))
        if key not in cache:
            cache[key] = labelled_features(inputs, cutoff=cutoff, horizon_days=horizon_days)
        return cache[key]
    features = member_features(inputs, cutoff=cutoff, horizon_days=horizon_days)
    labels = churn_labels(inputs.orders, cutoff=cutoff, horizon_days=horizon_days).to_pandas()
    return features.merge(labels, on="member_id", how="inner", validate="one_to_one")


def training_set(inputs: ChurnInputs, *, first_cutoff: dt.date, horizon_days: int,
                 snapshots: int = SNAPSHOTS, step_days: int = STEP_DAYS,
                 cache: dict | None = None) -> pd.DataFrame:
    """Labelled features of ``snapshots`` cutoffs, ``first_cutoff`` and earlier ones."""
    frames = []
    for k in range(snapshots):  # a handful of cutoffs, never a loop over members
        cutoff = first_cutoff - dt.timedelta(days=k * step_days)
        try:
            frames.append(labelled_features(inputs, cutoff=cutoff, horizon_days=horizon_days,
                                            cache=cache).assign(cutoff=cutoff))
        except DataError:
            break
    if not frames:
        raise DataError(f"cutoff: no members bought on or before {first_cutoff}, the training "
                        "cutoff; the data is too short for this horizon: pass a shorter "
                        "--horizon-days or load more history")
    return pd.concat(frames, ignore_index=True)


def fit_at(inputs: ChurnInputs, *, known_through: dt.date, horizon_days: int,
           target: Target = "churn", calibration: Calibration = "sigmoid",
           random_state: int = 0, cache: dict | None = None) -> tuple[ChurnModel, dict]:
    """A model using only labels that end on or before ``known_through``; also returns the
    cutoffs, row counts and the training frame it used."""
    column = _label_column(target)
    horizon_days = window = window_days(target, horizon_days)
    c2 = known_through - dt.timedelta(days=window)
    c1 = c2 - dt.timedelta(days=window)
    train = training_set(inputs, first_cutoff=c1, horizon_days=horizon_days, cache=cache)
    calib = labelled_features(inputs, cutoff=c2, horizon_days=horizon_days, cache=cache)
    model = ChurnModel(calibration=calibration, random_state=random_state).fit(
        train, train[column], calibration_features=calib, calibration_labels=calib[column])
    return model, {"train_cutoff": c1, "calibration_cutoff": c2, "n_train": len(train),
                   "n_calibration": len(calib), "train": train}


@dataclass(frozen=True)
class ChurnBacktest:
    """A time-split back-test: one row of metrics per score, and the lift table of LightGBM."""

    target: str
    horizon_days: int
    train_cutoff: dt.date
    calibration_cutoff: dt.date
    test_cutoff: dt.date
    n_train: int
    n_calibration: int
    metrics: tuple[ScoreMetrics, ...]
    lift: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The metrics table (one row per model)."""
        return pd.DataFrame([m.to_dict() for m in self.metrics])

    def to_dict(self) -> dict:
        return {"target": self.target, "horizon_days": self.horizon_days,
                "train_cutoff": self.train_cutoff.isoformat(),
                "calibration_cutoff": self.calibration_cutoff.isoformat(),
                "test_cutoff": self.test_cutoff.isoformat(), "n_train": self.n_train,
                "n_calibration": self.n_calibration,
                "metrics": [m.to_dict() for m in self.metrics],
                "lift": self.lift.to_dict(orient="records")}

    @classmethod
    def from_dict(cls, data: dict) -> ChurnBacktest:
        return cls(target=data["target"], horizon_days=int(data["horizon_days"]),
                   train_cutoff=dt.date.fromisoformat(data["train_cutoff"]),
                   calibration_cutoff=dt.date.fromisoformat(data["calibration_cutoff"]),
                   test_cutoff=dt.date.fromisoformat(data["test_cutoff"]),
                   n_train=int(data["n_train"]), n_calibration=int(data["n_calibration"]),
                   metrics=tuple(ScoreMetrics(**m) for m in data["metrics"]),
                   lift=pd.DataFrame(data["lift"]))

    def metric(self, model: str) -> ScoreMetrics:
        return next(m for m in self.metrics if m.model == model)


def _logistic_scores(train: pd.DataFrame, y: pd.Series, test: pd.DataFrame) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def signed_log(frame: pd.DataFrame) -> np.ndarray:
        x = np.nan_to_num(frame[list(FEATURE_COLUMNS)].to_numpy(dtype=float))
        return np.sign(x) * np.log1p(np.abs(x))

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(signed_log(train), np.asarray(y, dtype=int))
    return model.predict_proba(signed_log(test))[:, 1]


def backtest_churn(inputs: ChurnInputs, *, horizon_days: int | None = None,
                   test_cutoff: dt.date | str | None = None, target: Target = "churn",
                   calibration: Calibration = "sigmoid", random_state: int = 0,
                   cache: dict | None = None) -> ChurnBacktest:
    """Train before ``test_cutoff`` (default: last purchase day - window), score at it, and
    compare with the logistic and BG/NBD baselines on what members did next."""
    column = _label_column(target)
    last = last_purchase_day(inputs.orders)
    if horizon_days is None:
        horizon_days = default_horizon_days(inputs.orders, cutoff=last)
    horizon_days = window_days(target, horizon_days)
    c3 = (as_day(test_cutoff, name="test_cutoff") if test_cutoff is not None
          else last - dt.timedelta(days=max(int(horizon_days), PROPENSITY_DAYS)))
    model, used = fit_at(inputs, known_through=c3, horizon_days=horizon_days, target=target,
                         calibration=calibration, random_state=random_state, cache=cache)
    train = used["train"]
    test = labelled_features(inputs, cutoff=c3, horizon_days=horizon_days, cache=cache)
    y = test[column].to_numpy()
    calibrated = model.probability(test).to_numpy()
    alive = test["p_alive"].to_numpy()
    scores = {
        "lightgbm": calibrated,
        "lightgbm_uncalibrated": model.raw_probability(test),
        "logistic": _logistic_scores(train, train[column], test),
    }
    if not np.isnan(alive).any():  # BG/NBD converged at this cutoff
        scores["bgnbd_p_alive"] = 1.0 - alive if target == "churn" else alive
    metrics = tuple(score_metrics(name, y, s) for name, s in scores.items())
    return ChurnBacktest(target=target, horizon_days=int(horizon_days),
                         train_cutoff=used["train_cutoff"],
                         calibration_cutoff=used["calibration_cutoff"], test_cutoff=c3,
                         n_train=used["n_train"], n_calibration=used["n_calibration"],
                         metrics=metrics, lift=lift_table(y, calibrated))
