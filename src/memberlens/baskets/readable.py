"""A bounded, readable set of rules: what ``memberlens run`` stores, where mining everything
(``association_rules``, ``memberlens rules``) would give millions.

On a real line-level export (about 23,000 invoices, 3,600 products, support 20 baskets) arules'
full mining gives 29 million rules with up to two items on the left. :func:`strongest_rules`
mines the same itemsets and keeps, before any frame is built:

1. rules with lift above ``min_lift`` (default 1: more likely than at random) and confidence at
   least ``min_confidence``;
2. with two or more items on the left, only rules that are not *redundant* in arules' sense
   (``is.redundant``: a rule is redundant when a more general rule, the same consequent with an
   item removed from the antecedent, has the same or a higher confidence); more general rules
   are those with one item less on the left (all of them for antecedents of two items);
3. per antecedent, the ``per_antecedent`` rules of highest confidence (then lift);
4. overall, the ``max_rules`` rules of highest lift.

:func:`collapse_variants` marks near-duplicate rules between variants of one product family
(``85099B`` and ``85099C`` are the same bag in two colours) so a page can show one rule per
family pair, and :func:`name_rules` puts product names beside the codes.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from memberlens.baskets.itemsets import MinedItemsets, check_lengths, check_support, count_itemsets
from memberlens.baskets.rules import (
    RuleArrays,
    _lookup,
    check_confidence,
    rule_arrays,
    rules_frame,
    sorted_rule_order,
)
from memberlens.exceptions import ConfigError

__all__ = [
    "RuleBounds",
    "collapse_variants",
    "name_rules",
    "product_family",
    "strongest_rules",
]


@dataclass(frozen=True)
class RuleBounds:
    """The bounds of :func:`strongest_rules` (``[baskets]`` in ``memberlens.toml``)."""

    min_confidence: float = 0.05
    min_lift: float = 1.0
    per_antecedent: int = 5
    max_rules: int = 10_000
    max_len: int = 2

    def __post_init__(self) -> None:
        check_confidence(self.min_confidence)
        if (
            isinstance(self.min_lift, bool)
            or not isinstance(self.min_lift, numbers.Real)
            or self.min_lift < 0
        ):
            raise ConfigError(
                f"[baskets] min_lift: must be a number >= 0 (1 keeps rules more likely than at "
                f"random), got {self.min_lift!r}; fix it in memberlens.toml"
            )
        for name in ("per_antecedent", "max_rules", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ConfigError(
                    f"[baskets] {name}: must be a whole number >= 1, got {value!r}; "
                    "fix it in memberlens.toml"
                )
        if self.max_len < 2:
            raise ConfigError(
                f"[baskets] max_len: a rule needs two items (one each side), got "
                f"{self.max_len!r}; use 2 (one item on the left) or 3 (up to two)"
            )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RuleBounds:
        """The bounds from a ``[baskets]`` section (other keys of the section are ignored)."""
        known = ("min_confidence", "min_lift", "per_antecedent", "max_rules", "max_len")
        return cls(**{k: settings[k] for k in known if k in settings})


def strongest_rules(
    baskets, *, min_support: float, bounds: RuleBounds | None = None
) -> pd.DataFrame:
    """The bounded rule set of the module docstring, as :func:`association_rules`' frame
    (sorted by lift, confidence, support). ``frame.attrs`` adds ``n_mined``: how many rules
    full mining gives at the same support, confidence and length.

    >>> baskets = [["tea", "cups"], ["tea", "cups"], ["tea", "sugar"], ["milk"], ["milk"]]
    >>> rules = strongest_rules(baskets, min_support=0.2, bounds=RuleBounds(per_antecedent=1))
    >>> rules[["antecedent", "consequent", "confidence", "lift"]]
      antecedent consequent  confidence      lift
    0    (cups,)        tea    1.000000  1.666667
    1   (sugar,)        tea    1.000000  1.666667
    2     (tea,)       cups    0.666667  1.666667
    """
    bounds = bounds or RuleBounds()
    min_support = check_support(min_support)
    check_lengths(2, bounds.max_len)
    mined = count_itemsets(baskets, min_support=min_support, max_len=bounds.max_len)
    rules = rule_arrays(mined, min_confidence=bounds.min_confidence, min_len=2)
    n_mined = int(rules.rhs.size)
    rules = rules.take(np.flatnonzero(rules.lift > bounds.min_lift))
    rules = rules.take(np.flatnonzero(~redundant(rules, mined)))
    rules = rules.take(_top_per_antecedent(rules, bounds.per_antecedent))
    order = sorted_rule_order(rules)[: bounds.max_rules]
    frame = rules_frame(rules.take(order))
    frame.attrs["n_mined"] = n_mined
    return frame


def redundant(rules: RuleArrays, mined: MinedItemsets) -> np.ndarray:
    """Whether each rule has a more general rule (one antecedent item less, same consequent,
    non-empty antecedent) with the same or a higher confidence (arules ``is.redundant``)."""
    out = np.zeros(rules.rhs.size, dtype=bool)
    sizes = (rules.lhs >= 0).sum(axis=1)
    rows, counts = mined.itemsets.rows, mined.itemsets.counts
    n_items = rules.labels.size
    for k in np.unique(sizes[sizes >= 2]).tolist():
        at = np.flatnonzero(sizes == k)
        lhs, rhs, confidence = rules.lhs[at, :k], rules.rhs[at], rules.confidence[at]
        for j in range(k):
            sub = np.delete(lhs, j, axis=1)  # still ascending
            with_rhs = np.sort(np.column_stack([sub, rhs]), axis=1)
            general = (
                counts[k][_lookup(rows[k], with_rhs, n_items)]
                / counts[k - 1][_lookup(rows[k - 1], sub, n_items)]
            )
            out[at] |= general >= confidence - 1e-12
    return out


def _top_per_antecedent(rules: RuleArrays, per_antecedent: int) -> np.ndarray:
    """Positions of the ``per_antecedent`` rules of highest confidence (then lift, then
    consequent) of every antecedent."""
    if not rules.rhs.size:
        return np.empty(0, dtype=np.int64)
    keys = [rules.rhs, -rules.lift, -rules.confidence]
    keys += [rules.lhs[:, j] for j in range(rules.lhs.shape[1] - 1, -1, -1)]
    order = np.lexsort(keys)
    lhs = rules.lhs[order]
    new = np.ones(order.size, dtype=bool)
    new[1:] = (lhs[1:] != lhs[:-1]).any(axis=1)
    start = np.maximum.accumulate(np.where(new, np.arange(order.size), 0))
    rank = np.arange(order.size) - start
    return np.sort(order[rank < per_antecedent])


_VARIANT_CODE = re.compile(r"^(\d{3,})[A-Za-z]{1,2}$")


def product_family(code: object) -> str:
    """The family of a product code: a numeric stock code without its variant letters
    (``85099B`` -> ``85099``); any other code is its own family.

    >>> product_family("85099B"), product_family("85099"), product_family("POST")
    ('85099', '85099', 'POST')
    """
    text = str(code).strip()
    match = _VARIANT_CODE.match(text)
    return match.group(1) if match else text


def collapse_variants(
    rules: pd.DataFrame, family: Callable[[object], str] = product_family
) -> pd.DataFrame:
    """``rules`` with ``variants`` (how many rules link the same families: the same
    antecedent families and consequent family) and ``representative`` (true for the first such
    rule in the frame's order, i.e. the strongest when sorted by lift). A readable view shows
    the representatives only.

    >>> rules = pd.DataFrame({"antecedent": [("85099B",), ("85099C",), ("22423",)],
    ...                       "consequent": ["20725A", "20725A", "85099B"]})
    >>> collapse_variants(rules)[["variants", "representative"]].values.tolist()
    [[2, True], [2, False], [1, True]]
    """
    items = rules["antecedent"]
    left = [
        " + ".join(sorted({family(i) for i in (a if isinstance(a, tuple) else (a,))}))
        for a in items
    ]
    key = pd.Series(left, index=rules.index) + " => " + rules["consequent"].map(family)
    out = rules.copy()
    out["variants"] = key.map(key.value_counts()).to_numpy(dtype=np.int64)
    out["representative"] = ~key.duplicated().to_numpy()
    return out


def name_rules(rules: pd.DataFrame, names: Mapping[Any, Any]) -> pd.DataFrame:
    """``rules`` with ``antecedent_name`` (names joined by " + ") and ``consequent_name``;
    an item without a name shows its code.

    >>> rules = pd.DataFrame({"antecedent": [("85099B",)], "consequent": ["POST"]})
    >>> name_rules(rules, {"85099B": "JUMBO BAG RED"}).iloc[0].tolist()[2:]
    ['JUMBO BAG RED', 'POST']
    """

    def name(item: object) -> str:
        found = names.get(item)
        return str(item) if found is None or found != found else str(found)

    out = rules.copy()
    out["antecedent_name"] = [
        " + ".join(name(i) for i in (a if isinstance(a, tuple) else (a,)))
        for a in rules["antecedent"]
    ]
    out["consequent_name"] = [name(c) for c in rules["consequent"]]
    return out
