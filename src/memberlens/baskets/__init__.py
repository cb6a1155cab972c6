"""Market-basket analysis: frequent itemsets and association rules with R arules' semantics.

>>> from memberlens.datasets import load_groceries
>>> rules = association_rules(load_groceries(), min_support=0.001, min_confidence=0.5)
>>> len(rules), rules.iloc[0]["consequent"]
(5668, 'hamburger meat')

``baskets_from_orders`` / ``basket_pairs`` / ``basket_lines`` (Ibis, engine side) load on first use, so mining
baskets you already hold does not import Ibis.
"""

from memberlens.baskets.itemsets import frequent_itemsets, min_count
from memberlens.baskets.non_products import NON_PRODUCT_CODES, excluded_codes
from memberlens.baskets.readable import (
    RuleBounds,
    collapse_variants,
    name_rules,
    product_family,
    strongest_rules,
)
from memberlens.baskets.rules import RULE_COLUMNS, association_rules
from memberlens.baskets.transactions import Transactions, encode_baskets, read_basket_file

__all__ = [
    "NON_PRODUCT_CODES",
    "RULE_COLUMNS",
    "RuleBounds",
    "Transactions",
    "association_rules",
    "basket_lines",
    "basket_pairs",
    "baskets_from_orders",
    "collapse_variants",
    "encode_baskets",
    "excluded_codes",
    "frequent_itemsets",
    "min_count",
    "name_rules",
    "product_family",
    "product_names",
    "read_basket_file",
    "rules_mart",
    "strongest_rules",
]


def __getattr__(name: str):
    if name in ("basket_lines", "basket_pairs", "baskets_from_orders"):
        from memberlens.baskets import orders

        return getattr(orders, name)
    if name in ("rules_mart", "RulesMart", "product_names"):
        from memberlens.baskets import mart

        return getattr(mart, name)
    raise AttributeError(f"module 'memberlens.baskets' has no attribute {name!r}")
