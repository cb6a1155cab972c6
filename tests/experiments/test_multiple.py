"""Holm and Benjamini-Hochberg adjusted p-values equal statsmodels' multipletests."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from memberlens.experiments.multiple import benjamini_hochberg, holm

P = np.array([0.001, 0.2, 0.03, 0.04, 0.0125, 0.5, 0.03, 0.9])


@pytest.mark.parametrize(("fn", "method"), [(holm, "holm"), (benjamini_hochberg, "fdr_bh")])
def test_adjusted_p_values_equal_statsmodels(fn, method):
    expected = multipletests(P, method=method)[1]  # statsmodels.stats.multitest.multipletests
    np.testing.assert_allclose(fn(P), expected, rtol=1e-12)
    rng = np.random.default_rng(6)
    p = rng.random(50) ** 3
    np.testing.assert_allclose(fn(p), multipletests(p, method=method)[1], rtol=1e-12)


def test_out_of_range_p_values_are_refused():
    with pytest.raises(ValueError, match=r"p-values must be in \[0, 1\]"):
        holm([0.1, 1.2])
