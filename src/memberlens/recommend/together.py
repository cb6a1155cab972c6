""" "Bought together" (经常一起购买): for each product, the products most often in the same
basket, from association rules (:func:`memberlens.baskets.association_rules`).

Only rules with one item on each side count (``{a} => b``). For product ``a`` the others are
ranked by confidence ``P(b in basket | a in basket)`` (what a shopper adding ``a`` most likely
adds too), ties by lift, then by id; rules with lift at most ``min_lift`` (no more likely than
at random) are left out.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from memberlens.exceptions import ConfigError, DataError

__all__ = ["BOUGHT_TOGETHER_COLUMNS", "bought_together"]

BOUGHT_TOGETHER_COLUMNS = (
    "product_id",
    "rank",
    "other_product_id",
    "confidence",
    "lift",
    "support",
    "count",
)


def _single_antecedents(rules: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(is a one-item antecedent, that item) per rule; antecedents are tuples (as
    ``association_rules`` returns them) or text with ``antecedent_size`` (the rules mart)."""
    antecedent = rules["antecedent"]
    if "antecedent_size" in rules.columns:
        single = rules["antecedent_size"].to_numpy() == 1
        return single, antecedent.to_numpy(dtype=object)
    values = antecedent.to_numpy(dtype=object)
    sizes = np.fromiter(
        (len(a) if isinstance(a, (tuple, list, frozenset, set)) else 1 for a in values),
        dtype=np.int64,
        count=len(values),
    )
    first = np.array(
        [
            next(iter(a)) if isinstance(a, (tuple, list, frozenset, set)) and a else a
            for a in values
        ],
        dtype=object,
    )
    return sizes == 1, first


def bought_together(rules: pd.DataFrame, k: int = 5, *, min_lift: float = 1.0) -> pd.DataFrame:
    """Per product, up to ``k`` products bought with it: product_id, rank, other_product_id,
    confidence, lift, support, count (baskets with both).

    >>> from memberlens.baskets import association_rules
    >>> baskets = [["tea", "cups"], ["tea", "cups"], ["tea", "sugar"], ["milk"], ["milk"]]
    >>> rules = association_rules(baskets, min_support=0.2, min_confidence=0.1, min_len=2)
    >>> bought_together(rules, k=2)[["product_id", "rank", "other_product_id", "confidence"]]
      product_id  rank other_product_id  confidence
    0       cups     1              tea    1.000000
    1      sugar     1              tea    1.000000
    2        tea     1             cups    0.666667
    3        tea     2            sugar    0.333333
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ConfigError(f"k: must be a positive integer, got {k!r}")
    needed = ("antecedent", "consequent", "confidence", "lift", "support", "count")
    missing = [c for c in needed if c not in rules.columns]
    if missing:
        raise DataError(
            f"rules: missing column(s) {missing}; pass the frame of "
            "memberlens.baskets.association_rules (or the rules mart)"
        )
    if rules.empty:
        return pd.DataFrame({c: [] for c in BOUGHT_TOGETHER_COLUMNS})
    single, item = _single_antecedents(rules)
    keep = single & (rules["lift"].to_numpy() > float(min_lift))
    frame = pd.DataFrame(
        {
            "product_id": item[keep],
            "other_product_id": rules["consequent"].to_numpy(dtype=object)[keep],
            "confidence": rules["confidence"].to_numpy()[keep],
            "lift": rules["lift"].to_numpy()[keep],
            "support": rules["support"].to_numpy()[keep],
            "count": rules["count"].to_numpy()[keep],
        }
    )
    frame = frame.sort_values(
        ["product_id", "confidence", "lift", "other_product_id"],
        ascending=[True, False, False, True],
        ignore_index=True,
    )
    frame.insert(1, "rank", frame.groupby("product_id", sort=False).cumcount() + 1)
    return frame[frame["rank"] <= k].reset_index(drop=True)[list(BOUGHT_TOGETHER_COLUMNS)]
