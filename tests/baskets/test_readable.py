"""The bounded, readable rule set of ``memberlens run`` against full arules-style mining.

References: Groceries (arules; ``tests/reference/groceries_arules.json`` pins the full mining the
bounded set is cut from) and the definitions themselves, computed naively from the full rule
set: lift above the floor, arules' ``is.redundant`` (a more general rule with the same
consequent and the same or a higher confidence exists), the strongest N per antecedent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.baskets import (
    RuleBounds,
    association_rules,
    collapse_variants,
    name_rules,
    product_family,
    strongest_rules,
)
from memberlens.exceptions import ConfigError

SUPPORT = 0.002


@pytest.fixture(scope="module")
def full(groceries) -> pd.DataFrame:
    """Every rule with up to two items on the left, confidence >= 0 (nothing cut)."""
    return association_rules(
        groceries, min_support=SUPPORT, min_confidence=0.0, min_len=2, max_len=3
    )


def _key(frame: pd.DataFrame) -> list[tuple]:
    return list(zip(frame["antecedent"], frame["consequent"], strict=True))


def _naive(full: pd.DataFrame, bounds: RuleBounds) -> pd.DataFrame:
    """The bounded set by its definition, one rule at a time."""
    conf = dict(zip(_key(full), full["confidence"], strict=True))
    keep = []
    for (lhs, rhs), c, lift in zip(_key(full), full["confidence"], full["lift"], strict=True):
        if lift <= bounds.min_lift or c < bounds.min_confidence or len(lhs) + 1 > bounds.max_len:
            continue
        general = [tuple(x for x in lhs if x != drop) for drop in lhs] if len(lhs) > 1 else []
        if any(conf[(g, rhs)] >= c for g in general):
            continue  # redundant
        keep.append((lhs, rhs, c, lift))
    frame = pd.DataFrame(keep, columns=["antecedent", "consequent", "confidence", "lift"])
    frame = frame.sort_values(["confidence", "lift", "consequent"], ascending=[False, False, True])
    frame = frame.groupby("antecedent", sort=False).head(bounds.per_antecedent)
    return frame.sort_values("lift", ascending=False, kind="stable").head(bounds.max_rules)


@pytest.mark.parametrize(
    "bounds",
    [
        RuleBounds(),
        RuleBounds(max_len=3, per_antecedent=3, min_confidence=0.1),
        RuleBounds(max_len=3, min_lift=1.5, max_rules=200),
    ],
    ids=["default", "two-item-antecedents", "capped"],
)
def test_groceries_bounded_rules_match_their_definition(groceries, full, bounds):
    got = strongest_rules(groceries, min_support=SUPPORT, bounds=bounds)
    expected = _naive(full, bounds)
    assert set(_key(got)) == set(_key(expected))
    assert got.attrs["n_mined"] == int(
        (
            (full["confidence"] >= bounds.min_confidence)
            & (full["antecedent"].map(len) < bounds.max_len)
        ).sum()
    )
    # the measures are those of full mining, rule for rule
    merged = got.merge(full, on=["antecedent", "consequent"], suffixes=("", "_full"))
    for col in ("support", "confidence", "lift", "leverage", "count"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_full"], rtol=1e-12)
    assert (got["lift"] > bounds.min_lift).all()
    assert got["lift"].is_monotonic_decreasing
    assert got.groupby("antecedent").size().max() <= bounds.per_antecedent
    assert len(got) <= bounds.max_rules


def test_the_default_is_far_smaller_than_full_mining(groceries, full):
    got = strongest_rules(groceries, min_support=SUPPORT)
    singles = full[full["antecedent"].map(len) == 1]
    assert len(got) < len(singles) / 2
    assert (got["antecedent"].map(len) == 1).all()


def test_a_rule_no_better_than_its_general_rule_is_redundant():
    # {a} => c is right 6 times in 8 and {d} => c 2 in 4; {a, b} => c (2 in 3) is redundant,
    # {a, d} => c (2 in 2) improves on both
    baskets = [["a", "b", "c"]] * 2 + [["a", "b"]] + [["a", "c"]] * 2 + [["a"]]
    baskets += [["a", "d", "c"]] * 2 + [["d"]] * 2 + [["e"]] * 6
    got = strongest_rules(baskets, min_support=0.05, bounds=RuleBounds(max_len=3))
    lhs = set(got.loc[got["consequent"] == "c", "antecedent"])
    assert ("a", "d") in lhs and ("a", "b") not in lhs


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"min_lift": -1}, "min_lift"),
        ({"per_antecedent": 0}, "per_antecedent"),
        ({"max_rules": "many"}, "max_rules"),
        ({"max_len": 1}, "max_len"),
        ({"min_confidence": 2}, "min_confidence"),
    ],
)
def test_bad_bounds_name_the_setting(settings, key):
    with pytest.raises(ConfigError, match=key):
        RuleBounds.from_settings(settings)


def test_variant_rules_collapse_to_the_strongest_per_family_pair():
    rules = pd.DataFrame(
        {
            "antecedent": [("85099B",), ("85099C",), ("85099F", "22423"), ("22423", "85099B")],
            "consequent": ["20725A", "20725C", "POST", "POST"],
            "lift": [9.0, 8.0, 7.0, 6.0],
        }
    )
    out = collapse_variants(rules)
    assert out["representative"].tolist() == [True, False, True, False]
    assert out["variants"].tolist() == [2, 2, 2, 2]
    assert [product_family(c) for c in ("20725C", "85099", "DOT", "12AB", "A123B")] == [
        "20725",
        "85099",
        "DOT",
        "12AB",
        "A123B",
    ]


def test_names_stand_beside_codes():
    rules = pd.DataFrame({"antecedent": [("85099B", "X")], "consequent": ["22423"]})
    named = name_rules(rules, {"85099B": "JUMBO BAG RED", "22423": "REGENCY CAKESTAND", "X": None})
    assert named.loc[0, "antecedent_name"] == "JUMBO BAG RED + X"
    assert named.loc[0, "consequent_name"] == "REGENCY CAKESTAND"
