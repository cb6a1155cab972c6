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

Target ``"category"`` (per-category purchase propensity, :mod:`memberlens.churn.categories`) has
one row per member and category; its baselines are the member's share of the category times
their overall 30-day purchase propensity (the ``"purchase"`` model fitted with the same cutoffs)
and the category's popularity, and its metrics come pooled and per category.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from memberlens.churn.categories import (
    CATEGORY_FEATURE_COLUMNS,
    category_feature_table,
    category_labels,
)
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

__all__ = [
    "ChurnBacktest",
    "Target",
    "backtest_churn",
    "fit_at",
    "labelled_category_features",
    "labelled_features",
    "model_columns",
]

Target = Literal["churn", "purchase", "category"]
SNAPSHOTS = 3  # training cutoffs stacked
STEP_DAYS = 60  # days between them
LABELS = {"churn": "churned", "purchase": "purchased", "category": "category_purchased"}


def _label_column(target: Target) -> str:
    if target not in LABELS:
        raise DataError(f"target: must be 'churn', 'purchase' or 'category', got {target!r}")
    return LABELS[target]


def model_columns(target: Target) -> tuple[str, ...]:
    """The model's input columns for ``target``."""
    if target == "category":
        return (*FEATURE_COLUMNS, *CATEGORY_FEATURE_COLUMNS)
    return FEATURE_COLUMNS


def window_days(target: Target, horizon_days: int) -> int:
    """Days the target's label looks ahead (and the features' BG/NBD horizon)."""
    if target == "churn" and int(horizon_days) < PROPENSITY_DAYS:
        raise DataError(
            f"horizon_days: must be at least {PROPENSITY_DAYS} (the propensity "
            f"window, labelled alongside), got {horizon_days!r}; pass e.g. 90"
        )
    return int(horizon_days) if target == "churn" else PROPENSITY_DAYS


def labelled_features(
    inputs: ChurnInputs, *, cutoff: dt.date, horizon_days: int, cache: dict | None = None
) -> pd.DataFrame:
    """Features at ``cutoff`` joined to its labels (``churned``, ``purchased``); ``cache`` (a
    dict owned by the caller) keeps frames that one training run reads twice, and the last
    purchase day that every cutoff's labels check against (one query, not one per cutoff)."""
    if cache is None:
        return _features_and_labels(inputs, cutoff, int(horizon_days), None)
    key = (cutoff, int(horizon_days))
    if key not in cache:
        if "last_purchase_day" not in cache:
            cache["last_purchase_day"] = last_purchase_day(inputs.orders)
        last = cache["last_purchase_day"]
        cache[key] = _features_and_labels(inputs, cutoff, int(horizon_days), last)
    return cache[key]


def _features_and_labels(
    inputs: ChurnInputs, cutoff: dt.date, horizon_days: int, last: dt.date | None
) -> pd.DataFrame:
    features = member_features(inputs, cutoff=cutoff, horizon_days=horizon_days)
    labels = churn_labels(inputs.orders, cutoff=cutoff, horizon_days=horizon_days, last_day=last)
    return features.merge(labels.to_pandas(), on="member_id", how="inner", validate="one_to_one")


def labelled_category_features(
    inputs: ChurnInputs, *, cutoff: dt.date, categories: tuple[str, ...], cache: dict | None = None
) -> pd.DataFrame:
    """One row per member and category at ``cutoff``: the member's features (30-day horizon),
    the category features and ``category_purchased`` (plus the member's ``churned`` and
    ``purchased``)."""
    key = ("category", cutoff, tuple(categories))
    if cache is not None and key in cache:
        return cache[key]
    members = labelled_features(inputs, cutoff=cutoff, horizon_days=PROPENSITY_DAYS, cache=cache)
    rows = category_feature_table(inputs, cutoff=cutoff, categories=categories).join(
        category_labels(inputs, cutoff=cutoff, categories=categories), ["member_id", "category"]
    )
    frame = rows.to_pandas().merge(members, on="member_id", how="inner", validate="many_to_one")
    frame = frame.sort_values(["member_id", "category"], ignore_index=True)
    if cache is not None:
        cache[key] = frame
    return frame


def _labelled(
    inputs: ChurnInputs,
    *,
    cutoff: dt.date,
    horizon_days: int,
    target: Target,
    categories: tuple[str, ...] | None,
    cache: dict | None,
) -> pd.DataFrame:
    if target == "category":
        if not categories:
            raise DataError(
                "categories: the category target needs a list of categories; "
                "pass e.g. top_categories(inputs, cutoff=...)"
            )
        return labelled_category_features(
            inputs, cutoff=cutoff, categories=tuple(categories), cache=cache
        )
    return labelled_features(inputs, cutoff=cutoff, horizon_days=horizon_days, cache=cache)


