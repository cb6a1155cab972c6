"""Behaviour tables: retention cohorts, purchase profiles and replenishment predictions."""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd

from memberlens.pipeline.step import RunContext, Step, StepResult


def _cohorts(ctx: RunContext) -> StepResult:
    """Cohort retention from the run's purchase days (no scan of the orders of its own)."""
    from memberlens.behavior.cohorts import cohort_retention_from_days

    frame = cohort_retention_from_days(ctx.purchase_days(), as_of=ctx.as_of).to_pandas()
    return StepResult(rows_in=ctx.n_orders, rows_out=len(frame), marts={"mart_cohorts": frame})


def _profiles(ctx: RunContext) -> StepResult:
    """Purchase statistics by province, channel and RFM segment (long: dimension, group, ...).

    The per-member statistics are aggregated once from the run's purchase days into a
    temporary table; each dimension joins its groups to it in the engine (the members table's
    province and channel, the summary's segment).
    """
    from memberlens.behavior.profiles import member_purchases, profile_by_group

    summary: pd.DataFrame = ctx.frame("members")
    members = ctx.table("members")
    wh = ctx.warehouse
    groups: dict[str, ir.Table | pd.DataFrame] = {
        "segment_cn8": summary[["member_id", "segment_cn8"]]
    }
    if members is not None:
        groups |= {
            c: members.select("member_id", c)
            for c in ("province", "channel")
            if c in members.columns
        }
    per_member = wh.materialize("__member_purchases", member_purchases(ctx.purchase_days()))
    parts = []
    try:
        for by, frame in groups.items():
            table = profile_by_group(per_member, frame, by=by).to_pandas()
            table.insert(0, "dimension", by)
            parts.append(table.rename(columns={by: "group"}))
    finally:
        wh.drop_temp("__member_purchases")
    out = pd.concat(parts, ignore_index=True)
    return StepResult(rows_in=ctx.n_orders, rows_out=len(out), marts={"mart_profiles": out})


def _replenishment(ctx: RunContext) -> StepResult:
    """Expected next purchase and P(buy within 30 days) per member and category."""
    from memberlens.behavior.replenishment import next_purchases

    result = next_purchases(
        ctx.member_orders,
        ctx.need("order_items"),
        ctx.need("products"),
        as_of=ctx.as_of,
        level="category",
    )
    frame = result.predictions
    return StepResult(
        message=f"{len(result.keys)} categories",
        rows_in=ctx.n_orders,
        rows_out=len(frame),
        marts={"mart_replenishment": frame},
    )


COHORTS = Step(
    name="cohorts",
    title="retention, repurchase and revenue by first-purchase month",
    run=_cohorts,
    writes=("mart_cohorts",),
    shared=("purchase_days",),
)

PROFILES = Step(
    name="profiles",
    title=(
        "purchase frequency, spend, order amount and interval between orders by province, "
        "channel and RFM segment"
    ),
    run=_profiles,
    uses=("members",),
    optional=("members",),
    writes=("mart_profiles",),
    shared=("purchase_days",),
)

REPLENISHMENT = Step(
    name="replenishment",
    title=(
        "per member and category: expected next purchase date and P(buy within 30 days), own "
        "intervals shrunk toward the category's"
    ),
    run=_replenishment,
    tables=("orders", "order_items", "products"),
    writes=("mart_replenishment",),
)
