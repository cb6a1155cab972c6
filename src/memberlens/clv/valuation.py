"""Per-member value for the pipeline: the chosen purchase model, Gamma-Gamma spend on net value
and discounted CLV, degrading step by step instead of failing.

:func:`member_value` is what ``memberlens run``'s ``clv`` step calls. On a weekly summary:

1. chooses the purchase model (:func:`memberlens.clv.selection.choose_purchase_model`) by a
   calibration/holdout back-test on the shop's own orders (the last quarter of the history, 4 to
   26 weeks), or by AIC when the history is shorter than 16 weeks; candidates are compared on a
   seeded sample of at most ``sample_size`` members and the chosen one is refitted on everyone;
2. checks the fit (:func:`memberlens.clv.diagnostics.fit_health`): a **degenerate** fit leaves
   P(alive), expected purchases and CLV empty (status ``degraded``), so that it cannot drive
   tiers and segments, and says why;
3. fits Gamma-Gamma on what repeat buyers pay per purchase (gross: the positive amounts the
   model is for), members with net value <= 0 (refunders, free orders) left out; a member's
   expected value is then scaled by the share of paid value they kept (total_spend /
   gross_spend), so that CLV is **net** (docs/glossary.md): a customer who cancels nearly
   everything is worth nearly nothing, however much they order; when it cannot be fitted (too few repeat buyers, all amounts
   equal) CLV stays empty and the message says so;
4. CLV over ``horizon_months`` (monthly discounting); members with net value <= 0 get none.

``clv_note`` says per member why a value is missing (no net value, degenerate fit, no spend
model), empty when it is there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from memberlens.clv.gamma_gamma import GammaGammaModel
from memberlens.clv.selection import CANDIDATES, ModelChoice, choose_purchase_model
from memberlens.clv.value import customer_lifetime_value
from memberlens.exceptions import MemberlensError

__all__ = ["MemberValue", "member_value"]

Status = Literal["ok", "degraded", "skipped"]
P_ALIVE_HORIZON_DAYS = 90
MIN_REPEATERS = 50
MIN_HISTORY_WEEKS = 16


@dataclass(frozen=True)
class MemberValue:
    """Per-member columns (``frame``, indexed like the summary), the model summaries for
    ``mart_models`` (``models``), the comparison table, and the step's status and message."""

    frame: pd.DataFrame
    status: Status
    message: str
    choice: ModelChoice | None
    models: dict[str, Any] = field(default_factory=dict)

    def comparison(self) -> pd.DataFrame:
        return self.choice.comparison if self.choice is not None else pd.DataFrame()


def _weekly(summary: pd.DataFrame) -> pd.DataFrame:
    weekly = summary[["member_id", "frequency"]].copy()
    weekly["recency"] = summary["recency"].to_numpy() / 7.0
    weekly["T"] = summary["T"].to_numpy() / 7.0
    weekly["monetary_value"] = summary["monetary_value"].to_numpy()
    return weekly


def _with_litt(weekly: pd.DataFrame, orders, end: dt.date) -> pd.DataFrame:
    from memberlens.features.timing import interpurchase_log_times

    litt = interpurchase_log_times(orders, end=end, time_unit="W").to_pandas()
    out = weekly.merge(litt, on="member_id", how="left")
    out["litt"] = out["litt"].fillna(0.0)
    return out


