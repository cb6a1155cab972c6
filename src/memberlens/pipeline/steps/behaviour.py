"""Behaviour tables: retention cohorts, purchase profiles and replenishment predictions."""

from __future__ import annotations

import pandas as pd

from memberlens.pipeline.step import RunContext, Step, StepResult


def _cohorts(ctx: RunContext) -> StepResult:
    from memberlens.behavior.cohorts import cohort_retention

    frame = cohort_retention(ctx.member_orders, as_of=ctx.as_of).to_pandas()
    return StepResult(rows_in=ctx.n_orders, rows_out=len(frame), marts={"mart_cohorts": frame})


def _profiles(ctx: RunContext) -> StepResult:
    """Purchase statistics by province, channel and RFM segment (long: dimension, group, ...)."""
    from memberlens.behavior.profiles import purchase_profile

    summary: pd.DataFrame = ctx.frame("members")
    members = ctx.table("members")
    parts = []
    groups = {"segment_cn8": summary[["member_id", "segment_cn8"]]}
    if members is not None:
        attrs = members.select(
            "member_id", *[c for c in ("province", "channel") if c in members.columns]
        ).to_pandas()
        groups |= {c: attrs[["member_id", c]] for c in attrs.columns if c != "member_id"}
    for by, frame in groups.items():
        table = purchase_profile(
            ctx.member_orders, frame.rename(columns={by: "value"}), by="value", as_of=ctx.as_of
        ).to_pandas()
        table.insert(0, "dimension", by)
        parts.append(table.rename(columns={"value": "group"}))
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
