"""MBG/CNBD-k (Platzer & Reutterer 2016; BTYDplus ``mbgcnbd.*``).

References: at k = 1 the model is MBG/NBD (Batislam, Denizel & Filiztekin 2007), so its
likelihood, P(alive) and conditional expectations must equal memberlens' MBG/NBD (itself pinned
to the published CDNOW figures) exactly; for k > 1, simulate-then-recover with known parameters
from the model's generative process (Platzer & Reutterer 2016, sec. 3); and the per-member
likelihood of one member worked by hand from BTYDplus ``xbgcnbd.LL``.
"""

from __future__ import annotations

import functools
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
    with pytest.raises(ConfigError, match="one model for all"):
        ModifiedBetaGeoCNBDModel(k=2).fit(
            summary.assign(seg=0), by="seg"
        ).expected_purchases_cohort(summary.assign(seg=0), horizon=4)


# -- BTYDplus' published formulas for k > 1 (Reutterer, Platzer & Schroeder 2021, "Leveraging
# purchase regularity for predicting customer behavior the easy way", IJRM 38(1); R package
# BTYDplus, github mplatzer/BTYDplus @ d5eda8f, R/mbg-cnbd-k.R and src/slice-sampling.cpp).
# The functions below transcribe the R code line by line in plain Python (loops, math.lgamma),
# independently of memberlens' vectorised log-space code. The transcription is itself pinned to
# the figures BTYDplus' C++ unit checks print (src/slice-sampling.cpp, "params <- c(3, 0.5, 2,
# 0.3, 0.6)": xbgcnbd_ll_cpp = -10.42500, -12.22396 for BG/CNBD-3; xbgcnbd_pmf_cpp(params, 10, 2)
# = 0.05669 (BG) and 0.04548 (MBG)).

BTYDPLUS_PARAMS = (3, 0.5, 2.0, 0.3, 0.6)  # k, r, alpha, a, b


def r_xbgcnbd_ll(params, x, t_x, T, litt, dropout_at_zero=True):
    """BTYDplus xbgcnbd.LL, one member."""
    k, r, alpha, a, b = params
    d = 1 if dropout_at_zero else 0
    lbeta = lambda u, v: math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v)  # noqa: E731
    p1 = (k - 1) * litt - x * math.log(math.factorial(k - 1))
    p2 = lbeta(a, b + x + d) - lbeta(a, b)
    p3 = math.lgamma(r + k * x) - math.lgamma(r) + r * math.log(alpha)
    p4 = -1 * (r + k * x) * math.log(alpha + T)
    s1 = (1 if (dropout_at_zero or x > 0) else 0) * a / (b + x - 1 + d)
    s1 *= ((alpha + T) / (alpha + t_x)) ** (r + k * x)
    return p1 + p2 + p3 + p4 + math.log(s1 + r_s2(k, r, alpha, x, t_x, T))


def r_s2(k, r, alpha, x, t_x, T):
    """S2 of xbgcnbd.LL, the same sum as P2 of xbgcnbd.PAlive."""
    s2 = 1.0
    for j in range(1, k):
        s2a = 1.0
        for i in range(j):
            s2a *= r + k * x + i
        s2 += (s2a * (T - t_x) ** j) / (math.factorial(j) * (alpha + T) ** j)
    return s2


def r_xbgcnbd_palive(params, x, t_x, T):
    """BTYDplus xbgcnbd.PAlive, dropout_at_zero = TRUE, one member."""
    k, r, alpha, a, b = params
    p1 = (a / (b + x)) * ((alpha + T) / (alpha + t_x)) ** (r + k * x)
    return 1 / (1 + p1 / r_s2(k, r, alpha, x, t_x, T))


