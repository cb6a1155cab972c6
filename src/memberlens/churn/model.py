"""The churn / propensity classifier: LightGBM with calibrated probabilities.

``ChurnModel`` follows the scikit-learn contract: settings in ``__init__``, ``fit`` returns
``self`` and sets attributes ending in ``_``. It is fitted on the features and labels of one
cutoff and (optionally) calibrated on a *later* cutoff's held-out members
(``CalibratedClassifierCV`` on the frozen booster: isotonic regression, Zadrozny & Elkan 2002,
or Platt's sigmoid, Platt 1999). The calibration map is kept as plain numbers so that a model
saved as LightGBM text + JSON predicts exactly the same after :meth:`load`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from memberlens.churn._shap import contributions
from memberlens.churn._trees import raw_score
from memberlens.churn.features import FEATURE_COLUMNS
from memberlens.churn.reasons import top_reasons
from memberlens.exceptions import ConfigError, DataError

__all__ = ["ChurnModel"]

FORMAT_VERSION = 1
#: CalibratedClassifierCV's default cross-validation folds (each class needs that many rows)
CALIBRATION_FOLDS = 5
Calibration = Literal["isotonic", "sigmoid", "none"]


def _matrix(features: pd.DataFrame, columns: list[str]) -> np.ndarray:
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise DataError(
            f"features: missing column(s) {missing}; build them with "
            "memberlens.churn.member_features (columns found: "
            f"{list(features.columns)})"
        )
    return features[columns].to_numpy(dtype=float)


class ChurnModel(BaseEstimator):
    """LightGBM binary classifier of churn (or purchase propensity) with calibration.

    ``feature_columns``: the input columns (default :data:`FEATURE_COLUMNS`; the per-category
    propensity model adds :data:`~memberlens.churn.categories.CATEGORY_FEATURE_COLUMNS`).
    ``n_jobs``: LightGBM threads; None = 1. On a shared machine OpenMP threads that spin while
    waiting for each other made fits 7-15x slower with 2 threads than with 1 (measured here at
    35,000 and 300,000 rows, load average 10 on 2 cores); pass more on a dedicated machine.
    Fitted attributes: ``booster_`` (``lightgbm.Booster``), ``feature_names_``,
    ``calibration_`` (dict: method and its numbers, or None), ``n_train_``, ``positive_rate_``.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        learning_rate: float = 0.03,
        num_leaves: int = 7,
        min_child_samples: int = 50,
        calibration: Calibration = "sigmoid",
        random_state: int = 0,
        feature_columns: tuple[str, ...] | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.feature_columns = feature_columns
        self.n_jobs = n_jobs
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration = calibration
        self.random_state = random_state

    def fit(
        self,
        features: pd.DataFrame,
        labels,
        *,
        calibration_features: pd.DataFrame | None = None,
        calibration_labels=None,
    ) -> ChurnModel:
        """Fit on one cutoff's ``features`` / ``labels`` (0/1); calibrate on the other set."""
        import lightgbm as lgb

        if self.calibration not in ("isotonic", "sigmoid", "none"):
            raise ConfigError(
                f"calibration: must be 'isotonic', 'sigmoid' or 'none', got {self.calibration!r}"
            )
        wanted = FEATURE_COLUMNS if self.feature_columns is None else self.feature_columns
        columns = [c for c in wanted if c in features.columns]
        x = _matrix(features, columns)
        y = np.asarray(labels, dtype=int)
        if y.shape[0] != x.shape[0] or np.unique(y).size != 2:
            raise DataError(
                f"labels: need one 0/1 label per feature row with both classes "
                f"present; got {y.shape[0]} labels for {x.shape[0]} rows and "
                f"classes {np.unique(y).tolist()}; pick a cutoff with churners and "
                "returners"
            )
        classifier = lgb.LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.random_state,
            verbose=-1,
            n_jobs=self.n_jobs or 1,
        )
        classifier.fit(pd.DataFrame(x, columns=columns), y)
        self.booster_ = classifier.booster_
        self.feature_names_ = columns
        self.n_train_ = int(y.size)
        self.positive_rate_ = float(y.mean())
        self.calibration_ = None
        if self.calibration != "none" and calibration_features is not None:
            self.calibration_ = self._fit_calibration(
                classifier,
                pd.DataFrame(_matrix(calibration_features, columns), columns=columns),
                np.asarray(calibration_labels, dtype=int),
            )
        return self

    def _fit_calibration(self, classifier, x: pd.DataFrame, y: np.ndarray) -> dict:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.frozen import FrozenEstimator

        smallest = int(np.bincount(y, minlength=2).min()) if y.size else 0
        if smallest < CALIBRATION_FOLDS:
            raise DataError(
                f"calibration: {smallest} member(s) in the smaller class of the calibration "
                f"cutoff; calibrating needs at least {CALIBRATION_FOLDS} churners and "
                f"{CALIBRATION_FOLDS} returners (a larger shop or a longer history)"
            )
        calibrated = CalibratedClassifierCV(
            FrozenEstimator(classifier), method=self.calibration
        ).fit(x, y)
        calibrator = calibrated.calibrated_classifiers_[0].calibrators[0]
        if self.calibration == "isotonic":
            return {
                "method": "isotonic",
                "x": calibrator.X_thresholds_.tolist(),
                "y": calibrator.y_thresholds_.tolist(),
            }
        return {"method": "sigmoid", "a": float(calibrator.a_), "b": float(calibrator.b_)}

    # -- prediction ------------------------------------------------------------------------
    def raw_probability(self, features: pd.DataFrame) -> np.ndarray:
        """LightGBM's uncalibrated probability of the positive class."""
        check_is_fitted(self, "booster_")
        return self.booster_.predict(_matrix(features, self.feature_names_))

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """(n, 2) array: P(negative), P(positive), calibrated when a calibration was fitted."""
        check_is_fitted(self, "booster_")
        cal = self.calibration_
        if cal is None:
            return self._two_columns(self.raw_probability(features))
        # the calibrator reads LightGBM's decision function: the raw score (log-odds), here
        # computed in numpy from the trees' decisions, LightGBM's value to the bit
        raw = raw_score(self.booster_, _matrix(features, self.feature_names_))
        if cal["method"] == "isotonic":
            p = np.interp(raw, cal["x"], cal["y"])  # clip outside the range, as sklearn does
        else:  # Platt (1999): 1 / (1 + exp(a f + b))
            p = 1.0 / (1.0 + np.exp(cal["a"] * raw + cal["b"]))
        return self._two_columns(p)

    @staticmethod
    def _two_columns(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, 0.0, 1.0)
        return np.column_stack([1.0 - p, p])

    def probability(self, features: pd.DataFrame) -> pd.Series:
        """Calibrated P(positive) per row, indexed like ``features``."""
        return pd.Series(
            self.predict_proba(features)[:, 1], index=features.index, name="probability"
        )

    def reasons(self, features: pd.DataFrame, *, top: int = 3) -> pd.DataFrame:
        """Top reasons per row in English and Chinese (see :mod:`memberlens.churn.reasons`)."""
        check_is_fitted(self, "booster_")
        # LightGBM's TreeSHAP values, computed once per decision pattern of each tree
        contrib = contributions(self.booster_, _matrix(features, self.feature_names_))
        return top_reasons(
            contrib,
            features,
            columns=self.feature_names_,
            top=top,
            category=features["category"] if "category" in features else None,
        )

    # -- persistence -------------------------------------------------------------------------
    def save(self, folder: str | Path, *, metadata: dict | None = None) -> Path:
        """Write ``model.txt`` (LightGBM) and ``model.json`` (settings, calibration, metadata)."""
        check_is_fitted(self, "booster_")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(folder / "model.txt"))
        meta = {
            "format_version": FORMAT_VERSION,
            "class": type(self).__name__,
            "params": self.get_params(),
            "feature_names": self.feature_names_,
            "calibration": self.calibration_,
            "n_train": self.n_train_,
            "positive_rate": self.positive_rate_,
            "metadata": metadata or {},
        }
        (folder / "model.json").write_text(
            json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> tuple[ChurnModel, dict]:
        """The model saved in ``folder`` and its metadata dict."""
        import lightgbm as lgb

        folder = Path(folder)
        if not (folder / "model.json").exists() or not (folder / "model.txt").exists():
            raise ConfigError(
                f"{folder}: no trained churn model (model.txt + model.json); run "
                "`memberlens churn train` first"
            )
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ConfigError(
                f"{folder / 'model.json'}: format_version "
                f"{meta.get('format_version')!r} is not {FORMAT_VERSION}; retrain"
            )
        model = cls(**meta["params"])
        model.booster_ = lgb.Booster(model_file=str(folder / "model.txt"))
        model.feature_names_ = list(meta["feature_names"])
        model.calibration_ = meta["calibration"]
        model.n_train_ = int(meta["n_train"])
        model.positive_rate_ = float(meta["positive_rate"])
        return model, meta["metadata"]
