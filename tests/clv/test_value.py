"""customer_lifetime_value: definition checks (lifetimes' discretised CLV formula)."""

from __future__ import annotations

import numpy as np
import pytest

from memberlens.clv import customer_lifetime_value
from memberlens.exceptions import ConfigError


def test_undiscounted_value_is_expected_purchases_times_spend(fitted, cdnow_summary):
    clv = customer_lifetime_value(
        fitted["bgnbd"], fitted["gg"], cdnow_summary, horizon=12, period=52 / 12, margin=0.3
    )
    expected = (
        0.3
        * fitted["bgnbd"].expected_purchases(cdnow_summary, horizon=52)
        * fitted["gg"].conditional_expected_spend(cdnow_summary)
    )
    np.testing.assert_allclose(clv.to_numpy(), expected.to_numpy(), rtol=1e-9)
    assert clv.index.name == "member_id"


def test_discounting_and_batches(fitted, cdnow_summary):
    kwargs = dict(horizon=12, period=52 / 12, discount_rate=0.01)
    whole = customer_lifetime_value(fitted["pnbd"], fitted["gg"], cdnow_summary, **kwargs)
    batched = customer_lifetime_value(
        fitted["pnbd"], fitted["gg"], cdnow_summary, batch_size=100, **kwargs
    )
    np.testing.assert_allclose(whole.to_numpy(), batched.to_numpy(), rtol=1e-12)
    flat = customer_lifetime_value(
        fitted["pnbd"], fitted["gg"], cdnow_summary, horizon=12, period=52 / 12
    )
    assert (whole <= flat + 1e-12).all() and (whole < flat).any()
    # one period, discounted once: value / (1 + d)
    one = customer_lifetime_value(
        fitted["pnbd"], fitted["gg"], cdnow_summary, horizon=1, discount_rate=0.1
    )
    plain = customer_lifetime_value(fitted["pnbd"], fitted["gg"], cdnow_summary, horizon=1)
    np.testing.assert_allclose(one.to_numpy() * 1.1, plain.to_numpy())


def test_bad_settings(fitted, cdnow_summary):
    with pytest.raises(ConfigError, match="horizon"):
        customer_lifetime_value(fitted["bgnbd"], fitted["gg"], cdnow_summary, horizon=0)
    with pytest.raises(ConfigError, match="discount_rate"):
        customer_lifetime_value(
            fitted["bgnbd"], fitted["gg"], cdnow_summary, horizon=3, discount_rate=-0.1
        )


def test_segment_aware_value(cdnow_summary, fitted):
    # pymc-marketing users ask for it: each member valued with their own segment's model
    from memberlens.clv import BetaGeoModel

    data = cdnow_summary.assign(segment=np.where(cdnow_summary["T"] > 32, "early", "late"))
    by = BetaGeoModel().fit(data, by="segment")
    clv = customer_lifetime_value(by, fitted["gg"], data, horizon=6, period=52 / 12, batch_size=500)
    late = data[data["segment"] == "late"]
    alone = BetaGeoModel().fit(late)
    expected = customer_lifetime_value(alone, fitted["gg"], late, horizon=6, period=52 / 12)
    np.testing.assert_allclose(
        clv.loc[late["member_id"]].to_numpy(), expected.to_numpy(), rtol=1e-6
    )
