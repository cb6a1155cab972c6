"""Value tiers. Outside references: the weighted score recomputed with pandas' average-rank
percentiles on distinct values, sklearn's own tree predictions for the rule precision, and the
tier definitions of the module docstring applied by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from memberlens.exceptions import ConfigError, DataError
from memberlens.features import rfm_summary
from memberlens.segmentation import DEFAULT_WEIGHTS, TIERS, ValueTierModel


@pytest.fixture(scope="module")
def summary(cdnow_orders):
    return rfm_summary(cdnow_orders, as_of="1998-06-30").to_pandas()


def _members(n: int = 2_000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(n)],
            "total_spend": rng.gamma(2.0, 100.0, n),
            "frequency": rng.poisson(2.0, n),
            "days_since_last": rng.integers(0, 700, n),
            "clv": rng.gamma(2.0, 50.0, n),
            "p_alive": rng.uniform(size=n),
        }
    )


def test_missing_components_are_renormalised_and_reported(summary):
    model = ValueTierModel().fit(summary)
    w = DEFAULT_WEIGHTS
    base = w["spend"] + w["frequency"] + w["recency"]
    assert model.weights_ == pytest.approx(
        {
            "spend": w["spend"] / base,
            "frequency": w["frequency"] / base,
            "recency": w["recency"] / base,
        }
    )
    assert sum(model.weights_.values()) == pytest.approx(1.0)
    assert any("clv" in n for n in model.notes_) and any("renormalised" in n for n in model.notes_)


def test_score_matches_rank_percentiles_on_distinct_values():
    rng = np.random.default_rng(5)
    members = pd.DataFrame(
        {
            "total_spend": rng.permutation(1000) + 0.5,
            "frequency": rng.permutation(1000),
            "days_since_last": rng.permutation(1000),
        }
    )
    model = ValueTierModel(weights={"spend": 1.0, "frequency": 1.0, "recency": 2.0})
    got = model.fit_transform(members).value_score
    pct = members.rank(pct=True)  # pandas average ranks
    expected = (pct.total_spend + pct.frequency + 2 * (1 - pct.days_since_last)) / 4
    np.testing.assert_allclose(got, expected, atol=0.012)  # 101-quantile grid resolution


def test_tiers_follow_the_declared_rules():
    members = _members()
    model = ValueTierModel()
    out = model.fit_transform(members)
    t = model.thresholds_
    churn = members.p_alive < 0.3
    assert (out.tier[churn] == "churn_risk").all()
    rest = ~churn
    assert (out.tier[rest & (out.value_score >= t["high_score"])] == "high_value").all()
    mid = rest & (out.value_score < t["high_score"]) & (out.value_score >= t["medium_score"])
    assert (out.tier[mid] == "medium_value").all()
    low = rest & (out.value_score < t["medium_score"])
    assert (out.tier[low & (members.clv >= t["potential_clv"])] == "potential_value").all()
    assert (out.tier[low & (members.clv < t["potential_clv"])] == "low_value").all()
    assert set(out.tier_zh) <= {v[1] for v in TIERS.values()}
    assert sum(model.tier_counts_.values()) == len(members)


def test_rules_are_plain_words_and_their_precision_is_the_tree_s(summary):
    model = ValueTierModel().fit(summary)
    tiers = model.transform(summary).tier.to_numpy()
    x = summary[model.feature_columns_].to_numpy(dtype="float64")
    predicted = model.tree_.predict(x)
    for rule in model.rules_:
        assert rule.en.startswith(TIERS[rule.tier][0]) and rule.zh.startswith(TIERS[rule.tier][1])
        if rule.precision > 0:
            # the rule's leaf is one of the leaves predicting the tier: its precision cannot
            # exceed 1 and the tree predicts the tier for at least as many members as it covers
            assert 0 < rule.precision <= 1
            assert (predicted == rule.tier).sum() >= rule.coverage * (tiers == rule.tier).sum()
    assert "days since last purchase" in model.rules_frame().en.str.cat()
    assert set(model.thresholds_frame().kind) == {"threshold", "weight"}


def test_estimator_contract(summary):
    model = ValueTierModel(tree_depth=2)
    with pytest.raises(NotFittedError):
        model.transform(summary)
    before = summary.copy()
    assert model.fit(summary) is model
    pd.testing.assert_frame_equal(summary, before)
    assert clone(model).get_params() == model.get_params()
    assert model.tree_.get_depth() <= 2


def test_bad_settings_name_the_fix(summary):
    with pytest.raises(ConfigError, match="unknown component"):
        ValueTierModel(weights={"loyalty": 1.0}).fit(summary)
    with pytest.raises(ConfigError, match="medium_quantile < high_quantile"):
        ValueTierModel(medium_quantile=0.9).fit(summary)
    with pytest.raises(DataError, match="lacks total_spend"):
        ValueTierModel().fit(summary.drop(columns=["total_spend"]))


def test_missing_clv_scores_the_bottom_and_refunders_are_low_value():
    rng = np.random.default_rng(14)
    n = 400
    members = pd.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(n)],
            "total_spend": rng.gamma(2.0, 100.0, n),
            "frequency": rng.poisson(3, n),
            "days_since_last": rng.integers(0, 300, n),
            "clv": rng.gamma(2.0, 50.0, n),
            "refunder": False,
        }
    )
    # a very frequent, recent member who returned everything: no CLV, net value 0
    members.loc[0, ["total_spend", "frequency", "days_since_last", "clv", "refunder"]] = [
        0.0,
        40,
        1,
        np.nan,
        True,
    ]
    model = ValueTierModel().fit(members)
    out = model.transform(members)
    assert out.loc[0, "tier"] == "low_value"
    assert np.isfinite(out["value_score"]).all()
    assert np.isfinite(model.thresholds_["potential_clv"])
