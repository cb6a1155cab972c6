"""Order lines: what each paid order contains.

Each paid order has 1 + Poisson(``extra_lines``) lines. A line's category is drawn from the
member's category preferences and its product near the price share of the order's gross amount
(paid + discount), so baskets look like their amount. Two kinds of planted structure:

- co-purchase pairs: a line with a planted antecedent gets the consequent product with
  probability ``copurchase_probability`` (truth: ``truth/copurchase_pairs.parquet``);
- replenishment: a member with a replenishment product (cycle ``c`` days) buys it in their
  first order and in the first order of every new cycle since (``floor((t - first) / c)``
  increases), so the product's repurchase gaps are multiples of its cycle.

Line amounts add up exactly to the gross amount of the order; ``amount = quantity * unit_price``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from memberlens.simulate import _columns as col
from memberlens.simulate import _segments as seg
from memberlens.simulate.catalogue import CATEGORY_NAMES, Catalogue
from memberlens.simulate.members import MemberBlock
from memberlens.simulate.parameters import ShopParameters

_BULK = np.isin(np.asarray(CATEGORY_NAMES), ["食品", "母婴", "个护", "宠物"])


def replenishment_products(
    rng: np.random.Generator, m: MemberBlock, cat: Catalogue, params: ShopParameters
) -> np.ndarray:
    """Each member's replenishment product (-1 = none), drawn by category preference."""
    items = np.flatnonzero(cat.replenishment_days > 0)
    has = np.bincount(cat.category[items], minlength=len(CATEGORY_NAMES)) > 0
    pref = m.preferences * has[None, :]
    cdf = np.cumsum(pref / pref.sum(axis=1, keepdims=True), axis=1)
    category = seg.sample_rows(cdf, rng.random(m.n), np.arange(m.n))
    lo = np.searchsorted(cat.category[items], category, side="left")
    hi = np.searchsorted(cat.category[items], category, side="right")
    product = items[
        np.minimum(lo + np.floor(rng.random(m.n) * (hi - lo)).astype(np.int64), len(items) - 1)
    ]
    return np.where(rng.random(m.n) < params.baskets.replenishment_share, product, -1)


def order_lines(
    rng: np.random.Generator,
    m: MemberBlock,
    cat: Catalogue,
    owner: np.ndarray,
    time: np.ndarray,
    gross: np.ndarray,
    replenish: np.ndarray,
    first: np.ndarray,
    params: ShopParameters,
) -> dict[str, np.ndarray]:
    """Lines of the paid orders ``(owner, time, gross cents)``, owner/time sorted.

    Returns arrays per line: ``order`` (index into the paid orders), ``product``,
    ``quantity``, ``unit_cents``, ``cents``.
    """
    bp = params.baskets
    n_orders = len(owner)
    n_lines = 1 + np.minimum(rng.poisson(bp.extra_lines, n_orders), bp.max_lines - 1)
    n_lines[gross < 2000] = 1
    order = seg.owners(n_lines)
    share = rng.gamma(2.0, size=len(order))
    share /= seg.sum_within(share, n_lines)[order]
    cdf = np.cumsum(m.preferences, axis=1)
    category = seg.sample_rows(cdf, rng.random(len(order)), owner[order])
    product = cat.near_price(rng, category, gross[order] * share)
    # replenishment: first order, and first order of each new cycle since the first purchase
    rp = replenish[owner]
    cycle = np.where(rp >= 0, cat.replenishment_days[np.maximum(rp, 0)], 1)
    period = np.floor((time - first[owner]) / cycle)
    prev_same = np.r_[False, owner[1:] == owner[:-1]]
    prev_period = np.r_[-1.0, period[:-1]]
    due = (rp >= 0) & (~prev_same | (period > prev_period))
    due_orders = np.flatnonzero(due)
    order = np.concatenate([order, due_orders])
    product = np.concatenate([product, rp[due_orders]])
    # planted co-purchases: every line of a planted antecedent, replenishment lines included
    consequent = cat.pair_consequent[product]
    add = (consequent >= 0) & (rng.random(len(order)) < bp.copurchase_probability)
    order = np.concatenate([order, order[add]])
    product = np.concatenate([product, consequent[add]])
    # one line per (order, product)
    key = order * cat.size + product
    uniq, first_at = np.unique(key, return_index=True)
    order, product = order[first_at], product[first_at]
    bulk = _BULK[cat.category[product]]
    r = rng.random(len(order))
    quantity = 1 + (r < np.where(bulk, 0.12, 0.05)) + (r < np.where(bulk, 0.04, 0.01))
    # allocate the gross amount over the lines in proportion to list price x quantity
    counts = seg.counts_of(order, n_orders)
    weight = cat.price_cents[product] * quantity.astype(float)
    top = seg.starts(counts) + _argmax_within(weight, counts)
    quantity[top] = 1
    weight[top] = cat.price_cents[product[top]]
    share = weight / seg.sum_within(weight, counts)[order]
    unit = np.maximum(np.round(gross[order] * share / quantity), 1).astype(np.int64)
    cents = unit * quantity
    cents[top] = 0
    cents[top] = gross - seg.sum_within(cents.astype(float), counts).astype(np.int64)
    unit[top] = cents[top]
    return {
        "order": order,
        "product": product,
        "quantity": quantity.astype(np.int64),
        "unit_cents": unit,
        "cents": cents,
    }


def _argmax_within(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Position (within its owner) of each owner's largest value; owners need >= 1 row."""
    owner = seg.owners(counts)
    order = np.lexsort((-values, owner))
    return order[seg.starts(counts)] - seg.starts(counts)


def order_items_table(
    lines: dict[str, np.ndarray], paid_order_id: pa.Array, cat: Catalogue
) -> pa.Table:
    """The canonical ``order_items`` rows."""
    n = len(lines["order"])
    return col.table(
        "order_items",
        {
            "order_id": paid_order_id.take(pa.array(lines["order"])),
            "product_id": cat.product_ids(lines["product"]),
            "quantity": col.money(lines["quantity"] * 100),
            "unit_price": col.money(lines["unit_cents"]),
            "amount": col.money(lines["cents"]),
        },
        n,
    )