def r_xbgcnbd_pmf(params, t, x, dropout_at_zero=True):
    """BTYDplus xbgcnbd_pmf_cpp."""
    k, r, alpha, a, b = params
    survivals = x - 1 + (1 if dropout_at_zero else 0)
    p1 = math.exp(
        math.lgamma(b + survivals + 1)
        + math.lgamma(a + b)
        - math.lgamma(b)
        - math.lgamma(a + b + survivals + 1)
    )

    def nbd(i):
        return math.exp(
            math.lgamma(r + i)
            + r * math.log(alpha)
            + i * math.log(t)
            - math.lgamma(i + 1)
            - math.lgamma(r)
            - (r + i) * math.log(alpha + t)
        )

    p2a = sum(nbd(i) for i in range(k * x, k * x + k))
    if not dropout_at_zero and x == 0:
        p2b = 0.0
    else:
        p2b = a / (b + survivals)
        if x > 0:
            p2b *= 1 - sum(nbd(i) for i in range(k * x))
    return p1 * (p2a + p2b)


@functools.cache
def r_xbgcnbd_expectation(params, t):
    """BTYDplus xbgcnbd_exp_cpp, dropout_at_zero = TRUE (the sum stops once a term is < 1e-8)."""
    total, i = 0.0, 1
    while True:
        add = i * r_xbgcnbd_pmf(params, t, i)
        total += add
        if add < 1e-8 and i >= 100:
            return total
        i += 1


def r_mbgcnbd_cond_exp(params, t_star, x, t_x, T):
    """BTYDplus xbgcnbd.ConditionalExpectedTransactions, dropout_at_zero = TRUE, for fewer than
    100 members (no cohort correction): the BG/NBD G with r + x, k alpha + T, b + x."""
    from scipy.special import hyp2f1

    k, r, alpha, a, b = params
    z_alpha = k * alpha + T
    g = 1 - (z_alpha / (z_alpha + t_star)) ** (r + x) * hyp2f1(
        r + x, b + x + 1, a + b + x, t_star / (z_alpha + t_star)
    )
    return (a + b + x) / (a - 1) * g * r_xbgcnbd_palive(params, x, t_x, T)


SMALL_CBS = [  # x, t_x, T, litt: a small cbs with regular buyers, one-timers and a dormant one
    (0, 0.0, 30.0, 0.0),
    (0, 0.0, 4.5, 0.0),
    (1, 6.0, 30.0, math.log(6.0)),
    (3, 12.0, 14.0, 3.0),
    (4, 12.0, 14.0, 3.0),
    (5, 25.0, 26.0, math.log(5) * 5),
    (8, 20.0, 52.0, math.log(2.5) * 8),
    (12, 48.0, 50.0, math.log(4) * 12),
    (2, 3.0, 40.0, math.log(1.5) * 2),
]


def _cbs_frame() -> pd.DataFrame:
    rows = pd.DataFrame(SMALL_CBS, columns=["frequency", "recency", "T", "litt"])
    return rows.assign(member_id=[f"m{i}" for i in range(len(rows))])


def test_transcription_reproduces_btydplus_published_checks():
    # src/slice-sampling.cpp: round(xbgcnbd_ll_cpp(params, c(3,4), c(12,12), c(14,14),
    # c(3,3)), 5) == c(-10.42500, -12.22396) (BG/CNBD-k, the C++ default dropout_at_zero = FALSE)
    lls = [r_xbgcnbd_ll(BTYDPLUS_PARAMS, x, 12.0, 14.0, 3.0, False) for x in (3, 4)]
    assert [round(v, 5) for v in lls] == [-10.42500, -12.22396]
    assert round(r_xbgcnbd_pmf(BTYDPLUS_PARAMS, 10.0, 2, False), 5) == 0.05669
    assert round(r_xbgcnbd_pmf(BTYDPLUS_PARAMS, 10.0, 2, True), 5) == 0.04548


