"""Qini and uplift curves, their normalised areas and the deciles.

References: the Qini curve Q(n) = r_t - r_c n_t / n_c of Radcliffe (2007), "Using control
groups to target on predicted lift", sec. 5; the uplift curve U(n) = (r_t/n_t - r_c/n_c) n of
Gutierrez & Gerardy (2017), "Causal inference and uplift modelling: a review of the literature",
sec. 4.1. The small example below is worked by hand from those definitions; scikit-uplift 0.5.1
(``sklift.metrics``, a test-only reference) gives the same numbers on random data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from memberlens.exceptions import DataError
from memberlens.experiments.uplift_curves import (
    auuc_score,
    evaluate_uplift,
    qini_area,
    qini_coefficient,
    qini_curve,
    uplift_by_decile,
    uplift_curve,
)

# eight members, already in the order of their scores
SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
TREAT = np.array([1, 1, 0, 1, 0, 0, 1, 0])
BUY = np.array([1, 0, 0, 1, 1, 0, 0, 1])


def test_qini_curve_worked_by_hand():
    # n:    1  2  3  4  5          6  7          8
    # n_t:  1  2  2  3  3          3  4          4
    # r_t:  1  1  1  2  2          2  2          2
    # r_c:  0  0  0  0  1          1  1          2
    # Q:    1  1  1  2  2-1*3/2    2-1*3/3  2-1*4/3  2-2*4/4
    x, q = qini_curve(BUY, SCORE, TREAT)
    assert x.tolist() == list(range(9))
    assert q == pytest.approx([0, 1, 1, 1, 2, 0.5, 1, 2 / 3, 0])
    # trapezoids: .5 + 1 + 1 + 1.5 + 1.25 + .75 + 5/6 + 1/3 = 43/6; random line ends at 0
    assert qini_area(BUY, SCORE, TREAT) == pytest.approx(43 / 6)
    # perfect order (score y*T - y*(1-T)): Q = 0, 2 at n=2, 2 at n=6, 0 at n=8: area 12
    assert qini_coefficient(BUY, SCORE, TREAT) == pytest.approx(43 / 72)


def test_uplift_curve_worked_by_hand():
    # U(n) = (r_t/n_t - r_c/n_c) * n, with 0/0 = 0
    x, u = uplift_curve(BUY, SCORE, TREAT)
    assert u == pytest.approx([0, 1, 1, 1.5, 8 / 3, 5 / 6, 2, 7 / 6, 0])
    # area 61/6; perfect order (treated responders, control non-responders, treated
    # non-responders, control responders): U = 0, 2, 4, 3, 0 at n = 0, 2, 4, 6, 8: area 18
    assert auuc_score(BUY, SCORE, TREAT) == pytest.approx(61 / 108)


def test_ties_form_one_point():
    x, q = qini_curve([1, 0, 1, 0], [0.5, 0.5, 0.1, 0.1], [1, 0, 1, 0])
    assert x.tolist() == [0, 2, 4]
    assert q == pytest.approx([0, 1, 2])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_scikit_uplift(seed):
    sklift = pytest.importorskip("sklift.metrics")  # requirements.lock pins scikit-uplift 0.5.1
    rng = np.random.default_rng(seed)
    n = 400
    treat = rng.integers(0, 2, n)
    score = rng.normal(size=n).round(1)  # with ties
    buy = (rng.random(n) < 0.2 + 0.1 * treat * (score > 0)).astype(int)
    with warnings.catch_warnings():
        # the reference's own deprecations (sklearn's stable_cumsum, pandas' inplace=)
        warnings.simplefilter("ignore")
        ref_q = sklift.qini_auc_score(buy, score, treat)
        ref_u = sklift.uplift_auc_score(buy, score, treat)
        ref_qc = sklift.qini_curve(buy, score, treat)
        ref_uc = sklift.uplift_curve(buy, score, treat)
        distinct = score + rng.normal(scale=1e-6, size=n)
        ref_dec = sklift.uplift_by_percentile(buy, distinct, treat, strategy="overall", bins=10)
    assert qini_coefficient(buy, score, treat) == pytest.approx(ref_q, abs=1e-12)
    assert auuc_score(buy, score, treat) == pytest.approx(ref_u, abs=1e-12)
    assert qini_curve(buy, score, treat)[1] == pytest.approx(ref_qc[1], abs=1e-9)
    assert uplift_curve(buy, score, treat)[1] == pytest.approx(ref_uc[1], abs=1e-9)
    deciles = uplift_by_decile(buy, distinct, treat)
    assert [d.n_treatment for d in deciles] == ref_dec["n_treatment"].tolist()
    assert [d.observed_uplift for d in deciles] == pytest.approx(ref_dec["uplift"].tolist())


def test_random_scores_are_near_zero_and_perfect_is_one():
    rng = np.random.default_rng(5)
    n = 20_000
    treat = rng.integers(0, 2, n)
    responsive = rng.random(n) < 0.3
    buy = (rng.random(n) < 0.1 + 0.2 * treat * responsive).astype(int)
    assert abs(qini_coefficient(buy, rng.random(n), treat)) < 0.05
    assert qini_coefficient(buy, buy * treat - buy * (1 - treat), treat) == pytest.approx(1.0)
    # the true ordering (responsive first) is far from random but below the perfect ordering,
    # which also knows each member's realised outcome
    assert qini_coefficient(buy, responsive + rng.random(n) * 0.1, treat) > 0.1


def test_evaluation_has_curves_and_deciles():
    e = evaluate_uplift(BUY, SCORE, TREAT, method="t_learner", points=5)
    assert e.n == 8 and e.n_treatment == 4
    assert len(e.qini_x) <= 5 and e.qini_x[0] == 0 and e.qini_x[-1] == 8
    assert len(e.deciles) == 8
    assert e.to_dict()["deciles"][0]["decile"] == 1


def test_bad_input_is_named():
    with pytest.raises(DataError, match="treatment must be 0 or 1"):
        qini_curve([1, 0], [0.1, 0.2], [1, 2])
    with pytest.raises(DataError, match="only one group"):
        qini_curve([1, 0], [0.1, 0.2], [1, 1])
    with pytest.raises(DataError, match="one value per member"):
        qini_curve([1, 0, 1], [0.1, 0.2], [1, 0])
