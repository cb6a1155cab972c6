"""Sample-ratio mismatch: equal to scipy's chi-square, loud on a skewed split, quiet on a fair one."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import chisquare

from memberlens.experiments.srm import SampleRatioMismatchWarning, sample_ratio_mismatch


def test_chi_square_equals_scipy():
    counts, shares = [4840, 5160, 1010], [0.45, 0.45, 0.1]
    with pytest.warns(SampleRatioMismatchWarning):  # p = 8.7e-05: a mismatch
        r = sample_ratio_mismatch(counts, shares)
    ref = chisquare(counts, f_exp=np.array(shares) * sum(counts))  # scipy.stats.chisquare
    assert r.chi2 == pytest.approx(ref.statistic, rel=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_a_skewed_split_warns_loudly():
    with pytest.warns(SampleRatioMismatchWarning, match="SAMPLE RATIO MISMATCH"):
        r = sample_ratio_mismatch([10_000, 10_600], [0.5, 0.5])
    assert r.mismatch


def test_fair_splits_rarely_raise_the_alarm():
    rng = np.random.default_rng(5)
    threshold = 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleRatioMismatchWarning)
        alarms = [
            sample_ratio_mismatch([a, 20_000 - a], [0.5, 0.5], threshold=threshold).mismatch
            for a in rng.binomial(20_000, 0.5, 2000)
        ]
    # false-alarm rate of a fair split ~ threshold: binomial(2000, 0.01) stays below 2.5 %
    assert np.mean(alarms) < 0.025
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fair split must not warn
        assert not sample_ratio_mismatch([10_020, 9_980], [0.5, 0.5]).mismatch


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="same length"):
        sample_ratio_mismatch([1, 2, 3], [0.5, 0.5])
