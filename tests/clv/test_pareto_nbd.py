"""Pareto/NBD against Fader, Hardie & Lee (2005) and R BTYD, plus recovery and stress."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from memberlens.clv import ParetoNBDModel
from memberlens.clv._likelihoods import pareto_log_tail
from memberlens.clv.simulation import simulate_pareto_nbd

TRUTH = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


def test_cdnow_parameters_match_fader_hardie_lee_2005(fitted, reference):
    model = fitted["pnbd"]
    for name, value in reference["pnbd_paper"].items():
        if name == "log_likelihood":
            assert round(model.log_likelihood_, 1) == pytest.approx(value)
        elif name != "beta":  # the LL is flat in beta: 11.65..11.67 all give -9594.976
            assert round(model.params_[name], 3) == pytest.approx(value)
    assert model.params_["beta"] == pytest.approx(reference["pnbd_paper"]["beta"], abs=0.02)


def test_cdnow_parameters_match_verified(fitted, reference):
    ref = reference["pnbd_verified"]
    for name in ("r", "alpha", "s"):
        assert fitted["pnbd"].params_[name] == pytest.approx(ref[name], rel=1e-4)
    assert fitted["pnbd"].log_likelihood_ == pytest.approx(ref["log_likelihood"], abs=1e-3)
    assert np.all(np.isfinite(fitted["pnbd"].standard_errors_))


def test_btyd_new_member_expectation(fitted, reference):
    assert fitted["pnbd"].expected_purchases_new_member(52) == pytest.approx(
        reference["pnbd_btyd"]["new_member_52"], rel=1e-5
    )


@pytest.mark.parametrize("x", [0, 3, 40, 800])
@pytest.mark.parametrize("alpha,beta", [(10.0, 11.0), (10.0, 2.0), (2.0, 10.0)])
def test_hypergeometric_term_equals_its_integral(x, alpha, beta):
    # Fader & Hardie (2005) eq. 22's 2F1 term is (r+s+x) * int_t^inf (a+u)^-(r+x) (b+u)^-(s+1)
    r, s, t = 0.55, 0.6, 4.0

    def integrand(u):  # scaled by (alpha + t)^(r+x) to stay of order one
        return np.exp(-(r + x) * np.log((alpha + u) / (alpha + t)) - (s + 1) * np.log(beta + u))

    integral = quad(integrand, t, np.inf, epsrel=1e-12, limit=400)[0]
    expected = np.log(r + s + x) + np.log(integral) - (r + x) * np.log(alpha + t)
    assert pareto_log_tail(r, s, alpha, beta, x, t) == pytest.approx(expected, rel=1e-8)


def test_pmf_sums_to_one_and_to_the_mean(fitted):
    model = fitted["pnbd"]
    pmf = np.array([model.probability_of_purchases(n, horizon=52) for n in range(300)])
    assert pmf.sum() == pytest.approx(1.0, abs=1e-8)
    assert (np.arange(300) * pmf).sum() == pytest.approx(
        model.expected_purchases_new_member(52), rel=1e-7
    )


def test_simulate_then_recover():
    rng = np.random.default_rng(1987)
    summary = simulate_pareto_nbd(
        40_000, **TRUTH, T=rng.integers(30, 80, 40_000) * 1.0, rng=rng, resolution=1 / 7
    )
    model = ParetoNBDModel().fit(summary)
    for name, value in TRUTH.items():
        assert abs(model.params_[name] - value) < 4 * model.standard_errors_[name], name


def test_stress_frequency_over_500_without_overflow():
    rng = np.random.default_rng(500)
    heavy = simulate_pareto_nbd(2_000, r=8.0, alpha=0.5, s=0.5, beta=40.0, T=40.0, rng=rng)
    assert heavy["frequency"].max() > 500
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = ParetoNBDModel().fit(heavy)
        alive = model.probability_alive(heavy)
        expected = model.expected_purchases(heavy, horizon=10)
    assert np.isfinite(model.log_likelihood_)
    assert np.all(np.isfinite(model.standard_errors_.to_numpy()))
    assert alive.between(0, 1).all() and np.all(np.isfinite(expected))


def test_time_unit_scaling(cdnow_summary, fitted):
    days = cdnow_summary.assign(recency=cdnow_summary["recency"] * 7, T=cdnow_summary["T"] * 7)
    daily = ParetoNBDModel().fit(days)
    weekly = fitted["pnbd"]
    for name in ("r", "s"):
        assert daily.params_[name] == pytest.approx(weekly.params_[name], rel=1e-4)
    assert daily.params_["alpha"] == pytest.approx(7 * weekly.params_["alpha"], rel=1e-4)
    assert daily.probability_alive(days).to_numpy() == pytest.approx(
        weekly.probability_alive(cdnow_summary).to_numpy(), abs=1e-5
    )


def test_alive_is_one_right_after_a_purchase(fitted):
    row = pd.DataFrame({"frequency": [3], "recency": [20.0], "T": [20.0]})
    assert fitted["pnbd"].probability_alive(row).iloc[0] == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(
    x=st.integers(0, 2000),
    recency_share=st.floats(0, 1),
    T=st.floats(0.01, 500),
    horizon=st.floats(0, 1000),
)
def test_probabilities_in_unit_interval(fitted, x, recency_share, T, horizon):
    row = pd.DataFrame({"frequency": [x], "recency": [recency_share * T if x else 0.0], "T": [T]})
    alive = fitted["pnbd"].probability_alive(row).iloc[0]
    expected = fitted["pnbd"].expected_purchases(row, horizon=horizon).iloc[0]
    assert 0.0 <= alive <= 1.0
    assert np.isfinite(expected) and expected >= 0.0


@pytest.mark.slow
def test_one_million_members_converge_without_penalizer():
    rng = np.random.default_rng(1_000_001)
    T = (547 - rng.integers(0, 365, 1_000_000)) / 7
    summary = simulate_pareto_nbd(1_000_000, **TRUTH, T=T, rng=rng, resolution=1 / 7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = ParetoNBDModel().fit(summary)
    assert np.all(np.isfinite(model.standard_errors_.to_numpy()))
    for name, value in TRUTH.items():
        assert abs(model.params_[name] - value) < 5 * model.standard_errors_[name], name
