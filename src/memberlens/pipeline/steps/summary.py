"""The per-member summary every later step builds on."""

from __future__ import annotations

from memberlens.pipeline.step import RunContext, Step, StepResult


def _summary(ctx: RunContext) -> StepResult:
    from memberlens.baskets.non_products import excluded_codes
    from memberlens.features import rfm_summary
    from memberlens.features.engagement import engagement_counts

    frame = rfm_summary(
        ctx.member_orders,
        as_of=ctx.as_of,
        time_unit="D",
        favourites=True,  # the member list shows both favourites
        order_items=ctx.table("order_items"),
        products=ctx.table("products"),
        # the favourite category leaves out postage and fee lines, as basket mining does
        exclude_products=excluded_codes(ctx.settings("baskets")),
    )
    # in member order: the fits and clusters that follow see the same rows in the same order
    # on every engine and every run (a parallel GROUP BY yields its groups in any order)
    frame = frame.order_by("member_id").to_pandas()
    engaged = engagement_counts(
        as_of=ctx.as_of, events=ctx.table("events"), interactions=ctx.table("interactions")
    )
    if engaged is not None:
        frame = frame.merge(engaged.to_pandas(), on="member_id", how="left")
        counts = [c for c in engaged.columns if c != "member_id"]
        frame[counts] = frame[counts].fillna(0).astype("int64")
    # engines return rows in any order; the models downstream (k-means starts, LightGBM's row
    # subsampling) must see the same order every time for a run to repeat exactly
    frame = frame.sort_values("member_id", ignore_index=True)
    return StepResult(rows_in=ctx.n_orders, rows_out=len(frame), frames={"members": frame})


SUMMARY = Step(
    name="summary",
    title=(
        "per member: first/last purchase, purchase days, frequency, recency, T, monetary_value, "
        "total spend, orders, AOV, refund share, favourite category and channel, engagement"
    ),
    run=_summary,
    optional=("order_items", "products", "events", "interactions"),
    makes=("members",),
)
