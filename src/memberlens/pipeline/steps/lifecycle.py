"""Lifecycle stages at the as-of date, their monthly counts and month-over-month moves."""

from __future__ import annotations

import pandas as pd

from memberlens.pipeline.step import RunContext, Step, StepResult

LIFECYCLE_MONTHS = 12


def _lifecycle(ctx: RunContext) -> StepResult:
    """Stages at the as-of date, monthly counts over the last year and month-over-month moves.

    Every member's stage at the as-of date and at each month end comes from one GROUP BY over
    the run's purchase days (:meth:`RunContext.purchase_days`, shared with the cohort and
    profile steps), kept as small integer codes in one temporary table that is then counted
    and compared month to month; names replace the codes only in the counted rows.
    """
    from memberlens.behavior.lifecycle import (
        LifecycleRules,
        counts_from_monthly,
        stage_codes,
        stage_names,
        transitions_from_monthly,
    )

    day, wh = ctx.as_of, ctx.warehouse
    rules = LifecycleRules.from_dict(ctx.settings("lifecycle"))
    start = (pd.Timestamp(day) - pd.DateOffset(months=LIFECYCLE_MONTHS)).date()
    months = pd.date_range(pd.Timestamp(start), pd.Timestamp(day), freq="ME")
    points = {"stage": day} | {f"stage_{m:%Y%m%d}": m.date() for m in months}
    wide = wh.materialize("__stages", stage_codes(ctx.purchase_days(), points, rules=rules))
    try:
        frame = wide.select("member_id", stage=stage_names(wide.stage)).to_pandas()
        history = counts_from_monthly(wide).to_pandas()
        moves = transitions_from_monthly(wide).to_pandas()
    finally:
        wh.drop_temp("__stages")
    counts = frame.groupby("stage").size().rename("members").reset_index()
    return StepResult(
        rows_in=ctx.n_orders,
        rows_out=len(frame),
        marts={
            "mart_lifecycle": counts,
            "mart_lifecycle_history": history,
            "mart_lifecycle_transitions": moves,
        },
        frames={"lifecycle": frame},
    )


LIFECYCLE = Step(
    name="lifecycle",
    title=(
        "new, active, loyal, declining, dormant, churned, won back at the as-of date; stage "
        "counts at the last 13 month ends and the moves between them"
    ),
    run=_lifecycle,
    makes=("lifecycle",),
    writes=("mart_lifecycle", "mart_lifecycle_history", "mart_lifecycle_transitions"),
    section="lifecycle",
    shared=("purchase_days",),
)
