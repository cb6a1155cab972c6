"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV";
Fader & Hardie 2013 note "The Gamma-Gamma Model of Monetary Value").

A member's transaction values are Gamma(p, nu) around a member mean; nu ~ Gamma(q, gamma). The
model assumes spend is independent of purchase frequency: check it with
:func:`spend_frequency_independence` before use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import pearsonr

from memberlens.clv import _likelihoods
from memberlens.clv._base import ClvModel
from memberlens.clv._mle import MaximumLikelihood, log_scale_hessian, maximize
from memberlens.clv._summary import read_summary
from memberlens.exceptions import DataError

__all__ = ["GammaGammaModel", "IndependenceCheck", "spend_frequency_independence"]


def _repeaters(arrays: dict[str, np.ndarray], who: str) -> dict[str, np.ndarray]:
    keep = arrays["frequency"] > 0
    spend = arrays["monetary_value"][keep]
    if (spend <= 0).any():
        raise DataError(
            f"{who}: monetary_value must be > 0 for members with frequency > 0 "
            f"(the model is for positive spend); found {int((spend <= 0).sum())} "
            "such row(s); fix: drop them (e.g. all repeat purchases refunded)"
        )
    return {k: v[keep] for k, v in arrays.items()}


class GammaGammaModel(ClvModel):
    """Gamma-Gamma spend model; ``params_``: p, q, gamma. Fitted on members with frequency > 0
    (``n_members_`` counts them).

    Settings: ``initial_params`` (dict of starting values), ``max_iter``.
    """

    _param_names = ("p", "q", "gamma")
    _columns = ("frequency", "monetary_value")

    def _n_members(self, arrays) -> float:
        return float(np.sum(arrays["weights"], where=arrays["frequency"] > 0))

    def _fit_arrays(self, arrays) -> MaximumLikelihood:
        rep = _repeaters(arrays, type(self).__name__)
        spend = _likelihoods.Spend.from_arrays(
            rep["frequency"], rep["monetary_value"], rep["weights"]
        )
        m, w = spend.m, spend.weights
        if w.sum() == 0:
            raise DataError(
                f"{type(self).__name__}: no member with frequency > 0 to fit on; "
                "fix: use a longer calibration period"
            )
        # Start: q from the spread of mean spend across members (the mean of x transactions has
        # squared coefficient of variation >= 1 / (q - 2)), p = 4 (a single transaction's
        # spend varying by 1 / sqrt(p) = 50 % around the member's mean), gamma matching the
        # mean p * gamma / (q - 1). Only a starting point: Newton's method takes it from there.
        mean = float(np.average(m, weights=w))
        spread = float(np.average((m - mean) ** 2, weights=w))
        q = min(max(2.0 + mean**2 / spread, 2.1), 1e3) if spread > 0 else 3.0
        start = self._start({"p": 4.0, "q": q, "gamma": mean * (q - 1.0) / 4.0})

        def loglik(theta):
            return _likelihoods.gamma_gamma(np.exp(theta), spend)[0]

        def value_gradient_hessian(theta):
            params = np.exp(theta)
            value, grad, hess = _likelihoods.gamma_gamma(params, spend, hessian=True)
            return value, params * grad, log_scale_hessian(params, grad, hess)

        return maximize(
            loglik,
            start,
            value_gradient_hessian=value_gradient_hessian,
            max_iter=self.max_iter,
            who=type(self).__name__,
        )

    # Fader, Hardie & Lee (2005, "RFM and CLV"), eq. 5: a weighted mean of the population mean
    # p*gamma/(q-1) and the member's observed mean; members without repeat purchases get the
    # population mean.
    def conditional_expected_spend(self, summary: pd.DataFrame) -> pd.Series:
        """E[spend per transaction | the member's frequency and monetary_value]."""
        arrays = self._read(summary)
        p = self._row_params(summary)
        x = arrays["frequency"]
        m = np.where(x > 0, arrays["monetary_value"], 0.0)
        value = (p["p"] * p["gamma"] + p["p"] * x * m) / (p["p"] * x + p["q"] - 1)
        return self._series(value, summary, "expected_spend")

    def expected_spend_new_member(self):
        """Population mean spend per transaction p * gamma / (q - 1) (a Series by segment)."""
        p, index = self._population_params()
        return self._population(p["p"] * p["gamma"] / (p["q"] - 1), index, "expected_spend")


@dataclass(frozen=True)
class IndependenceCheck:
    """Pearson correlation of frequency and mean spend among repeat buyers, with its test."""

    correlation: float
    p_value: float
    n_members: int
    max_abs_correlation: float

    @property
    def looks_independent(self) -> bool:
        """True when |correlation| is below ``max_abs_correlation`` (a practical, not a
        statistical, threshold: with many members tiny correlations are 'significant')."""
        return abs(self.correlation) < self.max_abs_correlation

    def to_dict(self) -> dict:
        return {**asdict(self), "looks_independent": self.looks_independent}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_dict()])


def spend_frequency_independence(
    summary: pd.DataFrame, *, max_abs_correlation: float = 0.3
) -> IndependenceCheck:
    """Check the Gamma-Gamma assumption that spend does not depend on purchase frequency.

    Pearson correlation of ``frequency`` and ``monetary_value`` over members with frequency > 0
    (Fader & Hardie 2013 note, sec. 1; lifetimes docs: 0.1139 on CDNOW).
    """
    arrays = read_summary(summary, GammaGammaModel._columns, who="spend_frequency_independence")
    rep = _repeaters(arrays, "spend_frequency_independence")
    if len(rep["frequency"]) < 3:
        raise DataError(
            "spend_frequency_independence: needs at least 3 members with "
            f"frequency > 0; found {len(rep['frequency'])}"
        )
    result = pearsonr(rep["frequency"], rep["monetary_value"])
    return IndependenceCheck(
        float(result.statistic), float(result.pvalue), len(rep["frequency"]), max_abs_correlation
    )
