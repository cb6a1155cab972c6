"""Association rules between products or categories (arules' semantics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from memberlens.pipeline.step import RunContext, Step, StepResult

#: the default support: a rule must hold in at least this many baskets
MIN_BASKETS = 20


def _baskets(ctx: RunContext) -> StepResult:
    """Association rules between products (or categories: ``[baskets] level``); the default
    support asks for at least 20 baskets, confidence 5%, 3 items."""
    from memberlens.baskets import association_rules, baskets_from_orders

    items = ctx.need("order_items")
    rows_in = int(items.count().execute())
    settings = ctx.settings("baskets")
    level = settings.get("level", "product")
    pairs = baskets_from_orders(
        items,
        level=level,
        orders=ctx.orders,
        products=ctx.table("products") if level == "category" else None,
    )
    n_baskets = pc.count_distinct(pairs.column("basket_id")).as_py() if pairs.num_rows else 0
    if n_baskets == 0:
        return StepResult(
            status="degraded", message="no baskets", rows_in=rows_in, frames={"rules": None}
        )
    if n_baskets < MIN_BASKETS and "min_support" not in settings:
        return StepResult(
            status="degraded",
            message=(
                f"{n_baskets} baskets: a rule needs at least {MIN_BASKETS} baskets by default "
                "([baskets] min_support sets another share)"
            ),
            rows_in=rows_in,
            frames={"rules": None},
        )
    support = float(settings.get("min_support", max(MIN_BASKETS / n_baskets, 1e-6)))
    rules = association_rules(
        pairs,
        min_support=support,
        min_confidence=float(settings.get("min_confidence", 0.05)),
        min_len=2,
        max_len=int(settings.get("max_len", 3)),
    )
    out: pd.DataFrame = rules.assign(
        antecedent=[" + ".join(map(str, a)) for a in rules.antecedent],
        antecedent_size=[len(a) for a in rules.antecedent],
        level=level,
    )
    out["conviction"] = out["conviction"].replace(np.inf, np.nan)
    return StepResult(
        message=f"{n_baskets:,} baskets, min support {support:.5f}",
        rows_in=rows_in,
        rows_out=len(out),
        marts={"mart_rules": out},
        frames={"rules": out},
    )


BASKETS = Step(
    name="baskets",
    title=(
        'association rules between products (arules semantics; [baskets] level = "category" '
        "for categories; default support = 20 baskets, confidence 5%, up to 3 items)"
    ),
    run=_baskets,
    tables=("orders", "order_items"),
    makes=("rules",),
    writes=("mart_rules",),
    section="baskets",
)
