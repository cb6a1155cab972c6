"""``SalesForecaster``: weekly sales on the log scale, festivals and yearly terms as regressors.

The model (regression with ARIMA errors, Hyndman & Athanasopoulos, *Forecasting: Principles and
Practice*, 3rd ed., ch. 10) for the weekly value ``y_t`` (revenue or orders):

    log(1 + y_t) = x_t' beta + u_t

``x_t`` holds the yearly Fourier terms and the festival windows
(:mod:`memberlens.forecast.design`). The errors ``u_t`` follow

* ``errors="local_level"`` (default): ARIMA(0, 1, 1), a random-walk level plus noise, i.e.
  exponential smoothing of the level (Muth 1960; Harvey 1990, sec. 2.3.2). The level absorbs
  growth, decline and shifts, so there is no deterministic trend;
* ``errors="ar1"``: AR(1) around a constant and a linear trend in time.

The local level was chosen by rolling-origin back-test (``docs/forecast.md``): on simulated shops
with growth its 13-week sMAPE was about half that of the AR(1)-plus-trend model, whose straight
trend line overshoots when growth slows.

The coefficients are the exact Gaussian maximum-likelihood estimates, computed by statsmodels'
``ARIMA(...).fit(method="innovations_mle", gls=True)`` (GLS for ``beta`` alternating with the
innovations MLE of the ARMA part; Brockwell & Davis 2016, sec. 6.6); they agree with
``statsmodels.tsa.SARIMAX`` on the same design (tested). Forecasts and intervals come from the
fitted state-space model: ``yhat`` is ``exp(mean) - 1`` of the log-scale forecast (the
forecast median), the interval its ``interval`` central quantiles, floored at 0.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from memberlens.exceptions import ConfigError, ConvergenceError, DataError
from memberlens.forecast.design import design_matrix
from memberlens.forecast.festivals import DEFAULT_FESTIVALS, FESTIVALS

__all__ = ["FORECAST_COLUMNS", "Errors", "SalesForecaster", "weekly_values"]

Errors = Literal["local_level", "ar1"]

#: Columns of :meth:`SalesForecaster.predict`.
FORECAST_COLUMNS: tuple[str, ...] = ("week", "yhat", "yhat_lower", "yhat_upper")

_LABELS = {f.name: f.label_zh for f in FESTIVALS}


def weekly_values(
    series: pd.Series | pd.DataFrame, *, metric: str = "revenue"
) -> tuple[pd.Series, list[str]]:
    """A float Series on a regular 7-day index from a Series indexed by week or from a frame
    with a ``week`` column (one category); missing weeks become 0, leading zero weeks are cut.
    Returns the series and notes on what was changed."""
    if isinstance(series, pd.DataFrame):
        if "week" not in series.columns or metric not in series.columns:
            found = ", ".join(map(str, series.columns))
            raise DataError(
                f"series: a frame needs columns 'week' and {metric!r} (the output "
                f"of weekly_sales); columns found: {found}"
            )
        if "category" in series.columns and series["category"].nunique(dropna=False) > 1:
            raise DataError(
                "series: the frame holds several categories; pass one, e.g. "
                "frame[frame.category == '美妆']"
            )
        series = pd.Series(series[metric].to_numpy(), index=pd.to_datetime(series["week"]))
    if not isinstance(series, pd.Series):
        raise DataError(
            f"series: expected a pandas Series indexed by week or a weekly_sales "
            f"frame, got {type(series).__name__}"
        )
    try:
        index = pd.DatetimeIndex(pd.to_datetime(series.index))
    except (TypeError, ValueError):
        raise DataError(
            "series: the index must hold the weeks' first days (dates); build the "
            "series with memberlens.forecast.weekly_sales"
        ) from None
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise DataError(f"series: values must be numeric, found {series.dtype}")
    values = pd.Series(series.to_numpy(dtype=float), index=index.normalize())
    if values.index.has_duplicates:
        dup = values.index[values.index.duplicated()][0].date()
        raise DataError(f"series: week {dup} appears twice; aggregate to one value per week")
    values = values.sort_index()
    if not np.isfinite(values.to_numpy()).all():
        raise DataError(
            "series: holds missing or infinite values; a week without sales is 0, "
            "fill it with 0 (weekly_sales does)"
        )
    if (values < 0).any():
        bad = values[values < 0].index[0].date()
        raise DataError(
            f"series: negative value in week {bad}; sales are paid amounts or "
            "order counts (refunds are reported apart, not netted)"
        )
    notes: list[str] = []
    if len(values) > 1:
        steps = np.diff(values.index.values.astype("datetime64[D]").astype(np.int64))
        if (steps % 7).any():
            raise DataError(
                "series: weeks must be 7 days apart (first days of the weeks), "
                f"found gaps of {sorted(set(steps.tolist()))} days; use "
                "memberlens.forecast.weekly_sales to build the series"
            )
        full = pd.date_range(values.index[0], values.index[-1], freq="7D")
        if len(full) > len(values):
            notes.append(f"{len(full) - len(values)} missing week(s) filled with 0")
            values = values.reindex(full, fill_value=0.0)
    nonzero = np.flatnonzero(values.to_numpy() > 0)
    if nonzero.size == 0:
        raise DataError("series: no week with sales; nothing to forecast")
    if nonzero[0] > 0:
        notes.append(
            f"{nonzero[0]} leading week(s) without sales cut (the series starts at "
            f"its first sale, {values.index[nonzero[0]].date()})"
        )
        values = values.iloc[nonzero[0] :]
    values.index.name = "week"
    return values, notes


def _independent(x: pd.DataFrame) -> list[str]:
    """Columns kept in order while each adds to the rank (drops all-zero and duplicate ones)."""
    kept: list[str] = []
    rank = 0
    for column in x.columns:
        trial = x[kept + [column]].to_numpy()
        new_rank = np.linalg.matrix_rank(trial)
        if new_rank > rank:
            kept.append(column)
            rank = new_rank
    return kept


class SalesForecaster(BaseEstimator):
    """Weekly revenue or order forecast with yearly seasonality and Chinese festivals.

    Settings: ``metric`` (the column read from a :func:`weekly_sales` frame), ``yearly_order``
    (Fourier harmonics of the yearly cycle), ``festivals`` (names from
    :data:`~memberlens.forecast.festivals.FESTIVALS`), ``errors`` (``"local_level"`` or
    ``"ar1"``, see the module notes), ``interval`` (central coverage of the prediction interval),
    ``min_weeks`` (shortest history accepted) and ``yearly_min_weeks`` (history needed before
    the yearly terms are estimated).

    Fitted attributes: ``params_`` (Series by parameter name, log scale),
    ``columns_`` (design columns used), ``yearly_order_`` (harmonics used), ``festivals_``
    (festival columns used), ``first_week_``, ``last_week_``, ``n_weeks_``, ``notes_`` (what was
    dropped and why) and ``results_`` (the statsmodels ARIMA results: weekly totals only, no
    member data).

    >>> import numpy as np, pandas as pd
    >>> weeks = pd.date_range("2022-01-03", periods=160, freq="7D")
    >>> y = pd.Series(1000 * np.exp(0.1 * np.sin(np.arange(160) / 8)), index=weeks)
    >>> model = SalesForecaster(festivals=()).fit(y)
    >>> model.predict(4).columns.tolist()
    ['week', 'yhat', 'yhat_lower', 'yhat_upper']
    """

    def __init__(
        self,
        *,
        metric: str = "revenue",
        yearly_order: int = 3,
        festivals: Sequence[str] = DEFAULT_FESTIVALS,
        errors: Errors = "local_level",
        interval: float = 0.9,
        min_weeks: int = 12,
        yearly_min_weeks: int = 104,
    ) -> None:
        self.metric = metric
        self.yearly_order = yearly_order
        self.festivals = festivals
        self.errors = errors
        self.interval = interval
        self.min_weeks = min_weeks
        self.yearly_min_weeks = yearly_min_weeks

    # -- fitting --------------------------------------------------------------------------------
    def _check_settings(self) -> None:
        if self.errors not in ("local_level", "ar1"):
            raise ConfigError(f"errors: must be 'local_level' or 'ar1', got {self.errors!r}")
        if not 0.0 < float(self.interval) < 1.0:
            raise ConfigError(
                f"interval: must be a coverage between 0 and 1, e.g. 0.9, got {self.interval!r}"
            )
        if int(self.yearly_order) < 0 or int(self.yearly_order) > 26:
            raise ConfigError(f"yearly_order: must be 0..26 harmonics, got {self.yearly_order!r}")
        if int(self.min_weeks) < 8:
            raise ConfigError(f"min_weeks: must be at least 8, got {self.min_weeks!r}")

    def _design(
        self, weeks: pd.DatetimeIndex, yearly_order: int, origin: pd.Timestamp
    ) -> pd.DataFrame:
        return design_matrix(
            weeks,
            yearly_order=yearly_order,
            festivals=tuple(self.festivals),
            trend=self.errors == "ar1",
            origin=origin,
        )

    def fit(self, series: pd.Series | pd.DataFrame) -> SalesForecaster:
        """Fit on a weekly series (a Series indexed by week, or a one-category
        :func:`weekly_sales` frame whose ``metric`` column is used); returns ``self``."""
        from statsmodels.tsa.arima.model import ARIMA

        self._check_settings()
        y, notes = weekly_values(series, metric=self.metric)
        n = len(y)
        if n < int(self.min_weeks):
            raise DataError(
                f"series: {n} full week(s) of sales, the forecast needs at least "
                f"{int(self.min_weeks)}; use a later as_of or more history (or forecast the total "
                "instead of a small category)"
            )
        if np.ptp(y.to_numpy()) == 0:
            raise DataError(
                f"series: the same value ({y.iloc[0]:g}) every week; there is "
                "nothing to model, the forecast is that value"
            )
        yearly = int(self.yearly_order)
        if yearly and n < int(self.yearly_min_weeks):
            notes.append(
                f"yearly seasonality terms dropped: {n} weeks of history, "
                f"{int(self.yearly_min_weeks)} (two years) are needed to tell a yearly "
                "cycle from the level's drift"
            )
            yearly = 0
        x = self._design(y.index, yearly, y.index[0])
        kept = _independent(x)
        absent = [c for c in x.columns if c not in kept and not x[c].any()]
        dependent = [c for c in x.columns if c not in kept and x[c].any()]
        if absent:
            notes.append(f"festival(s) not in the history, so not estimated: {', '.join(absent)}")
        if dependent:
            notes.append(
                f"regressor(s) dropped as they repeat others in this history: "
                f"{', '.join(dependent)}"
            )
        if len(kept) >= n - 4:
            raise DataError(
                f"series: {n} weeks are too few for {len(kept)} regressors; pass "
                "fewer festivals or a longer history"
            )
        x = x[kept]
        order = (0, 1, 1) if self.errors == "local_level" else (1, 0, 0)
        exog = x.to_numpy() if kept else None
        model = ARIMA(np.log1p(y.to_numpy()), exog=exog, order=order, trend="n")
        with warnings.catch_warnings():
            # statsmodels says that it differenced the data before estimation (intended: the
            # local level is estimated on differences) and warns on MA starts near the
            # boundary; the parameters are checked below instead
            warnings.filterwarnings("ignore", message="Provided `endog`")
            warnings.filterwarnings("ignore", module="statsmodels")
            try:
                params = model.fit(method="innovations_mle", gls=True, return_params=True)
            except (ValueError, ZeroDivisionError, np.linalg.LinAlgError):
                # e.g. a non-invertible MA estimate: the state-space MLE constrains it
                try:
                    params = model.fit(method="statespace", return_params=True)
                except (ValueError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
                    raise ConvergenceError(
                        f"sales forecast: the fit failed ({exc}); try the "
                        "other errors= model or fewer festivals"
                    ) from exc
            params = np.asarray(params, dtype=float)
            if not np.isfinite(params).all():
                raise ConvergenceError(
                    "sales forecast: the fit gave non-finite parameters; try "
                    "the other errors= model or fewer festivals"
                )
            # the Kalman filter at the estimates: forecasts, intervals and in-sample predictions
            # (standard errors are computed on demand: standard_errors())
            results = model.filter(params, cov_type="none")
        names = (
            list(kept)
            + [n_ for n_ in model.param_names if n_.startswith(("ar.", "ma."))]
            + ["sigma2"]
        )
        self.results_ = results
        self.first_week_ = y.index[0]
        self.params_ = pd.Series(params, index=names, name="estimate")
        self.columns_ = list(kept)
        self.yearly_order_ = yearly
        self.festivals_ = [c for c in kept if c in _LABELS]
        self.last_week_ = y.index[-1]
        self.n_weeks_ = n
        self.notes_ = notes
        return self

    # -- outputs --------------------------------------------------------------------------------
    def _frame(self, weeks, mean, lower, upper) -> pd.DataFrame:
        with np.errstate(over="ignore"):  # the diffuse first in-sample week: inf, then NaN
            return pd.DataFrame(
                {
                    "week": pd.DatetimeIndex(weeks).astype("datetime64[us]"),
                    "yhat": np.expm1(np.asarray(mean, dtype=float)),
                    "yhat_lower": np.maximum(np.expm1(np.asarray(lower, dtype=float)), 0.0),
                    "yhat_upper": np.expm1(np.asarray(upper, dtype=float)),
                }
            )

    def future_weeks(self, horizon: int) -> pd.DatetimeIndex:
        """The ``horizon`` weeks after the last fitted week."""
        check_is_fitted(self, "results_")
        return pd.DatetimeIndex(
            [self.last_week_ + pd.Timedelta(days=7 * h) for h in range(1, int(horizon) + 1)]
        )

    def predict(self, horizon: int = 13) -> pd.DataFrame:
        """Forecast of the next ``horizon`` weeks: week, yhat, yhat_lower, yhat_upper."""
        check_is_fitted(self, "results_")
        if isinstance(horizon, bool) or int(horizon) != horizon or int(horizon) < 1:
            raise ConfigError(f"horizon: must be a positive number of weeks, got {horizon!r}")
        weeks = self.future_weeks(int(horizon))
        exog = (
            self._design(weeks, self.yearly_order_, self.first_week_)[self.columns_].to_numpy()
            if self.columns_
            else None
        )
        forecast = self.results_.get_forecast(int(horizon), exog=exog)
        bounds = np.asarray(forecast.conf_int(alpha=1.0 - float(self.interval)))
        return self._frame(weeks, forecast.predicted_mean, bounds[:, 0], bounds[:, 1])

    def predict_in_sample(self) -> pd.DataFrame:
        """One-step-ahead predictions of the fitted weeks: week, actual, yhat, lower, upper
        (the first week has no prediction: NaN)."""
        check_is_fitted(self, "results_")
        weeks = pd.date_range(self.first_week_, self.last_week_, freq="7D")
        prediction = self.results_.get_prediction()
        bounds = np.asarray(prediction.conf_int(alpha=1.0 - float(self.interval)))
        out = self._frame(weeks, prediction.predicted_mean, bounds[:, 0], bounds[:, 1])
        if self.errors == "local_level":  # the diffuse first level predicts nothing
            out.loc[0, ["yhat", "yhat_lower", "yhat_upper"]] = np.nan
        out.insert(
            1, "actual", np.expm1(np.asarray(self.results_.model.endog, dtype=float).ravel())
        )
        return out

    def standard_errors(self) -> pd.Series:
        """Standard errors of the regression coefficients (log scale), by design column.

        The GLS covariance ``s^2 (X*'X*)^-1`` at the fitted ARMA parameters, where ``X*`` is the
        design (differenced for the local level) whitened by the innovations algorithm
        (Brockwell & Davis 2016, sec. 6.6; statsmodels' GLS step). Regression and ARMA
        parameters are asymptotically independent in this model, so these agree with the
        inverse information of the full likelihood (tested against SARIMAX).
        """
        from statsmodels.regression.linear_model import OLS
        from statsmodels.tsa.innovations import arma_innovations

        check_is_fitted(self, "results_")
        if not self.columns_:
            return pd.Series(dtype=float, name="standard_error")
        endog = np.asarray(self.results_.model.endog, dtype=float).ravel()
        exog = np.asarray(self.results_.model.exog, dtype=float)
        data = np.column_stack([endog, exog])
        ar, ma = np.array([]), np.array([])
        if self.errors == "local_level":
            data = np.diff(data, axis=0)
            ma = np.array(self.params_[["ma.L1"]], dtype=float)
        else:
            ar = np.array(self.params_[["ar.L1"]], dtype=float)
        white, _ = arma_innovations.arma_innovations(
            data, ar_params=ar, ma_params=ma, normalize=True
        )
        fit = OLS(white[:, 0], white[:, 1:]).fit()
        return pd.Series(
            np.asarray(fit.bse, dtype=float), index=self.columns_, name="standard_error"
        )

    def festival_effects(self) -> pd.DataFrame:
        """Per festival used: coefficient and standard error (log scale), and the lift of a
        fully exposed week ``exp(coef) - 1`` with its ``interval`` bounds."""
        from scipy.stats import norm

        check_is_fitted(self, "results_")
        z = norm.ppf(0.5 + float(self.interval) / 2.0)
        coef = self.params_[self.festivals_]
        se = self.standard_errors()[self.festivals_]
        return pd.DataFrame(
            {
                "festival": self.festivals_,
                "label_zh": [_LABELS[f] for f in self.festivals_],
                "coef": coef.to_numpy(),
                "se": se.to_numpy(),
                "lift": np.expm1(coef.to_numpy()),
                "lift_lower": np.expm1((coef - z * se).to_numpy()),
                "lift_upper": np.expm1((coef + z * se).to_numpy()),
            }
        )

    @property
    def last_week(self) -> dt.date:
        check_is_fitted(self, "results_")
        return self.last_week_.date()
