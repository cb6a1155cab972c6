"""Association rules between products or categories (arules' semantics)."""

from __future__ import annotations

from memberlens.pipeline.step import RunContext, Step, StepResult

#: the default support: a rule must hold in at least this many baskets
MIN_BASKETS = 20


def _baskets(ctx: RunContext) -> StepResult:
    """The bounded, readable rules of :func:`memberlens.baskets.rules_mart` (postage and fee
    lines left out, the strongest rules per antecedent above lift 1, names, variants marked);
    the default support asks for at least 20 baskets. ``memberlens rules`` mines everything."""
    from memberlens.baskets import rules_mart

    items = ctx.need("order_items")
    rows_in = int(items.count().execute())
    settings = ctx.settings("baskets")
    mart = rules_mart(items, orders=ctx.orders, products=ctx.table("products"), settings=settings)
    if mart.n_baskets == 0:
        return StepResult(
            status="degraded", message="no baskets", rows_in=rows_in, frames={"rules": None}
        )
    if mart.n_baskets < MIN_BASKETS and "min_support" not in settings:
        return StepResult(
            status="degraded",
            message=(
                f"{mart.n_baskets} baskets: a rule needs at least {MIN_BASKETS} baskets by "
                "default ([baskets] min_support sets another share)"
            ),
            rows_in=rows_in,
            frames={"rules": None},
        )
    out = mart.rules
    return StepResult(
        message=mart.message,
        rows_in=rows_in,
        rows_out=len(out),
        marts={"mart_rules": out},
        frames={"rules": out},
    )


BASKETS = Step(
    name="baskets",
    title=(
        "the strongest association rules between products (arules semantics; lift > 1, the "
        "5 strongest per antecedent, at most 10,000, postage and fee lines left out, names "
        'and variants marked; [baskets] level = "category" for categories; support 20 '
        "baskets)"
    ),
    run=_baskets,
    tables=("orders", "order_items"),
    makes=("rules",),
    writes=("mart_rules",),
    section="baskets",
)
