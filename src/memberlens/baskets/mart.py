"""The rules mart of ``memberlens run``: a bounded, readable rule set from the warehouse.

:func:`rules_mart` is everything the run's baskets step does: paid baskets without non-product
lines (:mod:`memberlens.baskets.non_products`), the bounded rule set of
:func:`memberlens.baskets.strongest_rules`, product names beside the codes and variant rules
marked (:func:`memberlens.baskets.collapse_variants`). ``[baskets]`` settings:

- ``level``: ``"product"`` (default) or ``"category"``;
- ``min_support``: share of baskets (default: 20 baskets);
- ``min_confidence`` (0.05), ``min_lift`` (1), ``per_antecedent`` (5), ``max_rules`` (10,000),
  ``max_len`` (2: one item on the left; 3 allows two): see :class:`RuleBounds`;
- ``exclude_products``: codes to leave out besides the common non-product codes.

``memberlens rules`` still mines every rule (arules' semantics, no bounds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from memberlens.baskets.non_products import excluded_codes
from memberlens.baskets.orders import basket_lines
from memberlens.baskets.readable import RuleBounds, collapse_variants, name_rules, strongest_rules
from memberlens.baskets.transactions import encode_baskets
from memberlens.exceptions import ConfigError

__all__ = ["RulesMart", "product_names", "rules_mart"]

#: the default support: an itemset must be in at least this many baskets
MIN_BASKETS = 20


@dataclass(frozen=True)
class RulesMart:
    """The mart (one row per kept rule; empty when there are no baskets), how many baskets it
    came from, how many rules full mining would give, and a one-line message."""

    rules: pd.DataFrame
    n_baskets: int
    n_mined: int
    message: str


def product_names(order_items: ibis.Table, products: ibis.Table | None) -> dict[str, str]:
    """product_id -> name, from ``products.name`` or else the line export's ``product_name``
    (its most frequent spelling per product)."""
    if products is not None and "name" in products.columns:
        table = products.select(
            product_id=products.product_id.cast("string"), name=products["name"].cast("string")
        ).filter(lambda t: t.name.notnull())
    elif "product_name" in order_items.columns:
        lines = order_items.filter(order_items.product_name.notnull())
        counted = lines.group_by(
            product_id=lines.product_id.cast("string"), name=lines.product_name.cast("string")
        ).agg(n=lambda t: t.count())
        table = counted.group_by("product_id").agg(
            name=counted["name"].argmax(counted.n * 1_000_000 - counted["name"].length())
        )
    else:
        return {}
    frame = table.to_pyarrow()
    return dict(
        zip(frame.column("product_id").to_pylist(), frame.column("name").to_pylist(), strict=True)
    )


def rules_mart(
    order_items: ibis.Table,
    *,
    orders: ibis.Table | None = None,
    products: ibis.Table | None = None,
    settings: Mapping[str, Any] | None = None,
) -> RulesMart:
    """The bounded, readable rules of the paid baskets (see the module notes for ``settings``).

    Columns: those of :func:`association_rules` with the antecedent as text (items joined by
    " + "), ``antecedent_size``, ``level``, ``antecedent_name``, ``consequent_name``,
    ``variants`` and ``representative`` (one rule per pair of product families).
    """
    settings = dict(settings or {})
    level = settings.get("level", "product")
    if level not in ("product", "category"):
        raise ConfigError(
            f'[baskets] level: must be "product" or "category", got {level!r}; '
            "fix it in memberlens.toml"
        )
    bounds = RuleBounds.from_settings(settings)
    lines = basket_lines(
        order_items,
        level=level,
        orders=orders,
        products=products if level == "category" else None,
        exclude_products=excluded_codes(settings),
    ).to_pyarrow()
    if lines.num_rows == 0:
        return RulesMart(pd.DataFrame(), 0, 0, "no baskets")
    # encoded once (repeated lines dropped there), then counted and mined
    baskets = encode_baskets(lines)
    del lines
    n_baskets = baskets.n_transactions
    if n_baskets < MIN_BASKETS and "min_support" not in settings:
        return RulesMart(
            pd.DataFrame(),
            n_baskets,
            0,
            f"{n_baskets} baskets: a rule needs at least {MIN_BASKETS} baskets by default "
            "([baskets] min_support sets another share)",
        )
    support = settings.get("min_support", max(MIN_BASKETS / n_baskets, 1e-6))
    if isinstance(support, bool) or not isinstance(support, (int, float)):
        raise ConfigError(
            f"[baskets] min_support: must be a share of baskets in (0, 1], got {support!r}; "
            "fix it in memberlens.toml"
        )
    rules = strongest_rules(baskets, min_support=float(support), bounds=bounds)
    n_mined = int(rules.attrs.get("n_mined", len(rules)))
    names = product_names(order_items, products) if level == "product" else {}
    rules = collapse_variants(name_rules(rules, names))
    out = rules.assign(
        antecedent=[" + ".join(map(str, a)) for a in rules.antecedent],
        antecedent_size=[len(a) for a in rules.antecedent],
        level=level,
    )
    out["conviction"] = out["conviction"].replace(np.inf, np.nan)
    message = (
        f"{n_baskets:,} baskets, min support {float(support):.5f}: kept {len(out):,} of "
        f"{n_mined:,} rules (lift > {bounds.min_lift:g}, top {bounds.per_antecedent} per "
        f"antecedent, at most {bounds.max_rules:,}), {int(out['representative'].sum()):,} "
        "after collapsing variants"
    )
    return RulesMart(out, n_baskets, n_mined, message)
