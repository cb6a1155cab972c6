"""MBG/CNBD-k (Platzer & Reutterer 2016; BTYDplus ``mbgcnbd.*``).

References: at k = 1 the model is MBG/NBD (Batislam, Denizel & Filiztekin 2007), so its
likelihood, P(alive) and conditional expectations must equal memberlens' MBG/NBD (itself pinned
to the published CDNOW figures) exactly; for k > 1, simulate-then-recover with known parameters
from the model's generative process (Platzer & Reutterer 2016, sec. 3); and the per-member
likelihood of one member worked by hand from BTYDplus ``xbgcnbd.LL``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from memberlens.clv import ModifiedBetaGeoModel
from memberlens.clv.beta_geo_cnbd import ModifiedBetaGeoCNBDModel, mbgcnbd_log_likelihood
from memberlens.clv.simulation import simulate_beta_geo_cnbd
from memberlens.exceptions import ConfigError, DataError


def test_k1_is_mbgnbd_exactly_on_cdnow(cdnow_litt):
    mbg = ModifiedBetaGeoModel().fit(cdnow_litt)
    cnbd = ModifiedBetaGeoCNBDModel(k=1).fit(cdnow_litt)
    assert cnbd.log_likelihood_ == pytest.approx(mbg.log_likelihood_, abs=1e-6)
    np.testing.assert_allclose(cnbd.params_.drop("k"), mbg.params_, rtol=1e-5)
    # with the same parameters every prediction is MBG/NBD's to rounding
    cnbd.params_ = pd.concat([pd.Series({"k": 1.0}), mbg.params_])
    np.testing.assert_allclose(
        cnbd.probability_alive(cdnow_litt), mbg.probability_alive(cdnow_litt), rtol=1e-12
    )
    np.testing.assert_allclose(
        cnbd.expected_purchases(cdnow_litt, horizon=39),
        mbg.expected_purchases(cdnow_litt, horizon=39),
        rtol=1e-12,
    )
    assert cnbd.expected_purchases_new_member(20) == pytest.approx(
        mbg.expected_purchases_new_member(20), rel=1e-12
    )


def test_likelihood_of_one_member_by_hand():
    # BTYDplus xbgcnbd.LL, dropout_at_zero = TRUE, k = 2, (r, alpha, a, b) = (0.8, 4, 1.2, 3),
    # x = 3, t.x = 20, T.cal = 30, litt = log(5) + log(7) + log(8)
    k, r, alpha, a, b, x, t_x, T = 2, 0.8, 4.0, 1.2, 3.0, 3, 20.0, 30.0
    litt = math.log(5) + math.log(7) + math.log(8)
    p1 = (k - 1) * litt - x * math.log(math.factorial(k - 1))
    p2 = math.lgamma(a) + math.lgamma(b + x + 1) - math.lgamma(a + b + x + 1)
    p2 -= math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    p3 = math.lgamma(r + k * x) - math.lgamma(r) + r * math.log(alpha)
    p4 = -(r + k * x) * math.log(alpha + T)
    s1 = a / (b + x) * ((alpha + T) / (alpha + t_x)) ** (r + k * x)
    s2 = 1 + (r + k * x) * (T - t_x) / (alpha + T)
    expected = p1 + p2 + p3 + p4 + math.log(s1 + s2)
    got = mbgcnbd_log_likelihood(
        (r, alpha, a, b), k, np.array([x]), np.array([t_x]), np.array([T]), np.array([litt])
    )
    assert got[0] == pytest.approx(expected, rel=1e-12)


def test_simulate_then_recover_a_regular_shop():
    truth = {"k": 3, "r": 4.0, "alpha": 12.0, "a": 1.0, "b": 8.0}
    summary = simulate_beta_geo_cnbd(6000, **truth, T=52.0, rng=np.random.default_rng(20261207))
    model = ModifiedBetaGeoCNBDModel().fit(summary)
    assert model.params_["k"] == 3
    for name in ("r", "alpha", "a", "b"):
        assert abs(model.params_[name] - truth[name]) < 3 * model.standard_errors_[name], name
    # regular buyers: MBG/CNBD-3 fits far better than MBG/NBD on the same members
    assert model.log_likelihood_ > ModifiedBetaGeoModel().fit(summary).log_likelihood_ + 100


def test_contract(cdnow_litt, tmp_path):
    before = cdnow_litt.copy(deep=True)
    model = ModifiedBetaGeoCNBDModel(k=2)
    with pytest.raises(NotFittedError):
        model.probability_alive(cdnow_litt)
    assert model.fit(cdnow_litt) is model
    pd.testing.assert_frame_equal(cdnow_litt, before)
    assert clone(model).get_params() == model.get_params()
    loaded = ModifiedBetaGeoCNBDModel.load(model.save(tmp_path / "m.json"))
    pd.testing.assert_series_equal(loaded.params_, model.params_)
    np.testing.assert_array_equal(
        loaded.expected_purchases(cdnow_litt, horizon=4),
        model.expected_purchases(cdnow_litt, horizon=4),
    )
    alive = model.probability_alive(cdnow_litt)
    assert ((alive >= 0) & (alive <= 1)).all()


def test_bad_settings_and_inputs():
    summary = simulate_beta_geo_cnbd(
        300, k=2, r=1.0, alpha=5.0, a=1.0, b=4.0, T=30.0, rng=np.random.default_rng(3)
    )
    with pytest.raises(ConfigError, match="k must be a whole number"):
        ModifiedBetaGeoCNBDModel(k=0).fit(summary)
    with pytest.raises(DataError, match="litt"):
        ModifiedBetaGeoCNBDModel().fit(summary.drop(columns="litt"))
    with pytest.raises(ConfigError, match="no closed form"):
        ModifiedBetaGeoCNBDModel(k=2).fit(summary).probability_of_purchases(1, horizon=4)
