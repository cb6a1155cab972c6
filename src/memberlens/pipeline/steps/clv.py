"""P(alive), expected purchases and lifetime value per member: the purchase model chosen on the
shop's own data, Gamma-Gamma on net value (memberlens.clv.valuation, docs/clv.md)."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd

from memberlens.pipeline.step import RunContext, Step, StepResult

CLV_HORIZON_MONTHS = 12
#: the purchase model chosen by the back-test is refitted alone (no back-test) in the runs that
#: follow, until the choice is older than this many days, as the cluster and churn models are
RECHOOSE_DAYS = 30


def choice_path(ctx: RunContext) -> Path:
    """Where the run keeps its purchase-model choice (model, criterion, day, comparison)."""
    return Path(ctx.project.state_dir) / "models" / "clv-run" / "choice.json"


def _saved_choice(ctx: RunContext) -> tuple[dict[str, Any] | None, str]:
    """The saved choice when this run may reuse it (chosen by the back-test on or before the
    as-of day and at most :data:`RECHOOSE_DAYS` before it, a known model), and why not."""
    from memberlens.clv.selection import CANDIDATES

    path = choice_path(ctx)
    if not path.exists():
        return None, "no saved choice"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        chosen_on = dt.date.fromisoformat(saved["chosen_on"])
        ok = saved["model"] in CANDIDATES and saved["criterion"] == "holdout"
    except (ValueError, KeyError, TypeError):
        return None, "saved choice unreadable"
    age = (ctx.as_of - chosen_on).days
    if not ok:
        return None, "saved choice not from a back-test"
    if age < 0 or age > RECHOOSE_DAYS:
        return None, f"choice made {chosen_on}, {age} days from the as-of day"
    return saved, ""


def _save_choice(ctx: RunContext, model: str, criterion: str, comparison: pd.DataFrame) -> None:
    path = choice_path(ctx)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    record = {
        "model": model,
        "criterion": criterion,
        "chosen_on": ctx.as_of.isoformat(),
        "comparison": comparison.to_dict(orient="records"),
    }
    # floats by repr (exact when read back), NaN as NaN, numpy scalars as Python ones
    text = json.dumps(record, ensure_ascii=False, default=lambda v: v.item())
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _clv(ctx: RunContext) -> StepResult:
    """Adds p_alive, expected_purchases_90d, clv, clv_note and next_purchase_date."""
    from memberlens.clv.selection import holdout_warning
    from memberlens.clv.valuation import member_value

    summary: pd.DataFrame = ctx.frame("members")
    saved, why = _saved_choice(ctx)
    value = member_value(
        summary,
        ctx.member_orders,
        as_of=ctx.as_of,
        horizon_months=CLV_HORIZON_MONTHS,
        candidates=None if saved is None else (saved["model"],),
    )
    out = summary  # the pipeline's own frame: filled in place, no copy of millions of rows
    for column in value.frame.columns:
        out[column] = value.frame[column].to_numpy()
    comparison = value.comparison()
    message = value.message
    if saved is not None and value.choice is not None:
        # the back-test table of the run that chose, so the mart (and its warning) keep saying
        # why; the message and model summary say the choice was reused
        comparison = pd.DataFrame.from_records(saved["comparison"], columns=comparison.columns)
        chosen = comparison.loc[comparison["chosen"].astype(bool), "holdout_total_error"]
        error = float(chosen.iloc[0]) if len(chosen) and pd.notna(chosen.iloc[0]) else None
        warning = holdout_warning(value.choice.name, error)
        message = message.replace(
            f"(by {value.choice.criterion})",
            f"(by holdout, choice of {saved['chosen_on']} reused)",
            1,
        )
        if warning:
            message = f"{warning}; {message}"
        if value.choice.degenerate:  # the reused model no longer fits: choose again next run
            choice_path(ctx).unlink(missing_ok=True)
        purchase = value.models.get("purchase_model")
        if isinstance(purchase, dict):
            purchase.update(
                criterion="holdout",
                holdout_total_error=error,
                warning=warning,
                chosen_on=saved["chosen_on"],
                reused=True,
            )
    elif value.choice is not None and value.choice.criterion == "holdout":
        _save_choice(ctx, value.choice.chosen, value.choice.criterion, comparison)
        if why != "no saved choice":
            message = f"{message}; chosen again ({why})"
    return StepResult(
        status="ok" if value.status == "ok" else "degraded",
        message=textwrap.shorten(message, width=500, placeholder=" …"),
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
        "AIC on short histories; degenerate fits reported and not used; the choice kept and "
        "the chosen model alone refitted for 30 days) for P(alive) and "
        "expected purchases in 90 days; Gamma-Gamma on net value for a 12-month CLV (1% monthly "
        "discount); no CLV for members with net value <= 0"
    ),
    run=_clv,
    uses=("members",),
    makes=("members",),
    writes=("mart_models", "mart_model_comparison"),
)
