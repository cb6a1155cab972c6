"""P(alive), expected purchases and lifetime value per member: the purchase model chosen on the
shop's own data, Gamma-Gamma on net value (memberlens.clv.valuation, docs/clv.md)."""

from __future__ import annotations

import textwrap

import pandas as pd

from memberlens.pipeline.step import RunContext, Step, StepResult

CLV_HORIZON_MONTHS = 12


def _clv(ctx: RunContext) -> StepResult:
    """Adds p_alive, expected_purchases_90d, clv, clv_note and next_purchase_date."""
    from memberlens.clv.valuation import member_value

    summary: pd.DataFrame = ctx.frame("members")
    value = member_value(
        summary, ctx.member_orders, as_of=ctx.as_of, horizon_months=CLV_HORIZON_MONTHS
    )
    out = summary  # the pipeline's own frame: filled in place, no copy of millions of rows
    for column in value.frame.columns:
        out[column] = value.frame[column].to_numpy()
    comparison = value.comparison()
    return StepResult(
        status="ok" if value.status == "ok" else "degraded",
        message=textwrap.shorten(value.message, width=500, placeholder=" …"),
        rows_in=len(out),
        rows_out=len(out),
        models=value.models,
        frames={"members": out},
        marts={"mart_model_comparison": comparison} if len(comparison) else {},
    )


CLV = Step(
    name="clv",
    title=(
        "purchase model chosen by a holdout back-test (BG/NBD, MBG/NBD, Pareto/NBD, MBG/CNBD-k; "
        "AIC on short histories; degenerate fits reported and not used) for P(alive) and "
        "expected purchases in 90 days; Gamma-Gamma on net value for a 12-month CLV (1% monthly "
        "discount); no CLV for members with net value <= 0"
    ),
    run=_clv,
    uses=("members",),
    makes=("members",),
    writes=("mart_models", "mart_model_comparison"),
)