def _holdout(orders, as_of: dt.date, span_weeks: float) -> pd.DataFrame | None:
    from memberlens.features import calibration_holdout_summary

    if span_weeks < MIN_HISTORY_WEEKS:
        return None
    weeks = int(min(26, max(4, span_weeks // 4)))
    cal_end = as_of - dt.timedelta(weeks=weeks)
    cal = calibration_holdout_summary(
        orders, calibration_end=cal_end, holdout_end=as_of, time_unit="W"
    ).to_pandas()
    cal = cal.rename(
        columns={
            "frequency_cal": "frequency",
            "recency_cal": "recency",
            "T_cal": "T",
            "monetary_value_cal": "monetary_value",
        }
    )
    return _with_litt(cal, orders, cal_end)


def _sample(frame: pd.DataFrame | None, size: int, seed: int) -> pd.DataFrame | None:
    if frame is None or len(frame) <= size:
        return frame
    rng = np.random.default_rng(seed)
    return frame.iloc[np.sort(rng.choice(len(frame), size, replace=False))]


def _empty(index: pd.Index) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "p_alive": np.nan,
            "expected_purchases_90d": np.nan,
            "clv": np.nan,
            "clv_note": "",
        },
        index=index,
    )
    frame["next_purchase_date"] = pd.NaT
    return frame


def member_value(
    summary: pd.DataFrame,
    orders=None,
    *,
    as_of: dt.date | str,
    horizon_months: int = 12,
    discount_rate: float = 0.01,
    sample_size: int = 50_000,
    random_state: int = 0,
    candidates: tuple[str, ...] | None = None,
) -> MemberValue:
    """P(alive), expected purchases in 90 days, CLV and next purchase date per member.

    ``summary``: :func:`memberlens.features.rfm_summary` in days (needs member_id, frequency,
    recency, T, monetary_value; ``total_spend``, the net value, when present). ``orders``: the canonical orders the
    summary came from (Ibis table or pandas); without them the model is chosen by AIC among the
    Poisson models (no holdout, no timing regularity). ``candidates``: the purchase models
    to consider (keys of :data:`memberlens.clv.selection.CANDIDATES`); one key reuses an
    earlier choice: that model alone is fitted, without the holdout back-test.
    """
    day = pd.Timestamp(as_of).date()
    out = _empty(summary.index)
    weekly = _weekly(summary)
    repeaters = int((weekly["frequency"] > 0).sum())
    if repeaters < MIN_REPEATERS:
        message = (
            f"only {repeaters} members bought more than once; the purchase models need at "
            f"least {MIN_REPEATERS}"
        )
        out["clv_note"] = "too few repeat buyers"
        return MemberValue(out, "skipped", message, None)
    holdout = None
    keys = tuple(CANDIDATES) if candidates is None else candidates
    if orders is not None:
        if "mbgcnbd" in keys:  # the timing regularity only the MBG/CNBD-k model reads
            weekly = _with_litt(weekly, orders, day)
        if len(keys) > 1:  # a back-test chooses among several; one is refitted alone
            holdout = _holdout(orders, day, float(weekly["T"].max()))
    choice = choose_purchase_model(
        _sample(weekly, sample_size, random_state),
        holdout=_sample(holdout, sample_size, random_state),
        candidates=keys,
    )
    model = choice.model
    if len(weekly) > sample_size:  # the comparison ran on a sample: refit the choice on everyone
        settings = model.get_params()
        if "k" in settings:
            settings["k"] = int(model.params_["k"])
        model = type(model)(**settings).fit(weekly)
    from memberlens.clv.diagnostics import fit_health

    health = fit_health(model, weekly)
    warnings = [n for n in choice.notes if n.startswith("warning:")]  # first: never shortened
    models: dict[str, Any] = {
        "purchase_model": {
            "model": choice.chosen,
            "name": choice.name,
            "criterion": choice.criterion,
            "params": model.params_,
            "log_likelihood": model.log_likelihood_,
            "n_members": len(weekly),
            "time_unit": "W",
            "degenerate": health.degenerate,
            "health": health.to_dict(),
            "holdout_total_error": choice.holdout_total_error,
            "warning": warnings[0] if warnings else None,
        }
    }
    notes = [
        *warnings,
        f"purchase model {choice.name} (by {choice.criterion})",
        *(n for n in choice.notes if n not in warnings),
    ]
    if health.degenerate:
        out["clv_note"] = "degenerate purchase-model fit"
        notes.append(health.message + "; P(alive), expected purchases and CLV left empty")
        return MemberValue(out, "degraded", "; ".join(notes), choice, models)
    out["p_alive"] = model.probability_alive(weekly).to_numpy()
    out["expected_purchases_90d"] = model.expected_purchases(
        weekly, horizon=P_ALIVE_HORIZON_DAYS / 7.0
    ).to_numpy()
    out["next_purchase_date"] = model.next_purchase(weekly, as_of=day, time_unit="W")[
        "next_purchase_date"
    ].to_numpy()
    # no net value: refunders, and members whose paid orders were all free
    no_value = (
        summary["total_spend"].to_numpy(dtype=float) <= 0.0
        if "total_spend" in summary.columns
        else np.zeros(len(summary), dtype=bool)
    )
    # Gamma-Gamma on what members pay per purchase (gross: the model's positive, independent
    # amounts), then each member's value is scaled by the share of it they kept
    kept = np.ones(len(summary))
    if {"total_spend", "gross_spend"} <= set(summary.columns):
        net = summary["total_spend"].to_numpy(dtype=float)
        gross = summary["gross_spend"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            kept = np.where(gross > 0, np.clip(net / gross, 0.0, 1.0), 0.0)
    paid = weekly.assign(
        monetary_value=np.where(kept > 0, weekly["monetary_value"] / np.where(kept > 0, kept, 1), 0)
    )
    spenders = (paid["frequency"] > 0) & (paid["monetary_value"] > 0) & ~no_value
    status: Status = "ok"
    try:
        if not (weekly["monetary_value"].fillna(0) > 0).any():  # a purchase log: ids and dates
            raise MemberlensError("the orders carry no amounts")
        if int(spenders.sum()) < MIN_REPEATERS:
            raise MemberlensError(
                f"only {int(spenders.sum())} repeat buyers with positive net spend "
                f"(need {MIN_REPEATERS})"
            )
        if paid.loc[spenders, "monetary_value"].nunique() < 2:
            raise MemberlensError("all repeat purchase amounts are equal")
        spend = GammaGammaModel().fit(paid[spenders])
    except MemberlensError as exc:
        status = "degraded"
        out["clv_note"] = "no spend model"
        notes.append(f"spend model skipped: {exc}; CLV left empty (expected purchases only)")
    else:
        value = customer_lifetime_value(
            model,
            spend,
            paid,
            horizon=horizon_months,
            discount_rate=discount_rate,
            period=52.0 / 12.0,
        ).to_numpy()
        out["clv"] = np.where(no_value, np.nan, value * kept)
        models["gamma_gamma"] = {
            "params": spend.params_,
            "log_likelihood": spend.log_likelihood_,
            "n_members": int(spenders.sum()),
            "no_value_excluded": int(no_value.sum()),
        }
    out.loc[no_value, "clv_note"] = "no net value (refunded or free orders)"
    if no_value.any():
        notes.append(f"{int(no_value.sum()):,} members with net value <= 0 get no CLV")
    return MemberValue(out, status, "; ".join(notes), choice, models)
