"""Churn and purchase propensity (overall and per category): leakage-free labels from a
cutoff, engine features, LightGBM with calibration, a time-split back-test against baselines,
per-member reasons in English and Chinese (``memberlens churn train|score|report``), and the
churn mart of ``memberlens run`` (:func:`churn_mart`)."""

from memberlens.churn.backtest import (
    ChurnBacktest,
    backtest_churn,
    fit_at,
    labelled_category_features,
    labelled_features,
)
from memberlens.churn.categories import (
    CATEGORY_FEATURE_COLUMNS,
    category_feature_table,
    category_labels,
    top_categories,
)
from memberlens.churn.features import (
    FEATURE_COLUMNS,
    ChurnInputs,
    feature_table,
    member_features,
)
from memberlens.churn.labels import PROPENSITY_DAYS, churn_labels, default_horizon_days
from memberlens.churn.mart import churn_mart
from memberlens.churn.metrics import ScoreMetrics, lift_table, score_metrics
from memberlens.churn.model import ChurnModel
from memberlens.churn.reasons import top_reasons
from memberlens.churn.training import (
    ALL_CATEGORIES,
    ChurnTraining,
    model_dir,
    report_project,
    score_batches,
    score_project,
    scores,
    train_inputs,
    train_project,
)

__all__ = [
    "ALL_CATEGORIES",
    "CATEGORY_FEATURE_COLUMNS",
    "FEATURE_COLUMNS",
    "PROPENSITY_DAYS",
    "ChurnBacktest",
    "ChurnInputs",
    "ChurnModel",
    "ChurnTraining",
    "ScoreMetrics",
    "backtest_churn",
    "category_feature_table",
    "category_labels",
    "churn_labels",
    "churn_mart",
    "default_horizon_days",
    "feature_table",
    "fit_at",
    "labelled_category_features",
    "labelled_features",
    "lift_table",
    "member_features",
    "model_dir",
    "report_project",
    "score_batches",
    "score_metrics",
    "score_project",
    "scores",
    "top_categories",
    "top_reasons",
    "train_inputs",
    "train_project",
]
