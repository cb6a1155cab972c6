"""BG/BB on the donations data against Fader, Hardie & Shang (2010) and R BTYD."""

from __future__ import annotations

import numpy as np
import pytest

from memberlens.clv import BetaGeoBetaBinomModel
from memberlens.datasets import load_donations


@pytest.fixture(scope="module")
def donations_model():
    return BetaGeoBetaBinomModel().fit(load_donations())


def test_donations_parameters_match_fader_hardie_shang_2010(donations_model, reference):
    for name, value in reference["bgbb_paper"].items():
        got = (
            donations_model.log_likelihood_
            if name == "log_likelihood"
            else donations_model.params_[name]
        )
        assert round(got, 1 if name == "log_likelihood" else 3) == pytest.approx(value)
    for name, value in reference["bgbb_btyd"].items():
        if name != "log_likelihood":
            assert donations_model.params_[name] == pytest.approx(value, rel=3e-4)
    assert donations_model.n_members_ == 11_104


def test_pmf_and_expectation_agree(donations_model):
    pmf = np.array([donations_model.probability_of_purchases(n, horizon=6) for n in range(7)])
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert (np.arange(7) * pmf).sum() == pytest.approx(
        donations_model.expected_purchases_new_member(6), rel=1e-10
    )


def test_member_predictions_are_sane(donations_model):
    data = load_donations()
    alive = donations_model.probability_alive(data)
    expected = donations_model.expected_purchases(data, horizon=5)
    assert alive.between(0, 1).all()
    assert (expected >= 0).all()
    # donors who gave in every one of the 6 years are more likely active than one-year donors
    best = data.index[(data["frequency"] == 6)][0]
    lapsed = data.index[(data["frequency"] == 1) & (data["recency"] == 1)][0]
    assert alive[best] > alive[lapsed]
    assert expected[best] > expected[lapsed]
