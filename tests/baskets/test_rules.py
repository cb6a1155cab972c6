"""Association rules against R arules on Groceries, a naive counter, and invariances.

Reference: ``tests/reference/groceries_arules.json`` (arules ``apriori`` figures published in the
arulesViz vignette / README / man pages and in Lantz, *Machine Learning with R*, ch. 8).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memberlens.baskets import RULE_COLUMNS, association_rules
from memberlens.exceptions import ConfigError


def _lengths(rules: pd.DataFrame) -> dict[str, int]:
    sizes = rules["antecedent"].map(len) + 1
    return {str(k): int(v) for k, v in sizes.value_counts().sort_index().items()}


def _rule(rules: pd.DataFrame, antecedent, consequent) -> pd.Series:
    hit = rules[(rules["antecedent"] == tuple(antecedent)) & (rules["consequent"] == consequent)]
    assert len(hit) == 1, f"rule {antecedent} => {consequent} not found once"
    return hit.iloc[0]


def _close(value: float, printed: float) -> bool:
    """Equal to the printed figure at the number of decimals it was printed with."""
    decimals = len(repr(printed).split(".")[1]) if "." in repr(printed) else 0
    return math.isclose(value, printed, abs_tol=0.6 * 10**-decimals)


@pytest.fixture(
    scope="module", params=range(4), ids=["s001c05", "s005c05", "s001c08", "s006c025minlen2"]
)
def published(request, groceries, arules_reference):
    case = arules_reference["rules"][request.param]
    rules = association_rules(groceries, **case["parameters"])
    return case, rules


def test_rule_counts_match_arules(published):
    case, rules = published
    assert len(rules) == case["n_rules"], case["where"]


def test_rule_length_distribution_matches_arules(published):
    case, rules = published
    assert _lengths(rules) == case["lengths"]


def test_top_rules_by_lift_match_arules(published):
    case, rules = published
    for rank, expected in enumerate(case.get("top_by_lift", [])):
        top = rules.iloc[rank]
        assert top["antecedent"] == tuple(expected["antecedent"])
        assert top["consequent"] == expected["consequent"]
        for measure in ("support", "confidence", "lift"):
            if measure in expected:
                assert _close(top[measure], expected[measure]), (measure, top[measure])


def test_lantz_first_rule_pot_plants_whole_milk(groceries, arules_reference):
    case = arules_reference["rules"][3]
    rules = association_rules(groceries, **case["parameters"])
    expected = case["first_rule"]
    rule = _rule(rules, expected["antecedent"], expected["consequent"])
    for measure in ("support", "confidence", "lift"):
        assert _close(rule[measure], expected[measure]), measure


def test_measure_ranges_match_arules_summary(groceries, arules_reference):
    case = arules_reference["rules"][0]
    rules = association_rules(groceries, **case["parameters"])
    assert _close(rules["lift"].min(), case["lift_min"])
    assert _close(rules["lift"].median(), case["lift_median"])
    assert _close(rules["lift"].max(), case["lift_max"])
    assert _close(rules["support"].max(), case["support_max"])


def test_min_len_one_adds_empty_antecedent_rules_like_arules(groceries, arules_reference):
    # Lantz ch. 8 sets minlen = 2 to drop arules' "{} => {whole milk}": whole milk is in 25.6 %
    # of the baskets, above the 0.25 confidence, so minlen = 1 gives exactly one rule more.
    case = arules_reference["rules"][3]
    params = dict(case["parameters"], min_len=1)
    rules = association_rules(groceries, **params)
    assert len(rules) == case["n_rules"] + 1
    empty = rules[rules["antecedent"] == ()]
    assert empty["consequent"].tolist() == ["whole milk"]
    row = empty.iloc[0]
    assert row["count"] == arules_reference["top_items"]["whole milk"]
    assert row["antecedent_count"] == arules_reference["n_transactions"]
    assert row["confidence"] == row["support"] and row["lift"] == 1.0 and row["leverage"] == 0.0


def test_max_len_counts_both_sides_like_arules_maxlen(groceries, arules_reference):
    case = arules_reference["rules"][0]
    rules = association_rules(groceries, **case["parameters"], max_len=2)
    assert len(rules) == case["lengths"]["2"]
    rules = association_rules(groceries, **case["parameters"], min_len=6)
    assert len(rules) == case["lengths"]["6"]


def test_frame_layout_measures_and_attrs(groceries):
    rules = association_rules(groceries, min_support=0.005, min_confidence=0.5)
    assert tuple(rules.columns) == RULE_COLUMNS
    assert rules.attrs == {"n_transactions": 9835, "min_count": 50}
    n = 9835
    np.testing.assert_allclose(rules["support"], rules["count"] / n)
    np.testing.assert_allclose(rules["confidence"], rules["count"] / rules["antecedent_count"])
    np.testing.assert_allclose(rules["lift"], rules["confidence"] / (rules["consequent_count"] / n))
    np.testing.assert_allclose(
        rules["leverage"],
        rules["support"] - rules["antecedent_count"] * rules["consequent_count"] / n**2,
    )
    np.testing.assert_allclose(
        rules["conviction"], (1 - rules["consequent_count"] / n) / (1 - rules["confidence"])
    )
    assert rules["lift"].is_monotonic_decreasing


def test_confidence_exactly_at_threshold_is_kept_and_full_confidence_has_infinite_conviction():
    # 3 of the 5 baskets with "a" hold "b": confidence 0.6 exactly (arules: c >= conf - 1e-12)
    baskets = [["a", "b"]] * 3 + [["a"]] * 2 + [["c", "d"]] * 2
    rules = association_rules(baskets, min_support=0.2, min_confidence=0.6, min_len=2)
    rule = _rule(rules, ["a"], "b")
    assert rule["confidence"] == 0.6
    full = _rule(rules, ["b"], "a")
    assert full["confidence"] == 1.0 and full["conviction"] == np.inf


def test_no_rules_gives_an_empty_frame_with_the_columns():
    rules = association_rules([["a"], ["b"]], min_support=0.5, min_confidence=0.9, min_len=2)
    assert rules.empty and tuple(rules.columns) == RULE_COLUMNS


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"min_support": 0, "min_confidence": 0.5}, "min_support"),
        ({"min_support": 1.5, "min_confidence": 0.5}, "min_support"),
        ({"min_support": True, "min_confidence": 0.5}, "min_support"),
        ({"min_support": 0.1, "min_confidence": 1.2}, "min_confidence"),
        ({"min_support": 0.1, "min_confidence": "high"}, "min_confidence"),
        ({"min_support": 0.1, "min_confidence": 0.5, "min_len": 0}, "min_len"),
        ({"min_support": 0.1, "min_confidence": 0.5, "min_len": 3, "max_len": 2}, "max_len"),
    ],
)
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        association_rules([["a", "b"]], **kwargs)


baskets_strategy = st.lists(
    st.lists(st.sampled_from("abcdefg"), max_size=6), min_size=1, max_size=25
)


@settings(max_examples=150, deadline=None)
@given(
    baskets=baskets_strategy,
    min_support=st.floats(0.02, 1.0),
    min_confidence=st.floats(0.0, 1.0),
    min_len=st.integers(1, 3),
    extra_len=st.integers(0, 4),
)
def test_rules_equal_a_naive_counter(
    naive_rules, baskets, min_support, min_confidence, min_len, extra_len
):
    max_len = min_len + extra_len
    rules = association_rules(
        baskets,
        min_support=min_support,
        min_confidence=min_confidence,
        min_len=min_len,
        max_len=max_len,
    )
    got = {
        (frozenset(r.antecedent), r.consequent): (r.count, r.antecedent_count)
        for r in rules.itertuples()
    }
    assert len(got) == len(rules)
    assert got == naive_rules(baskets, min_support, min_confidence, min_len, max_len)


@settings(max_examples=40, deadline=None)
@given(baskets=baskets_strategy, seed=st.integers(0, 2**16))
def test_rules_do_not_depend_on_basket_or_item_order(baskets, seed):
    rng = np.random.default_rng(seed)
    shuffled = [list(rng.permutation(b)) if b else [] for b in baskets]
    shuffled = [shuffled[i] for i in rng.permutation(len(shuffled))]
    first = association_rules(baskets, min_support=0.1, min_confidence=0.2)
    second = association_rules(shuffled, min_support=0.1, min_confidence=0.2)
    pd.testing.assert_frame_equal(first, second)


def test_groceries_rules_do_not_depend_on_order(groceries):
    rng = np.random.default_rng(3)
    shuffled = [groceries[i][::-1] for i in rng.permutation(len(groceries))]
    first = association_rules(groceries, min_support=0.002, min_confidence=0.3)
    second = association_rules(shuffled, min_support=0.002, min_confidence=0.3)
    pd.testing.assert_frame_equal(first, second)
