"""The run's rules mart from warehouse tables (DuckDB): bounded, named, without postage.

Reference: hand-built line-level export (UK codes and descriptions) whose rules follow from
counting by hand: 40 baskets hold 85099B with 85099C, 30 of them also POST.
"""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from memberlens.baskets import rules_mart
from memberlens.exceptions import ConfigError


@pytest.fixture()
def con():
    rows = []
    for i in range(100):
        order = f"5{i:05d}"
        lines = ["85099B", "85099C"] if i < 40 else ["22423"] if i < 70 else ["20725A", "22423"]
        lines += ["POST"] if i < 30 else []
        rows += [(order, p) for p in lines]
    frame = pd.DataFrame(rows, columns=["order_id", "product_id"])
    names = {"85099B": "JUMBO BAG RED", "85099C": "JUMBO BAG PINK", "POST": "POSTAGE"}
    frame["product_name"] = frame["product_id"].map(names)
    orders = pd.DataFrame({"order_id": frame["order_id"].unique(), "status": "paid"})
    backend = ibis.duckdb.connect()
    backend.create_table("order_items", frame)
    backend.create_table("orders", orders)
    return backend


def test_rules_are_bounded_named_and_postage_free(con):
    mart = rules_mart(con.table("order_items"), orders=con.table("orders"))
    rules = mart.rules.set_index(["antecedent", "consequent"])
    assert mart.n_baskets == 100
    # 85099B <=> 85099C (40 of 40 baskets: confidence 1, lift 100 / 40); 20725A => 22423
    # (30 of 30, lift 100 / 60); 22423 => 20725A (30 of 60); POST is no product
    assert set(rules.index) == {
        ("85099B", "85099C"),
        ("85099C", "85099B"),
        ("20725A", "22423"),
        ("22423", "20725A"),
    }
    assert rules.loc[("85099B", "85099C"), "lift"] == pytest.approx(2.5)
    assert rules.loc[("22423", "20725A"), "confidence"] == pytest.approx(0.5)
    assert rules.loc[("85099B", "85099C"), "antecedent_name"] == "JUMBO BAG RED"
    assert rules.loc[("20725A", "22423"), "consequent_name"] == "22423"  # no name: the code
    # the two bag rules are variants of one family pair: one representative
    bags = rules.loc[[("85099B", "85099C"), ("85099C", "85099B")]]
    assert bags["variants"].tolist() == [2, 2] and bags["representative"].sum() == 1
    assert "kept 4 of 4 rules" in mart.message


def test_settings_bound_and_exclude(con):
    mart = rules_mart(
        con.table("order_items"),
        settings={"exclude_products": ["22423"], "per_antecedent": 1, "min_support": 0.1},
    )
    assert set(mart.rules["consequent"]) == {"85099B", "85099C"}
    with pytest.raises(ConfigError, match="level"):
        rules_mart(con.table("order_items"), settings={"level": "brand"})
    with pytest.raises(ConfigError, match="max_rules"):
        rules_mart(con.table("order_items"), settings={"max_rules": 0})
