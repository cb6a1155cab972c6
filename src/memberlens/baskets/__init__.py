"""Market-basket analysis: frequent itemsets and association rules with R arules' semantics.

>>> from memberlens.datasets import load_groceries
>>> rules = association_rules(load_groceries(), min_support=0.001, min_confidence=0.5)
>>> len(rules), rules.iloc[0]["consequent"]
(5668, 'hamburger meat')

``baskets_from_orders`` / ``basket_pairs`` (Ibis, engine side) load on first use, so mining
baskets you already hold does not import Ibis.
"""

from memberlens.baskets.itemsets import frequent_itemsets, min_count
from memberlens.baskets.rules import RULE_COLUMNS, association_rules
from memberlens.baskets.transactions import Transactions, encode_baskets, read_basket_file

__all__ = [
    "RULE_COLUMNS",
    "Transactions",
    "association_rules",
    "basket_pairs",
    "baskets_from_orders",
    "encode_baskets",
    "frequent_itemsets",
    "min_count",
    "read_basket_file",
]


def __getattr__(name: str):
    if name in ("basket_pairs", "baskets_from_orders"):
        from memberlens.baskets import orders

        return getattr(orders, name)
    raise AttributeError(f"module 'memberlens.baskets' has no attribute {name!r}")
