"""Lifecycle stages at the as-of date, their monthly counts and month-over-month moves."""

from __future__ import annotations

import pandas as pd

from memberlens.pipeline.step import RunContext, Step, StepResult

LIFECYCLE_MONTHS = 12


def _lifecycle(ctx: RunContext) -> StepResult:
    """Stages at the as-of date, monthly counts over the last year and month-over-month moves.

    The stage of every member at each month end is computed in one pass and materialised once,
    then counted and compared month to month (one scan of the purchases instead of one per
    month end for the counts and two for each transition).
    """
    from memberlens.behavior.lifecycle import (
        LifecycleRules,
        counts_from_monthly,
        lifecycle_stages,
        monthly_stages,
        transitions_from_monthly,
    )

    orders, day, wh = ctx.member_orders, ctx.as_of, ctx.warehouse
    rules = LifecycleRules.from_dict(ctx.settings("lifecycle"))
    frame = lifecycle_stages(orders, as_of=day, rules=rules).to_pandas()
    start = (pd.Timestamp(day) - pd.DateOffset(months=LIFECYCLE_MONTHS)).date()
    wide = wh.materialize(
        "__monthly_stages", monthly_stages(orders, start=start, end=day, rules=rules)
    )
    try:
        history = counts_from_monthly(wide).to_pandas()
        moves = transitions_from_monthly(wide).to_pandas()
    finally:
        wh.drop_temp("__monthly_stages")
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
)