@pytest.mark.parametrize("k", [2, 3, 4, 7])
def test_likelihood_equals_btydplus_mbgcnbd_ll_for_k_above_1(k):
    # BTYDplus mbgcnbd.LL (per member) and mbgcnbd.cbs.LL (their sum), to 1e-6
    params = (k, 0.85, 1.45, 0.79, 2.42)  # the parameters of BTYDplus' tests/test-mbg-cnbd-k.R
    cbs = np.array(SMALL_CBS)
    ours = mbgcnbd_log_likelihood(params[1:], k, *cbs.T)
    reference = [r_xbgcnbd_ll(params, *row) for row in SMALL_CBS]
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)
    assert ours.sum() == pytest.approx(sum(reference), abs=1e-6)
    # and through a fitted model's log_likelihood_ (the cbs LL at its own estimates)
    model = ModifiedBetaGeoCNBDModel(k=k).fit(_cbs_frame())
    at_fit = (int(model.params_["k"]), *model.params_.drop("k"))
    assert model.log_likelihood_ == pytest.approx(
        sum(r_xbgcnbd_ll(at_fit, *row) for row in SMALL_CBS), abs=1e-6
    )


@pytest.mark.parametrize("k", [2, 3, 5])
def test_palive_and_conditional_expectation_equal_btydplus(k):
    params = (k, 0.85, 1.45, 0.79, 2.42)
    model = ModifiedBetaGeoCNBDModel(k=k)
    model.params_ = pd.Series(dict(zip(("k", "r", "alpha", "a", "b"), params, strict=True)))
    model.by_ = None
    cbs = _cbs_frame()
    np.testing.assert_allclose(
        model.probability_alive(cbs),
        [r_xbgcnbd_palive(params, x, t_x, T) for x, t_x, T, _ in SMALL_CBS],
        rtol=1e-9,
    )
    # mbgcnbd.ConditionalExpectedTransactions on fewer than 100 members (no cohort correction)
    np.testing.assert_allclose(
        model.expected_purchases(cbs, horizon=32),
        [r_mbgcnbd_cond_exp(params, 32.0, x, t_x, T) for x, t_x, T, _ in SMALL_CBS],
        rtol=1e-9,
    )


def test_pmf_and_new_member_expectation_equal_btydplus():
    model = ModifiedBetaGeoCNBDModel(k=3)
    model.params_ = pd.Series(
        dict(zip(("k", "r", "alpha", "a", "b"), BTYDPLUS_PARAMS, strict=True))
    )
    model.by_ = None
    # mbgcnbd.pmf(params, 10, 2) = 0.04548 (printed by BTYDplus' C++ check), and the whole row
    assert round(model.probability_of_purchases(2, horizon=10), 5) == 0.04548
    for n in range(8):
        assert model.probability_of_purchases(n, horizon=10) == pytest.approx(
            r_xbgcnbd_pmf(BTYDPLUS_PARAMS, 10.0, n), rel=1e-9
        )
    assert sum(model.probability_of_purchases(n, horizon=10) for n in range(400)) == (
        pytest.approx(1.0, abs=1e-9)
    )
    # mbgcnbd.Expectation: exact, not the k * alpha approximation
    for t in (10.0, 52.0):
        assert model.expected_purchases_new_member(t) == pytest.approx(
            r_xbgcnbd_expectation(BTYDPLUS_PARAMS, t), rel=1e-7
        )


def test_cohort_expectation_is_btydplus_bias_corrected_total():
    # BTYDplus corrects a cohort of >= 100 members: exp * (sum E[X(T + T*)] - sum E[X(T)]) /
    # sum(exp); simulate 300 regular members and check the rescaled total and the ranking
    params = (3, 0.85, 1.45, 0.79, 2.42)
    summary = simulate_beta_geo_cnbd(
        300, k=3, r=0.85, alpha=1.45, a=0.79, b=2.42, T=36.0, rng=np.random.default_rng(7)
    )
    model = ModifiedBetaGeoCNBDModel(k=3)
    model.params_ = pd.Series(dict(zip(("k", "r", "alpha", "a", "b"), params, strict=True)))
    model.by_ = None
    member = model.expected_purchases(summary, horizon=32)
    cohort = model.expected_purchases_cohort(summary, horizon=32)
    total = sum(
        r_xbgcnbd_expectation(params, T + 32.0) - r_xbgcnbd_expectation(params, T)
        for T in summary["T"]
    )
    assert cohort.sum() == pytest.approx(total, rel=1e-6)
    np.testing.assert_allclose(cohort / member, cohort.sum() / member.sum(), rtol=1e-12)
