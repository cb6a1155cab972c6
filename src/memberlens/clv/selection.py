"""Choose the purchase model on the shop's own data instead of assuming BG/NBD.

:func:`choose_purchase_model` fits the candidates (:data:`CANDIDATES`: BG/NBD, MBG/NBD,
Pareto/NBD and MBG/CNBD-k, the one with regular purchase timing) and chooses:

* by a **calibration/holdout back-test** when a holdout frame is given and at least
  ``min_holdout_repeaters`` calibration members bought again: each candidate is fitted on the
  calibration period and predicts every member's holdout purchases; the smallest member-level
  mean absolute error wins (Fader, Hardie & Lee 2005, sec. 5; Platzer & Reutterer 2016, sec. 5
  compare models the same way);
* otherwise (history too short for a holdout) by **AIC** = 2 * parameters - 2 * log-likelihood on
  the full period (MBG/CNBD-k counts k as a parameter).

Degenerate fits (:func:`memberlens.clv.diagnostics.fit_health`) and fits that fail are never
chosen while another candidate is usable. The comparison table (model, parameters,
log-likelihood, AIC, holdout MAE and total error, degenerate, chosen) is what ``memberlens run``
stores in ``mart_model_comparison``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from memberlens.clv._purchase import PurchaseModel
from memberlens.clv.beta_geo import BetaGeoModel, ModifiedBetaGeoModel
from memberlens.clv.beta_geo_cnbd import ModifiedBetaGeoCNBDModel
from memberlens.clv.diagnostics import FitHealth, fit_health
from memberlens.clv.pareto_nbd import ParetoNBDModel
from memberlens.exceptions import ConfigError, MemberlensError

__all__ = [
    "CANDIDATES",
    "HOLDOUT_ERROR_WARNING",
    "ModelChoice",
    "choose_purchase_model",
    "holdout_warning",
]

#: the chosen model's holdout total may miss the actual repeat purchases by this share at most
#: before the run, ``status`` and the value page warn (docs/clv.md, "Choose the model")
HOLDOUT_ERROR_WARNING = 0.20

#: candidate key -> (model class, display name)
CANDIDATES: dict[str, tuple[type[PurchaseModel], str]] = {
    "bgnbd": (BetaGeoModel, "BG/NBD"),
    "mbgnbd": (ModifiedBetaGeoModel, "MBG/NBD"),
    "pnbd": (ParetoNBDModel, "Pareto/NBD"),
    "mbgcnbd": (ModifiedBetaGeoCNBDModel, "MBG/CNBD-k"),
}
COMPARISON_COLUMNS = (
    "model",
    "name",
    "params",
    "n_params",
    "log_likelihood",
    "aic",
    "holdout_mae",
    "holdout_total_error",
    "degenerate",
    "note",
    "chosen",
)
HOLDOUT = ("frequency_holdout", "duration_holdout")
Criterion = Literal["holdout", "aic"]


@dataclass(frozen=True)
class ModelChoice:
    """The chosen model (fitted on the full period), how it was chosen and the comparison."""

    chosen: str
    criterion: Criterion
    model: PurchaseModel
    health: FitHealth
    comparison: pd.DataFrame
    notes: tuple[str, ...]

    @property
    def name(self) -> str:
        return CANDIDATES[self.chosen][1]

    @property
    def degenerate(self) -> bool:
        return self.health.degenerate

    @property
    def holdout_total_error(self) -> float | None:
        """(expected - actual) / actual holdout repeat purchases of the chosen model, or None
        (chosen by AIC)."""
        value = self.comparison.loc[self.comparison["chosen"], "holdout_total_error"]
        return float(value.iloc[0]) if len(value) and pd.notna(value.iloc[0]) else None

    def to_frame(self) -> pd.DataFrame:
        return self.comparison

    def to_dict(self) -> dict:
        return {
            "chosen": self.chosen,
            "name": self.name,
            "criterion": self.criterion,
            "degenerate": self.degenerate,
            "health": self.health.to_dict(),
            "notes": list(self.notes),
            "comparison": self.comparison.to_dict(orient="records"),
        }


def _n_params(model: PurchaseModel) -> int:
    return len(model.params_)  # MBG/CNBD-k: k counts (a discrete parameter chosen by likelihood)


def holdout_warning(name: str, total_error: float | None) -> str | None:
    """A plain warning when the chosen model's holdout total (expected - actual) / actual misses
    by more than :data:`HOLDOUT_ERROR_WARNING`; None when it is within it or unknown."""
    if total_error is None or not np.isfinite(total_error):
        return None
    if abs(total_error) <= HOLDOUT_ERROR_WARNING:
        return None
    way = "under" if total_error < 0 else "over"
    return (
        f"warning: {name}, the best model on the back-test, {way}-predicted the holdout's repeat "
        f"purchases by {abs(total_error):.0%} (more than {HOLDOUT_ERROR_WARNING:.0%}): treat "
        "expected purchases and CLV as rough; more history or a steadier period helps"
    )


def _holdout_errors(model: PurchaseModel, calibration: pd.DataFrame) -> tuple[float, float]:
    from memberlens.clv.checking import _holdout_expectation

    actual = calibration["frequency_holdout"].to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        expected = _holdout_expectation(model, calibration)
    if not np.all(np.isfinite(expected)):
        return float("nan"), float("nan")
    total = float(actual.sum())
    return (
        float(np.mean(np.abs(expected - actual))),
        float((expected.sum() - total) / total) if total > 0 else float("nan"),
    )


def choose_purchase_model(
    summary: pd.DataFrame,
    *,
    holdout: pd.DataFrame | None = None,
    candidates: tuple[str, ...] = tuple(CANDIDATES),
    min_holdout_repeaters: int = 50,
) -> ModelChoice:
    """Fit each candidate on ``summary`` (frequency, recency, T; ``litt`` for MBG/CNBD-k) and
    choose one (see the module notes).

    ``holdout``: a calibration summary (same columns, at the calibration end) with
    ``frequency_holdout`` and ``duration_holdout`` (``calibration_holdout_summary`` renamed as
    in :func:`memberlens.clv.checking.backtest_orders`).
    """
    unknown = [c for c in candidates if c not in CANDIDATES]
    if unknown or not candidates:
        raise ConfigError(
            f"choose_purchase_model: candidates must be among {list(CANDIDATES)}; "
            f"found {list(candidates)}"
        )
    notes: list[str] = []
    if "mbgcnbd" in candidates and "litt" not in summary.columns:
        candidates = tuple(c for c in candidates if c != "mbgcnbd")
        notes.append("MBG/CNBD-k left out: the summary has no litt column")
    use_holdout = holdout is not None
    if holdout is not None:
        missing = [c for c in HOLDOUT if c not in holdout.columns]
        if missing:
            raise ConfigError(
                f"choose_purchase_model: holdout lacks {missing}; pass the calibration "
                "summary with frequency_holdout and duration_holdout"
            )
        repeaters = int((holdout["frequency"] > 0).sum())
        if repeaters < min_holdout_repeaters:
            use_holdout = False
            notes.append(
                f"history too short for a holdout back-test ({repeaters} calibration repeat "
                f"buyers, need {min_holdout_repeaters}): chosen by AIC"
            )
    rows, fitted, health = [], {}, {}
    for key in candidates:
        cls, name = CANDIDATES[key]
        row = dict.fromkeys(COMPARISON_COLUMNS)
        row.update(model=key, name=name, degenerate=False, note="", chosen=False)
        try:
            model = cls().fit(summary)
            health[key] = fit_health(model, summary)
            fitted[key] = model
            row.update(
                params=json.dumps({k: round(float(v), 6) for k, v in model.params_.items()}),
                n_params=_n_params(model),
                log_likelihood=float(model.log_likelihood_),
                aic=2.0 * _n_params(model) - 2.0 * float(model.log_likelihood_),
                degenerate=health[key].degenerate,
                note="; ".join(health[key].reasons),
            )
            if use_holdout and not health[key].degenerate:  # never chosen: spare the refit
                calibrated = cls().fit(holdout)
                row["holdout_mae"], row["holdout_total_error"] = _holdout_errors(
                    calibrated, holdout
                )
        except MemberlensError as exc:  # a fit that fails is reported, not fatal
            row["note"] = f"fit failed: {exc}"[:300]
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    usable = table[table["model"].isin(list(fitted))]
    if usable.empty:
        raise MemberlensError(
            "choose_purchase_model: no purchase model could be fitted: "
            + "; ".join(table["note"].astype(str))
        )
    healthy = usable[~usable["degenerate"].astype(bool)]
    pool = healthy if len(healthy) else usable
    criterion: Criterion = "aic"
    if use_holdout and pool["holdout_mae"].notna().any():
        criterion = "holdout"
        chosen = str(pool.loc[pool["holdout_mae"].idxmin(), "model"])
    else:
        chosen = str(pool.loc[pool["aic"].idxmin(), "model"])
    if (
        chosen == "mbgcnbd"
        and int(fitted[chosen].params_["k"]) == 1
        and "mbgnbd" in set(pool["model"])
    ):
        # k = 1 is MBG/NBD itself: name the simpler model (the same predictions, fewer words)
        chosen = "mbgnbd"
        notes.append("MBG/CNBD-k found k = 1 (no purchase regularity): MBG/NBD, the same model")
    if not len(healthy):
        notes.append("every candidate fit is degenerate: predictions are not reliable")
    if criterion == "holdout":
        error = table.loc[table["model"] == chosen, "holdout_total_error"].iloc[0]
        warning = holdout_warning(CANDIDATES[chosen][1], error)
        if warning:
            notes.append(warning)
    table["chosen"] = table["model"] == chosen
    return ModelChoice(chosen, criterion, fitted[chosen], health[chosen], table, tuple(notes))
