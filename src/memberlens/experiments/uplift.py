"""Uplift models: who should get the next message, by the *change* in buying it causes.

Three meta-learners on LightGBM, trained on the members of a randomised campaign (treatment and
control) and their binary outcome; each follows the scikit-learn estimator contract
(``fit(X, y, treatment)`` returns the model, ``predict_uplift(X)`` the estimated
τ(x) = P(buy | treated, x) − P(buy | control, x)):

- :class:`TLearner` (two models): τ = μ₁(x) − μ₀(x), one classifier per arm (Künzel, Sekhon,
  Bickel & Yu 2019, sec. 2.1).
- :class:`XLearner`: the T-learner's models impute each member's effect, D¹ = Y − μ₀(x) for
  the treated and D⁰ = μ₁(x) − Y for controls; a regressor per arm learns those, and
  τ = g·τ₀(x) + (1 − g)·τ₁(x) with g the share treated (the propensity of a randomised
  campaign) (Künzel et al. 2019, sec. 3, eq. 5-7).
- :class:`ClassTransformationLearner`: one classifier of Z = Y·W + (1 − Y)(1 − W); with both
  arms weighted to half the data (weights 1/(2e) for the treated, 1/(2(1 − e)) for controls,
  e = share treated), τ = 2·P(Z = 1 | x) − 1 (Jaskowski & Jaroszewicz 2012, eq. 4; the
  weighting for unequal arms follows Kane, Lo & Zheng 2014).

The data come from :func:`memberlens.experiments.uplift_data.uplift_frame`; evaluation from
:mod:`memberlens.experiments.uplift_curves`. See ``docs/uplift.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from memberlens.exceptions import ConfigError, DataError

__all__ = [
    "FORMAT_VERSION",
    "UPLIFT_METHODS",
    "ClassTransformationLearner",
    "TLearner",
    "UpliftMethod",
    "XLearner",
    "load_uplift_model",
    "uplift_model",
]

UpliftMethod = Literal["t_learner", "x_learner", "class_transformation"]
UPLIFT_METHODS: tuple[UpliftMethod, ...] = get_args(UpliftMethod)
#: the layout of a saved learner (``model.json`` + one LightGBM text file per fitted part)
FORMAT_VERSION = 1


class _LightGBMUplift(BaseEstimator):
    """Shared settings, input checks and LightGBM construction of the three learners."""

    def __init__(
        self,
        *,
        n_estimators: int = 150,
        learning_rate: float = 0.03,
        num_leaves: int = 7,
        min_child_samples: int = 100,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state

    def _params(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.8,
            "random_state": self.random_state,
            "n_jobs": 1,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def _classifier(self) -> Any:
        from lightgbm import LGBMClassifier

        return LGBMClassifier(**self._params())

    def _regressor(self) -> Any:
        from lightgbm import LGBMRegressor

        return LGBMRegressor(**self._params())

    def _check_fit(
        self, X: Any, y: Any, treatment: Any
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        frame = _as_frame(X)
        y_, w = np.asarray(y), np.asarray(treatment)
        if not len(frame) == len(y_) == len(w):
            raise DataError(
                f"uplift fit: X ({len(frame)} rows), y ({len(y_)}) and treatment ({len(w)}) "
                "must have one value per member"
            )
        for name, a in (("y (the outcome)", y_), ("treatment", w)):
            if not np.isin(a, (0, 1)).all():
                raise DataError(f"uplift fit: {name} must be 0 or 1 for every member")
        for arm, name in ((1, "treated"), (0, "control")):
            k = int((w == arm).sum())
            if k < self.min_child_samples:
                raise DataError(
                    f"uplift fit: {k} {name} members; an uplift model needs at least "
                    f"{self.min_child_samples} in each arm (min_child_samples; a campaign with "
                    "a random control group of that size)"
                )
            if len(np.unique(y_[w == arm])) < 2:
                raise DataError(
                    f"uplift fit: every {name} member has the same outcome; nothing to learn"
                )
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.treatment_share_ = float(w.mean())
        return frame, y_.astype(np.int64), w.astype(np.int64)

    def _check_predict(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "treatment_share_")
        frame = _as_frame(X)
        missing = [c for c in self.feature_names_in_ if c not in frame.columns]
        if missing:
            raise DataError(f"uplift predict: X lacks the fitted features {missing}")
        return frame[list(self.feature_names_in_)]

    def predict_uplift(self, X: Any) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    #: the fitted LightGBM parts of the learner (saved one text file each)
    _PARTS: tuple[str, ...] = ()

    def save(self, folder: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
        """Write ``model.json`` (format version, method, settings, feature list, share treated,
        ``metadata``) and one LightGBM text file per fitted part into ``folder``."""
        check_is_fitted(self, "treatment_share_")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for part in self._PARTS:
            model = getattr(self, part)
            booster = getattr(model, "booster_", model)  # a fitted sklearn wrapper or a Booster
            booster.save_model(str(folder / f"{part.rstrip('_')}.txt"))
        meta = {
            "format_version": FORMAT_VERSION,
            "method": _METHOD_OF[type(self).__name__],
            "params": self.get_params(),
            "feature_names": [str(c) for c in self.feature_names_in_],
            "treatment_share": self.treatment_share_,
            "metadata": metadata or {},
        }
        (folder / "model.json").write_text(
            json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
        )
        return folder


def _as_frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    return pd.DataFrame(np.asarray(X, dtype=float)).rename(columns=str)


def _proba(model: Any, X: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X)[:, 1], dtype=float)
    return np.asarray(model.predict(X), dtype=float)  # a reloaded binary Booster: P(y = 1)


class TLearner(_LightGBMUplift):
    """Two classifiers, one per arm: τ(x) = μ₁(x) − μ₀(x) (Künzel et al. 2019, sec. 2.1)."""

    _PARTS = ("model_treatment_", "model_control_")

    def fit(self, X: Any, y: Any, treatment: Any) -> TLearner:
        frame, y_, w = self._check_fit(X, y, treatment)
        self.model_treatment_ = self._classifier().fit(frame[w == 1], y_[w == 1])
        self.model_control_ = self._classifier().fit(frame[w == 0], y_[w == 0])
        return self

    def predict_response(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """P(buy | treated, x) and P(buy | control, x)."""
        frame = self._check_predict(X)
        return _proba(self.model_treatment_, frame), _proba(self.model_control_, frame)

    def predict_uplift(self, X: Any) -> np.ndarray:
        treated, control = self.predict_response(X)
        return np.asarray(treated - control, dtype=float)


class XLearner(_LightGBMUplift):
    """The X-learner with the share treated as propensity (Künzel et al. 2019, eq. 5-7)."""

    _PARTS = ("model_treatment_", "model_control_", "effect_treatment_", "effect_control_")

    def fit(self, X: Any, y: Any, treatment: Any) -> XLearner:
        frame, y_, w = self._check_fit(X, y, treatment)
        t, c = frame[w == 1], frame[w == 0]
        self.model_treatment_ = self._classifier().fit(t, y_[w == 1])
        self.model_control_ = self._classifier().fit(c, y_[w == 0])
        # imputed effects: D1 = Y1 - mu0(X1) (treated), D0 = mu1(X0) - Y0 (control)
        d1 = y_[w == 1] - _proba(self.model_control_, t)
        d0 = _proba(self.model_treatment_, c) - y_[w == 0]
        self.effect_treatment_ = self._regressor().fit(t, d1)
        self.effect_control_ = self._regressor().fit(c, d0)
        return self

    def predict_uplift(self, X: Any) -> np.ndarray:
        frame = self._check_predict(X)
        g = self.treatment_share_
        tau0 = np.asarray(self.effect_control_.predict(frame), dtype=float)
        tau1 = np.asarray(self.effect_treatment_.predict(frame), dtype=float)
        return g * tau0 + (1.0 - g) * tau1


class ClassTransformationLearner(_LightGBMUplift):
    """One classifier of Z = Y·W + (1 − Y)(1 − W) on arms weighted to equal size:
    τ(x) = 2 P(Z = 1 | x) − 1 (Jaskowski & Jaroszewicz 2012, eq. 4)."""

    _PARTS = ("model_",)

    def fit(self, X: Any, y: Any, treatment: Any) -> ClassTransformationLearner:
        frame, y_, w = self._check_fit(X, y, treatment)
        z = y_ * w + (1 - y_) * (1 - w)
        e = self.treatment_share_
        weight = np.where(w == 1, 0.5 / e, 0.5 / (1.0 - e))
        self.model_ = self._classifier().fit(frame, z, sample_weight=weight)
        return self

    def predict_uplift(self, X: Any) -> np.ndarray:
        frame = self._check_predict(X)
        return 2.0 * _proba(self.model_, frame) - 1.0


_CLASSES: dict[str, type[_LightGBMUplift]] = {
    "t_learner": TLearner,
    "x_learner": XLearner,
    "class_transformation": ClassTransformationLearner,
}


_METHOD_OF = {cls.__name__: method for method, cls in _CLASSES.items()}


def load_uplift_model(folder: str | Path) -> tuple[_LightGBMUplift, dict[str, Any]]:
    """The learner saved in ``folder`` (by :meth:`save`) and its metadata; it predicts exactly
    as it did when saved."""
    import lightgbm as lgb

    folder = Path(folder)
    path = folder / "model.json"
    if not path.exists():
        raise ConfigError(
            f"{folder}: no saved uplift model (model.json); run `memberlens uplift fit CAMPAIGN`"
        )
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("format_version") != FORMAT_VERSION:
        raise ConfigError(
            f"{path}: format_version {meta.get('format_version')!r} is not {FORMAT_VERSION}; "
            "refit with `memberlens uplift fit CAMPAIGN`"
        )
    model = uplift_model(meta["method"], **meta["params"])
    for part in model._PARTS:
        setattr(model, part, lgb.Booster(model_file=str(folder / f"{part.rstrip('_')}.txt")))
    model.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
    model.n_features_in_ = len(meta["feature_names"])
    model.treatment_share_ = float(meta["treatment_share"])
    return model, dict(meta["metadata"])


def uplift_model(method: UpliftMethod, **params: Any) -> _LightGBMUplift:
    """A new, unfitted learner of ``method`` (one of :data:`UPLIFT_METHODS`)."""
    if method not in _CLASSES:
        raise ConfigError(
            f"uplift method must be one of {', '.join(UPLIFT_METHODS)}, found {method!r}"
        )
    return _CLASSES[method](**params)