def training_set(
    inputs: ChurnInputs,
    *,
    first_cutoff: dt.date,
    horizon_days: int,
    snapshots: int = SNAPSHOTS,
    step_days: int = STEP_DAYS,
    cache: dict | None = None,
    target: Target = "churn",
    categories: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Labelled features of ``snapshots`` cutoffs, ``first_cutoff`` and earlier ones."""
    frames = []
    for k in range(snapshots):  # a handful of cutoffs, never a loop over members
        cutoff = first_cutoff - dt.timedelta(days=k * step_days)
        try:
            frames.append(
                _labelled(
                    inputs,
                    cutoff=cutoff,
                    horizon_days=horizon_days,
                    target=target,
                    categories=categories,
                    cache=cache,
                ).assign(cutoff=cutoff)
            )
        except DataError:
            break
    if not frames:
        raise DataError(
            f"cutoff: no members bought on or before {first_cutoff}, the training "
            "cutoff; the data is too short for this horizon: pass a shorter "
            "--horizon-days or load more history"
        )
    return pd.concat(frames, ignore_index=True)


def fit_at(
    inputs: ChurnInputs,
    *,
    known_through: dt.date,
    horizon_days: int,
    target: Target = "churn",
    calibration: Calibration = "sigmoid",
    random_state: int = 0,
    cache: dict | None = None,
    categories: tuple[str, ...] | None = None,
) -> tuple[ChurnModel, dict]:
    """A model using only labels that end on or before ``known_through``; also returns the
    cutoffs, row counts and the training frame it used. ``categories``: the category list of
    the ``"category"`` target."""
    column = _label_column(target)
    horizon_days = window = window_days(target, horizon_days)
    c2 = known_through - dt.timedelta(days=window)
    c1 = c2 - dt.timedelta(days=window)
    train = training_set(
        inputs,
        first_cutoff=c1,
        horizon_days=horizon_days,
        cache=cache,
        target=target,
        categories=categories,
    )
    calib = _labelled(
        inputs,
        cutoff=c2,
        horizon_days=horizon_days,
        target=target,
        categories=categories,
        cache=cache,
    )
    model = ChurnModel(
        calibration=calibration, random_state=random_state, feature_columns=model_columns(target)
    ).fit(train, train[column], calibration_features=calib, calibration_labels=calib[column])
    return model, {
        "train_cutoff": c1,
        "calibration_cutoff": c2,
        "n_train": len(train),
        "n_calibration": len(calib),
        "train": train,
    }


@dataclass(frozen=True)
class ChurnBacktest:
    """A time-split back-test: one row of metrics per score (and, for the category target, per
    score and category), and the lift table of LightGBM (with a ``category`` column for the
    category target: ``"all"`` for the pooled rows)."""

    target: str
    horizon_days: int
    train_cutoff: dt.date
    calibration_cutoff: dt.date
    test_cutoff: dt.date
    n_train: int
    n_calibration: int
    metrics: tuple[ScoreMetrics, ...]
    lift: pd.DataFrame = field(repr=False)
    categories: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The metrics table (one row per model, and per category for the category target)."""
        frame = pd.DataFrame([m.to_dict() for m in self.metrics])
        return frame if self.categories else frame.drop(columns="category")

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "horizon_days": self.horizon_days,
            "train_cutoff": self.train_cutoff.isoformat(),
            "calibration_cutoff": self.calibration_cutoff.isoformat(),
            "test_cutoff": self.test_cutoff.isoformat(),
            "n_train": self.n_train,
            "n_calibration": self.n_calibration,
            "categories": list(self.categories),
            "metrics": [m.to_dict() for m in self.metrics],
            "lift": self.lift.to_dict(orient="records"),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ChurnBacktest:
        return cls(
            target=data["target"],
            horizon_days=int(data["horizon_days"]),
            train_cutoff=dt.date.fromisoformat(data["train_cutoff"]),
            calibration_cutoff=dt.date.fromisoformat(data["calibration_cutoff"]),
            test_cutoff=dt.date.fromisoformat(data["test_cutoff"]),
            n_train=int(data["n_train"]),
            n_calibration=int(data["n_calibration"]),
            metrics=tuple(ScoreMetrics(**m) for m in data["metrics"]),
            lift=pd.DataFrame(data["lift"]),
            categories=tuple(data.get("categories", ())),
        )

    def metric(self, model: str, category: str | None = None) -> ScoreMetrics:
        """The metrics of ``model`` (pooled, or of one ``category``)."""
        return next(m for m in self.metrics if m.model == model and m.category == category)


def _imputed(frame: pd.DataFrame, columns: list[str], fill: pd.Series | None = None):
    """Signed-log features with missing values set past the largest seen value ("never" or
    "longer than anyone"; 0 when a column is all missing)."""
    x = frame[columns].astype(float)
    if fill is None:
        fill = (x.max() + 1.0).fillna(0.0)
    values = x.fillna(fill).to_numpy()
    return np.sign(values) * np.log1p(np.abs(values)), fill


def _logistic_scores(
    train: pd.DataFrame,
    y: pd.Series,
    test: pd.DataFrame,
    columns: tuple[str, ...] = FEATURE_COLUMNS,
) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, fill = _imputed(train, list(columns))
    x_test, _ = _imputed(test, list(columns), fill)
    # Newton's method on the L2-penalised likelihood (C = 1): the optimum in ~5 iterations,
    # where lbfgs stopped at its default tolerance after 36-50 (and 4x the time), short of it
    model = make_pipeline(
        StandardScaler(), LogisticRegression(solver="newton-cholesky", tol=1e-10, max_iter=2000)
    )
    model.fit(x_train, np.asarray(y, dtype=int))
    return model.predict_proba(x_test)[:, 1]


def _category_baselines(
    inputs: ChurnInputs,
    test: pd.DataFrame,
    *,
    known_through: dt.date,
    calibration: Calibration,
    random_state: int,
    cache: dict | None,
) -> dict[str, np.ndarray]:
    """The member's share of the category x their overall 30-day propensity (the purchase
    model at the same cutoffs), and the category's popularity over the last 30 days."""
    overall, _ = fit_at(
        inputs,
        known_through=known_through,
        horizon_days=PROPENSITY_DAYS,
        target="purchase",
        calibration=calibration,
        random_state=random_state,
        cache=cache,
    )
    members = test.drop_duplicates("member_id")
    propensity = pd.Series(overall.probability(members).to_numpy(), index=members["member_id"])
    return {
        "share_x_propensity": (
            test["cat_day_share"].to_numpy() * propensity.reindex(test["member_id"]).to_numpy()
        ),
        "category_popularity": test["cat_popularity_30d"].to_numpy(),
    }


def backtest_churn(
    inputs: ChurnInputs,
    *,
    horizon_days: int | None = None,
    test_cutoff: dt.date | str | None = None,
    target: Target = "churn",
    calibration: Calibration = "sigmoid",
    random_state: int = 0,
    cache: dict | None = None,
    categories: tuple[str, ...] | None = None,
) -> ChurnBacktest:
    """Train before ``test_cutoff`` (default: last purchase day - window), score at it, and
    compare with the baselines on what members did next (logistic and BG/NBD for churn and
    purchase; share x propensity and popularity for the category target)."""
    column = _label_column(target)
    last = last_purchase_day(inputs.orders)
    if horizon_days is None:
        horizon_days = (
            default_horizon_days(inputs.orders, cutoff=last)
            if target == "churn"
            else PROPENSITY_DAYS
        )
    horizon_days = window_days(target, horizon_days)
    c3 = (
        as_day(test_cutoff, name="test_cutoff")
        if test_cutoff is not None
        else last - dt.timedelta(days=max(int(horizon_days), PROPENSITY_DAYS))
    )
    model, used = fit_at(
        inputs,
        known_through=c3,
        horizon_days=horizon_days,
        target=target,
        calibration=calibration,
        random_state=random_state,
        cache=cache,
        categories=categories,
    )
    train = used["train"]
    test = _labelled(
        inputs,
        cutoff=c3,
        horizon_days=horizon_days,
        target=target,
        categories=categories,
        cache=cache,
    )
    y = test[column].to_numpy()
    calibrated = model.probability(test).to_numpy()
    scores = {
        "lightgbm": calibrated,
        "lightgbm_uncalibrated": model.raw_probability(test),
        "logistic": _logistic_scores(train, train[column], test, model_columns(target)),
    }
    if target == "category":
        scores |= _category_baselines(
            inputs,
            test,
            known_through=c3,
            calibration=calibration,
            random_state=random_state,
            cache=cache,
        )
    else:
        alive = test["p_alive"].to_numpy()
        if not np.isnan(alive).any():  # BG/NBD converged at this cutoff
            scores["bgnbd_p_alive"] = 1.0 - alive if target == "churn" else alive
    metrics = [score_metrics(name, y, s) for name, s in scores.items()]
    lift = lift_table(y, calibrated)
    if target == "category":
        lifts = [lift.assign(category="all")]
        for category in categories:  # a handful of categories, never a loop over members
            rows = (test["category"] == category).to_numpy()
            metrics += [
                score_metrics(name, y[rows], s[rows], category=category)
                for name, s in scores.items()
            ]
            lifts.append(lift_table(y[rows], calibrated[rows]).assign(category=category))
        lift = pd.concat(lifts, ignore_index=True)
    return ChurnBacktest(
        target=target,
        horizon_days=int(horizon_days),
        train_cutoff=used["train_cutoff"],
        calibration_cutoff=used["calibration_cutoff"],
        test_cutoff=c3,
        n_train=used["n_train"],
        n_calibration=used["n_calibration"],
        metrics=tuple(metrics),
        lift=lift,
        categories=tuple(categories or ()),
    )
