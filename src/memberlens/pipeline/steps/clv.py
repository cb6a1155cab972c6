"""P(alive), expected purchases and lifetime value per member (BG/NBD + Gamma-Gamma)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from memberlens.pipeline.step import RunContext, Step, StepResult

CLV_HORIZON_MONTHS = 12
P_ALIVE_HORIZON_DAYS = 90
#: fewer repeat buyers than this and the purchase (or spend) model is not fitted
MIN_REPEAT_BUYERS = 50


def _clv(ctx: RunContext) -> StepResult:
    """BG/NBD + Gamma-Gamma on weeks; adds p_alive, expected_purchases_90d, clv, next purchase."""
    from memberlens.clv import BetaGeoModel, GammaGammaModel, customer_lifetime_value

    summary: pd.DataFrame = ctx.frame("members")
    weekly = summary[["member_id", "frequency"]].copy()
    weekly["recency"] = summary["recency"] / 7.0
    weekly["T"] = summary["T"] / 7.0
    weekly["monetary_value"] = summary["monetary_value"]
    repeaters = int((weekly.frequency > 0).sum())
    out = summary  # the pipeline's own frame: filled in place, no copy of millions of rows
    for col in ("p_alive", "expected_purchases_90d", "clv"):
        out[col] = np.nan
    out["next_purchase_date"] = pd.NaT
    frames = {"members": out}
    if repeaters < MIN_REPEAT_BUYERS:
        return StepResult(
            status="degraded",
            message=(
                f"only {repeaters} members bought more than once; BG/NBD needs at least "
                f"{MIN_REPEAT_BUYERS}: P(alive) and CLV left empty"
            ),
            rows_in=len(out),
            rows_out=len(out),
            frames=frames,
        )
    bg = BetaGeoModel().fit(weekly)
    out["p_alive"] = bg.probability_alive(weekly).to_numpy()
    out["expected_purchases_90d"] = bg.expected_purchases(
        weekly, horizon=P_ALIVE_HORIZON_DAYS / 7.0
    ).to_numpy()
    out["next_purchase_date"] = bg.next_purchase(weekly, as_of=ctx.as_of, time_unit="W")[
        "next_purchase_date"
    ].to_numpy()
    models: dict[str, Any] = {
        "bgnbd": {
            "params": bg.params_,
            "log_likelihood": bg.log_likelihood_,
            "n_members": len(weekly),
            "time_unit": "W",
        }
    }
    spend = weekly[(weekly.frequency > 0) & (weekly.monetary_value > 0)]
    if len(spend) < MIN_REPEAT_BUYERS:
        return StepResult(
            status="degraded",
            message="too few repeat buyers with spend for Gamma-Gamma; clv left empty",
            rows_in=len(out),
            rows_out=len(out),
            models=models,
            frames=frames,
        )
    gg = GammaGammaModel().fit(spend)
    value = customer_lifetime_value(
        bg, gg, weekly, horizon=CLV_HORIZON_MONTHS, discount_rate=0.01, period=52.0 / 12.0
    )
    out["clv"] = value.to_numpy()
    models["gamma_gamma"] = {"params": gg.params_, "log_likelihood": gg.log_likelihood_}
    return StepResult(rows_in=len(out), rows_out=len(out), models=models, frames=frames)


CLV = Step(
    name="clv",
    title=(
        "BG/NBD on the weekly summary (P(alive), expected purchases in 90 days) and Gamma-Gamma "
        "(12-month CLV, 1% monthly discount)"
    ),
    run=_clv,
    uses=("members",),
    makes=("members",),
    writes=("mart_models",),
)
