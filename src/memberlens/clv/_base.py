"""What every CLV model shares: the fit loop (one model or one per segment), fitted attributes,
parameter look-up per member, and JSON persistence.

A subclass declares ``_param_names``, the summary ``_columns`` it reads and ``_fit_arrays``
(maximum likelihood on the validated columns). Fitted attributes (scikit-learn style):

- ``params_``: a Series (parameter -> estimate), or with ``fit(..., by=col)`` a DataFrame
  (segment -> one row of parameters);
- ``standard_errors_``: same shape, from the Hessian of the log-likelihood;
- ``log_likelihood_`` and ``n_members_``: a float, or a Series by segment;
- ``by_``: the segment column, or None.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from memberlens.clv._mle import MaximumLikelihood, single_blas_thread
from memberlens.clv._summary import member_index, read_summary
from memberlens.exceptions import ConfigError, ConvergenceError, DataError

FORMAT_VERSION = 1


class ClvModel(BaseEstimator):
    """Base class of the CLV models (not used directly)."""

    _param_names: ClassVar[tuple[str, ...]] = ()
    _columns: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, *, initial_params: dict[str, float] | None = None, max_iter: int = 1000
    ) -> None:
        self.initial_params = initial_params
        self.max_iter = max_iter

    # -- fitting -----------------------------------------------------------------------------
    def _fit_arrays(self, arrays: dict[str, np.ndarray]) -> MaximumLikelihood:
        raise NotImplementedError

    def _n_members(self, arrays: dict[str, np.ndarray]) -> float:
        """Members the likelihood is based on (``n_members_``)."""
        return float(arrays["weights"].sum())

    def _start(self, default: dict[str, float]) -> np.ndarray:
        """Starting log-parameters: ``initial_params`` where given, else the model's default."""
        given = self.initial_params or {}
        unknown = sorted(set(given) - set(self._param_names))
        if unknown:
            raise ConfigError(
                f"{type(self).__name__}: initial_params has unknown name(s) "
                f"{unknown}; allowed: {list(self._param_names)}"
            )
        values = [float(given.get(name, default[name])) for name in self._param_names]
        if min(values) <= 0:
            raise ConfigError(
                f"{type(self).__name__}: initial_params must be > 0; found "
                f"{dict(zip(self._param_names, values))}"
            )
        return np.log(values)

    def fit(self, summary: pd.DataFrame, *, by: str | None = None):
        """Fit by maximum likelihood on a member summary; with ``by``, one model per segment.

        Rows may carry a ``weights`` column (members per row). Returns ``self``.
        """
        if self.max_iter < 1:
            raise ConfigError(
                f"{type(self).__name__}: max_iter must be >= 1; found {self.max_iter!r}"
            )
        with single_blas_thread():  # the whole fit, its data preparation included
            self._fit(summary, by)
        return self

    def _fit(self, summary: pd.DataFrame, by: str | None) -> None:
        arrays = read_summary(summary, self._columns, who=type(self).__name__)
        if not arrays["weights"].sum() > 0:
            raise DataError(
                f"{type(self).__name__}: no members to fit (the summary has {len(summary)} "
                "rows); fit on a summary with at least one member"
            )
        if by is None:
            fit = self._fit_arrays(arrays)
            names = _names_index(self._param_names)
            self.params_ = pd.Series(fit.params, index=names, name="estimate")
            self.standard_errors_ = pd.Series(
                fit.standard_errors, index=names, name="standard_error"
            )
            self.log_likelihood_ = fit.log_likelihood
            self.n_members_ = self._n_members(arrays)
        else:
            if by not in summary.columns:
                raise DataError(
                    f"{type(self).__name__}: segment column {by!r} (by=) is not in "
                    f"the summary; found {list(summary.columns)}; fix: add it or "
                    "pass by=None"
                )
            if summary[by].isna().any():
                raise DataError(
                    f"{type(self).__name__}: segment column {by!r} has "
                    f"{int(summary[by].isna().sum())} missing value(s); fix: fill "
                    "them (e.g. 'unknown') before fitting by segment"
                )
            codes, values = pd.factorize(summary[by])
            rows_of = pd.Series(np.arange(codes.size)).groupby(codes).indices
            fits = {}
            for code, value in enumerate(values):  # one fit per segment, not per member
                part = {k: v[rows_of[code]] for k, v in arrays.items()}
                try:
                    fit = self._fit_arrays(part)
                except ConvergenceError as exc:
                    raise ConvergenceError(
                        f"segment {by}={value!r} ({rows_of[code].size} rows): {exc}"
                    ) from exc
                fits[_plain(value)] = (fit, self._n_members(part))
            self._set_segment_fits(by, fits)
        self.by_ = by

    def _set_segment_fits(self, by: str, fits: dict[Any, tuple[MaximumLikelihood, float]]):
        index = pd.Index(list(fits), name=by)
        self.params_ = pd.DataFrame(
            [f.params for f, _ in fits.values()], index=index, columns=list(self._param_names)
        )
        self.standard_errors_ = pd.DataFrame(
            [f.standard_errors for f, _ in fits.values()],
            index=index,
            columns=list(self._param_names),
        )
        self.log_likelihood_ = pd.Series(
            [f.log_likelihood for f, _ in fits.values()], index=index, name="log_likelihood"
        )
        self.n_members_ = pd.Series([n for _, n in fits.values()], index=index, name="n_members")

    # -- parameters per member -----------------------------------------------------------------
    def _check_fitted(self) -> None:
        check_is_fitted(self, "params_")

    def _row_params(self, summary: pd.DataFrame) -> dict[str, float | np.ndarray]:
        """Each parameter as a scalar, or (segment fits) as one value per summary row."""
        self._check_fitted()
        if self.by_ is None:
            return {name: float(self.params_[name]) for name in self._param_names}
        if self.by_ not in summary.columns:
            raise DataError(
                f"{type(self).__name__}: this model was fitted by segment "
                f"{self.by_!r}, which the summary lacks; found "
                f"{list(summary.columns)}; fix: add the segment column"
            )
        position = self.params_.index.get_indexer(summary[self.by_])
        if (position < 0).any():
            unknown = pd.unique(summary[self.by_].to_numpy()[position < 0])[:5]
            raise DataError(
                f"{type(self).__name__}: segment value(s) {list(unknown)} in "
                f"column {self.by_!r} were not seen in fit (known: "
                f"{list(self.params_.index)}); fix: refit including them"
            )
        return {name: self.params_[name].to_numpy()[position] for name in self._param_names}

    def _population_params(self) -> tuple[dict[str, float | np.ndarray], pd.Index | None]:
        """Parameters for population-level quantities: scalars, or one value per segment."""
        self._check_fitted()
        if self.by_ is None:
            return {name: float(self.params_[name]) for name in self._param_names}, None
        return (
            {name: self.params_[name].to_numpy() for name in self._param_names},
            self.params_.index,
        )

    def _read(self, summary: pd.DataFrame, columns: tuple[str, ...] | None = None):
        self._check_fitted()
        return read_summary(summary, columns or self._columns, who=type(self).__name__)

    @staticmethod
    def _series(values: np.ndarray, summary: pd.DataFrame, name: str) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=float), index=member_index(summary), name=name)

    @staticmethod
    def _population(values, index: pd.Index | None, name: str):
        if index is None:
            return float(values)
        return pd.Series(np.asarray(values, dtype=float), index=index, name=name)

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted model as plain JSON-ready data (settings, parameters, fit statistics)."""
        self._check_fitted()
        segmented = self.by_ is not None
        return {
            "model": type(self).__name__,
            "format": FORMAT_VERSION,
            "settings": self.get_params(),
            "by": self.by_,
            "param_names": list(self._param_names),
            "segments": [_plain(v) for v in self.params_.index] if segmented else None,
            "params": self.params_.to_numpy().tolist(),
            "standard_errors": self.standard_errors_.to_numpy().tolist(),
            "log_likelihood": (
                self.log_likelihood_.tolist() if segmented else self.log_likelihood_
            ),
            "n_members": self.n_members_.tolist() if segmented else self.n_members_,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=True)

    def save(self, path: str | Path) -> Path:
        """Write the fitted model as JSON to ``path``; returns the path."""
        path = Path(path)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        if data.get("model") != cls.__name__ or data.get("format") != FORMAT_VERSION:
            raise ConfigError(
                f"{cls.__name__}.from_json: the file holds model "
                f"{data.get('model')!r} format {data.get('format')!r}; expected "
                f"{cls.__name__!r} format {FORMAT_VERSION}; fix: load it with "
                "the class named in the file"
            )
        model = cls(**data["settings"])
        names = list(data["param_names"])
        model.by_ = data["by"]
        if model.by_ is None:
            model.params_ = pd.Series(data["params"], index=names, name="estimate", dtype=float)
            model.standard_errors_ = pd.Series(
                data["standard_errors"], index=names, name="standard_error", dtype=float
            )
            model.log_likelihood_ = float(data["log_likelihood"])
            model.n_members_ = float(data["n_members"])
        else:
            index = pd.Index(data["segments"], name=model.by_)
            model.params_ = pd.DataFrame(data["params"], index=index, columns=names, dtype=float)
            model.standard_errors_ = pd.DataFrame(
                data["standard_errors"], index=index, columns=names, dtype=float
            )
            model.log_likelihood_ = pd.Series(
                data["log_likelihood"], index=index, name="log_likelihood", dtype=float
            )
            model.n_members_ = pd.Series(
                data["n_members"], index=index, name="n_members", dtype=float
            )
        return model

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path):
        """Read a model written by :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


@functools.cache
def _names_index(names: tuple[str, ...]) -> pd.Index:
    """The parameter names as a pandas Index, built once per model class (an Index is immutable,
    so fitted Series may share it; building one costs more than a small fit's arithmetic)."""
    return pd.Index(list(names))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
