"""Churn and purchase propensity: leakage-free labels from a cutoff, engine features,
LightGBM with calibration, a time-split back-test against logistic and BG/NBD baselines, and
per-member reasons in English and Chinese (``memberlens churn train|score|report``)."""

from memberlens.churn.backtest import ChurnBacktest, backtest_churn, fit_at, labelled_features
from memberlens.churn.features import (
    FEATURE_COLUMNS,
    ChurnInputs,
    feature_table,
    member_features,
)
from memberlens.churn.labels import PROPENSITY_DAYS, churn_labels, default_horizon_days
from memberlens.churn.metrics import ScoreMetrics, lift_table, score_metrics
from memberlens.churn.model import ChurnModel
from memberlens.churn.reasons import top_reasons
from memberlens.churn.training import (
    ChurnTraining,
    model_dir,
    report_project,
    score_batches,
    score_project,
    scores,
    train_project,
)

__all__ = ["FEATURE_COLUMNS", "PROPENSITY_DAYS", "ChurnBacktest", "ChurnInputs", "ChurnModel",
           "ChurnTraining", "ScoreMetrics", "backtest_churn", "churn_labels",
           "default_horizon_days", "feature_table", "fit_at", "labelled_features", "lift_table",
           "member_features", "model_dir", "report_project", "score_batches", "score_project",
           "score_metrics", "scores", "top_reasons", "train_project"]
