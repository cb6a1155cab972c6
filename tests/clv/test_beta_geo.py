"""BG/NBD and MBG/NBD against Fader, Hardie & Lee (2005), R BTYD and lifetimes, plus
invariance and simulate-then-recover checks."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memberlens.clv import BetaGeoModel, ModifiedBetaGeoModel
from memberlens.clv.simulation import simulate_beta_geo

TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def test_cdnow_parameters_match_fader_hardie_lee_2005(fitted, reference):
    model = fitted["bgnbd"]
    for name, value in reference["bgnbd_paper"].items():
        got = model.log_likelihood_ if name == "log_likelihood" else model.params_[name]
        assert round(got, 1 if name == "log_likelihood" else 3) == pytest.approx(value)


def test_cdnow_parameters_match_verified_to_four_digits(fitted, reference):
    model = fitted["bgnbd"]
    ref = reference["bgnbd_verified"]
    for name in ("r", "alpha", "a", "b"):
        assert model.params_[name] == pytest.approx(ref[name], rel=2e-5)
    assert model.log_likelihood_ == pytest.approx(ref["log_likelihood"], abs=1e-3)


def test_standard_errors_match_lifetimes_docs(fitted, reference):
    ses = fitted["bgnbd"].standard_errors_
    for name, value in reference["bgnbd_lifetimes_standard_errors"].items():
        assert ses[name] == pytest.approx(value, rel=2e-3)


def test_btyd_vignette_predictions(fitted, cdnow_summary, reference):
    model, ref = fitted["bgnbd"], reference["bgnbd_btyd"]
    assert model.expected_purchases_new_member(52) == pytest.approx(ref["new_member_52"], rel=1e-5)
    one = cdnow_summary[cdnow_summary["member_id"] == "1516"]
    assert model.expected_purchases(one, horizon=52).iloc[0] == pytest.approx(
        ref["customer_1516_expected_52"], rel=1e-4
    )
    assert model.probability_alive(one).iloc[0] == pytest.approx(
        ref["customer_1516_alive"], rel=1e-5
    )


def test_mbgnbd_matches_lifetimes(cdnow_summary, reference):
    model = ModifiedBetaGeoModel().fit(cdnow_summary)
    for name, value in reference["mbgnbd_lifetimes"].items():
        assert model.params_[name] == pytest.approx(value, rel=1e-4)


@pytest.mark.parametrize("model_class", [BetaGeoModel, ModifiedBetaGeoModel])
@pytest.mark.parametrize("horizon", [5.0, 52.0])
def test_pmf_sums_to_one_and_to_the_mean(fitted, cdnow_summary, model_class, horizon):
    # FHL (2005) eq. 8 and 9 are separate formulas; sum_n n P(n) must equal E[X(t)].
    model = fitted["bgnbd"] if model_class is BetaGeoModel else model_class().fit(cdnow_summary)
    pmf = np.array([model.probability_of_purchases(n, horizon=horizon) for n in range(300)])
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    assert (np.arange(300) * pmf).sum() == pytest.approx(
        model.expected_purchases_new_member(horizon), rel=1e-9
    )


def test_conditional_expectation_at_birth_equals_new_member(fitted):
    model = fitted["bgnbd"]
    newborn = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0]})
    assert model.expected_purchases(newborn, horizon=20).iloc[0] == pytest.approx(
        model.expected_purchases_new_member(20), rel=1e-10
    )


def test_time_unit_scaling(cdnow_summary):
    # Days instead of weeks: alpha scales by 7, r, a, b and the LL (up to the Jacobian) do not.
    days = cdnow_summary.assign(recency=cdnow_summary["recency"] * 7, T=cdnow_summary["T"] * 7)
    weekly = BetaGeoModel().fit(cdnow_summary)
    daily = BetaGeoModel().fit(days)
    for name in ("r", "a", "b"):
        assert daily.params_[name] == pytest.approx(weekly.params_[name], rel=1e-5)
    assert daily.params_["alpha"] == pytest.approx(7 * weekly.params_["alpha"], rel=1e-5)
    repeaters = cdnow_summary["frequency"].sum()
    assert daily.log_likelihood_ == pytest.approx(
        weekly.log_likelihood_ - repeaters * np.log(7), abs=1e-4
    )
    assert daily.expected_purchases(days, horizon=70).to_numpy() == pytest.approx(
        weekly.expected_purchases(cdnow_summary, horizon=10).to_numpy(), rel=1e-5
    )


def test_row_order_and_weights_do_not_matter(cdnow_summary, fitted):
    shuffled = cdnow_summary.sample(frac=1.0, random_state=7)
    again = BetaGeoModel().fit(shuffled)
    assert again.params_.to_numpy() == pytest.approx(fitted["bgnbd"].params_.to_numpy(), rel=1e-7)
    counts = (
        cdnow_summary.groupby(["frequency", "recency", "T"]).size().rename("weights").reset_index()
    )
    weighted = BetaGeoModel().fit(counts)
    assert weighted.params_.to_numpy() == pytest.approx(
        fitted["bgnbd"].params_.to_numpy(), rel=1e-7
    )
    assert weighted.n_members_ == 2357


@settings(max_examples=60, deadline=None)
@given(
    x=st.integers(0, 2000),
    recency_share=st.floats(0, 1),
    T=st.floats(0.01, 500),
    horizon=st.floats(0, 1000),
)
def test_probabilities_in_unit_interval(fitted, x, recency_share, T, horizon):
    model = fitted["bgnbd"]
    row = pd.DataFrame({"frequency": [x], "recency": [recency_share * T if x else 0.0], "T": [T]})
    alive = model.probability_alive(row).iloc[0]
    expected = model.expected_purchases(row, horizon=horizon).iloc[0]
    assert 0.0 <= alive <= 1.0
    assert np.isfinite(expected) and expected >= -1e-9


@pytest.mark.parametrize("modified", [False, True])
def test_simulate_then_recover(modified):
    rng = np.random.default_rng(2005)
    T = rng.integers(30, 80, 40_000) * 1.0
    summary = simulate_beta_geo(40_000, **TRUTH, T=T, rng=rng, modified=modified)
    model = (ModifiedBetaGeoModel if modified else BetaGeoModel)().fit(summary)
    for name, value in TRUTH.items():
        # within 4 standard errors of the simulator's truth
        assert abs(model.params_[name] - value) < 4 * model.standard_errors_[name], name


def test_stress_frequency_over_500_without_warnings():
    rng = np.random.default_rng(500)
    heavy = simulate_beta_geo(3_000, r=8.0, alpha=0.5, a=0.3, b=20.0, T=40.0, rng=rng)
    assert heavy["frequency"].max() > 500
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = BetaGeoModel().fit(heavy)
        expected = model.expected_purchases(heavy, horizon=52)
        alive = model.probability_alive(heavy)
    assert np.isfinite(model.log_likelihood_)
    assert np.all(np.isfinite(model.standard_errors_.to_numpy()))
    assert np.all(np.isfinite(expected)) and alive.between(0, 1).all()


@pytest.mark.slow
def test_one_million_members_converge_without_penalizer():
    rng = np.random.default_rng(1_000_000)
    T = (547 - rng.integers(0, 365, 1_000_000)) / 7
    summary = simulate_beta_geo(1_000_000, **TRUTH, T=T, rng=rng, resolution=1 / 7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = BetaGeoModel().fit(summary)
    assert np.all(np.isfinite(model.standard_errors_.to_numpy()))
    for name, value in TRUTH.items():
        assert abs(model.params_[name] - value) < 5 * model.standard_errors_[name], name


def test_segment_fits_match_separate_fits(cdnow_summary):
    summary = cdnow_summary.assign(segment=np.where(cdnow_summary["T"] > 32, "early", "late"))
    by = BetaGeoModel().fit(summary, by="segment")
    early = BetaGeoModel().fit(summary[summary["segment"] == "early"])
    assert by.params_.loc["early"].to_numpy() == pytest.approx(early.params_.to_numpy(), rel=1e-7)
    assert by.n_members_.sum() == 2357
    part = summary[summary["segment"] == "early"]
    assert by.expected_purchases(part, horizon=10).to_numpy() == pytest.approx(
        early.expected_purchases(part, horizon=10).to_numpy(), rel=1e-9
    )
    assert set(by.expected_purchases_new_member(52).index) == {"early", "late"}


def test_next_purchase_dates(fitted, cdnow_summary):
    table = fitted["bgnbd"].next_purchase(cdnow_summary, as_of="1997-09-30", time_unit="W")
    one = table.loc["1516"]
    # x = 26, t_x = 30.86, T = 31: the observed gap is t_x / x
    assert one["observed_time_between_orders"] == pytest.approx(30.857143 / 26, rel=1e-5)
    r, alpha = fitted["bgnbd"].params_[["r", "alpha"]]
    assert one["time_between_orders"] == pytest.approx((alpha + 31.0) / (r + 26), rel=1e-5)
    assert (table["next_purchase_date"] >= pd.Timestamp("1997-09-30")).all()
    assert table["time_to_next_purchase"].gt(0).all()
