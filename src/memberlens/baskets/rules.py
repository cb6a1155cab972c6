"""Association rules with the semantics of R's arules ``apriori(target = "rules")``.

From every frequent itemset ``I`` with ``min_len <= |I| <= max_len`` and every item ``c`` in it,
the rule ``I - {c} => {c}`` is kept when its confidence ``count(I) / count(I - {c})`` is at
least ``min_confidence`` (arules compares with a 1e-12 tolerance: ``c < ist->conf - EPSILON``
in ``src/istree.c``). Exactly one item stands on the right-hand side. With ``min_len = 1`` a
frequent single item ``c`` gives the rule ``{} => {c}`` with confidence ``support(c)``, as in
arules. Measures (Hahsler, arules ``interestMeasure``; Brin et al. 1997 for conviction):

- support = count(I) / n, confidence = count(I) / count(lhs)
- lift = confidence / support(rhs), leverage = support - support(lhs) * support(rhs)
- conviction = (1 - support(rhs)) / (1 - confidence), infinite when confidence is 1.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from memberlens.baskets.itemsets import (
    MinedItemsets,
    check_lengths,
    check_support,
    count_itemsets,
    itemset_tuples,
)
from memberlens.exceptions import ConfigError

__all__ = ["RULE_COLUMNS", "association_rules"]

RULE_COLUMNS = (
    "antecedent",
    "consequent",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "count",
    "antecedent_count",
    "consequent_count",
)

# arules src/istree.c: #define EPSILON 1e-12 /* to cope with roundoff errors */
_CONFIDENCE_TOLERANCE = 1e-12


def _lookup(table: np.ndarray, queries: np.ndarray, n_items: int) -> np.ndarray:
    """Row index in ``table`` of every row of ``queries`` (rows of item codes, all present)."""
    width = table.shape[1]
    if width * np.log2(max(2, n_items)) < 62:  # rows fit in one integer key: binary search
        radix = n_items ** np.arange(width - 1, -1, -1, dtype=np.int64)
        keys = table @ radix
        order = np.argsort(keys)
        return order[np.searchsorted(keys, queries @ radix, sorter=order)]
    both = np.concatenate([table, queries])
    _, inverse = np.unique(both, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    where = np.empty(inverse.max() + 1, dtype=np.int64)
    where[inverse[: table.shape[0]]] = np.arange(table.shape[0])
    return where[inverse[table.shape[0] :]]


def _rules_of_size(
    rows: np.ndarray,
    counts: np.ndarray,
    sub_rows: np.ndarray | None,
    sub_counts: np.ndarray | None,
    n: int,
    n_items: int,
    min_confidence: float,
):
    """(antecedent codes, consequent code, count, antecedent count) of the kept rules built from
    itemsets ``rows`` of one size; ``sub_rows`` are the itemsets one item shorter."""
    size = rows.shape[1]
    if size == 1:  # {} => {c}: the antecedent is the empty set, held by every basket
        lhs_counts = np.full(rows.shape[0], n, dtype=np.int64)
        keep = counts / lhs_counts >= min_confidence - _CONFIDENCE_TOLERANCE
        return (
            np.empty((int(keep.sum()), 0), dtype=np.int64),
            rows[keep, 0],
            counts[keep],
            lhs_counts[keep],
        )
    lhs = np.concatenate([np.delete(rows, j, axis=1) for j in range(size)])
    rhs = np.concatenate([rows[:, j] for j in range(size)])
    total = np.tile(counts, size)
    lhs_counts = sub_counts[_lookup(sub_rows, lhs, n_items)]
    keep = total / lhs_counts >= min_confidence - _CONFIDENCE_TOLERANCE
    return lhs[keep], rhs[keep], total[keep], lhs_counts[keep]


def _sort_rules(frame_keys: dict[str, np.ndarray], lhs: np.ndarray) -> np.ndarray:
    """Lift, confidence, support descending; then shorter antecedents, items in label order."""
    pad = np.where(lhs >= 0, lhs, np.iinfo(np.int64).max)
    keys = [frame_keys["rhs"]]
    keys += [pad[:, j] for j in range(pad.shape[1] - 1, -1, -1)]
    keys += [
        frame_keys["size"],
        -frame_keys["count"],
        -frame_keys["confidence"],
        -frame_keys["lift"],
    ]
    return np.lexsort(keys)


def check_confidence(min_confidence) -> float:
    if (
        isinstance(min_confidence, bool)
        or not isinstance(min_confidence, numbers.Real)
        or not 0 <= min_confidence <= 1
    ):
        raise ConfigError(
            f"min_confidence must be a share in [0, 1]; got {min_confidence!r} "
            "(e.g. 0.5 keeps rules right at least half of the time)"
        )
    return float(min_confidence)


@dataclass(frozen=True)
class RuleArrays:
    """Mined rules as arrays, before any frame is built: ``lhs`` (rules x width item codes,
    ``-1`` padding), ``rhs``, ``count``, ``lhs_count``, with the item counts, labels and n."""

    lhs: np.ndarray
    rhs: np.ndarray
    count: np.ndarray
    lhs_count: np.ndarray
    item_counts: np.ndarray
    labels: np.ndarray
    n_transactions: int
    min_count: int

    @property
    def confidence(self) -> np.ndarray:
        return self.count / self.lhs_count

    @property
    def lift(self) -> np.ndarray:
        return self.confidence / (self.item_counts[self.rhs] / self.n_transactions)

    @property
    def size(self) -> np.ndarray:
        """Items in each rule, both sides."""
        return (self.lhs >= 0).sum(axis=1) + 1

    def take(self, index: np.ndarray) -> RuleArrays:
        return replace(
            self,
            lhs=self.lhs[index],
            rhs=self.rhs[index],
            count=self.count[index],
            lhs_count=self.lhs_count[index],
        )


def rule_arrays(mined: MinedItemsets, *, min_confidence: float, min_len: int) -> RuleArrays:
    """Every rule of the mined itemsets with at least ``min_len`` items and confidence at
    least ``min_confidence`` (arules' tolerance), unsorted."""
    found, labels, n = mined.itemsets, mined.labels, mined.n_transactions
    width = max([0] + [s - 1 for s in found.rows if s >= min_len])
    parts = []
    for size in sorted(found.rows):
        if size < min_len:
            continue
        lhs, rhs, count, lhs_count = _rules_of_size(
            found.rows[size],
            found.counts[size],
            found.rows.get(size - 1),
            found.counts.get(size - 1),
            n,
            labels.size,
            float(min_confidence),
        )
        padded = np.full((rhs.size, width), -1, dtype=np.int64)
        padded[:, : size - 1] = lhs
        parts.append((padded, rhs, count, lhs_count))
    if parts:
        lhs = np.concatenate([p[0] for p in parts])
        rhs, count, lhs_count = (np.concatenate([p[i] for p in parts]) for i in (1, 2, 3))
    else:
        lhs, rhs = np.empty((0, 0), np.int64), np.empty(0, np.int64)
        count = lhs_count = np.empty(0, np.int64)
    return RuleArrays(
        lhs=lhs,
        rhs=rhs,
        count=count,
        lhs_count=lhs_count,
        item_counts=mined.item_counts,
        labels=labels,
        n_transactions=n,
        min_count=mined.min_count,
    )


def sorted_rule_order(rules: RuleArrays) -> np.ndarray:
    """Lift, confidence, support descending; then shorter antecedents, items in label order."""
    return _sort_rules(
        {
            "rhs": rules.rhs,
            "size": rules.size,
            "count": rules.count,
            "confidence": rules.confidence,
            "lift": rules.lift,
        },
        rules.lhs,
    )


def rules_frame(rules: RuleArrays) -> pd.DataFrame:
    """The rules (in their order) as the frame :func:`association_rules` returns."""
    n, labels = rules.n_transactions, rules.labels
    rhs_count = rules.item_counts[rules.rhs]
    support, confidence = rules.count / n, rules.confidence
    rhs_support = rhs_count / n
    slack = 1 - confidence
    conviction = np.divide(
        1 - rhs_support, slack, out=np.full(slack.shape, np.inf), where=slack > 0
    )
    frame = pd.DataFrame(
        {
            "antecedent": antecedent_tuples(labels, rules.lhs),
            "consequent": pd.Series(labels[rules.rhs], dtype=object),  # items keep their type
            "support": support,
            "confidence": confidence,
            "lift": confidence / rhs_support,
            "leverage": support - (rules.lhs_count / n) * rhs_support,
            "conviction": conviction,
            "count": rules.count,
            "antecedent_count": rules.lhs_count,
            "consequent_count": rhs_count,
        },
        columns=list(RULE_COLUMNS),
    )
    frame.attrs.update(n_transactions=n, min_count=rules.min_count)
    return frame


def antecedent_tuples(labels: np.ndarray, lhs: np.ndarray) -> list[tuple]:
    """Padded antecedent rows (``-1`` = no item) as tuples of labels."""
    sizes = (lhs >= 0).sum(axis=1)
    out: list[tuple] = [()] * lhs.shape[0]
    for size in np.unique(sizes).tolist():
        at = np.flatnonzero(sizes == size)
        for i, t in zip(at.tolist(), itemset_tuples(labels, lhs[at, :size]), strict=True):
            out[i] = t
    return out


def association_rules(
    baskets, *, min_support: float, min_confidence: float, min_len: int = 1, max_len: int = 10
) -> pd.DataFrame:
    """Rules ``antecedent => consequent`` (one item on the right) with arules' semantics.

    ``min_len`` / ``max_len`` count the items of both sides together, as arules' ``minlen`` /
    ``maxlen`` do (defaults 1 and 10, as in arules). Columns: ``antecedent`` (tuple of items in
    sorted order, empty for ``{} => {c}``), ``consequent`` (one item), ``support``,
    ``confidence``, ``lift``, ``leverage``, ``conviction``, ``count`` (baskets holding both
    sides), ``antecedent_count``, ``consequent_count``. Sorted by lift, confidence and support,
    all descending, then by the items. ``frame.attrs`` holds ``n_transactions`` and
    ``min_count``.

    >>> baskets = [["milk", "bread"], ["milk", "eggs"], ["milk", "bread", "eggs"], ["tea"]]
    >>> rules = association_rules(baskets, min_support=0.5, min_confidence=0.7)
    >>> rules[["antecedent", "consequent", "confidence", "lift"]]
      antecedent consequent  confidence      lift
    0   (bread,)       milk        1.00  1.333333
    1    (eggs,)       milk        1.00  1.333333
    2         ()       milk        0.75  1.000000
    """
    min_support = check_support(min_support)
    min_confidence = check_confidence(min_confidence)
    check_lengths(min_len, max_len)
    mined = count_itemsets(baskets, min_support=min_support, max_len=max_len)
    rules = rule_arrays(mined, min_confidence=min_confidence, min_len=min_len)
    return rules_frame(rules.take(sorted_rule_order(rules)))
