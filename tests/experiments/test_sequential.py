"""mSPRT under daily peeking: valid where the naive fixed-horizon test is not."""

from __future__ import annotations

import numpy as np
import pytest

from memberlens.experiments.sequential import (
    always_valid_p_values,
    confidence_sequence,
    sequential_proportion_test,
)
from memberlens.experiments.statistics import Proportion

ALPHA = 0.05


def _daily_looks(
    seed: int, pc: float, pt: float, sims: int = 2000, days: int = 21, daily: int = 300
):
    rng = np.random.default_rng(seed)
    sc = rng.binomial(daily, pc, (sims, days)).cumsum(axis=1)
    st = rng.binomial(daily, pt, (sims, days)).cumsum(axis=1)
    n = daily * np.arange(1, days + 1)
    return sc, st, n


def test_false_positive_rate_stays_below_alpha_when_peeking_daily():
    sc, st, n = _daily_looks(12, 0.1, 0.1)
    pc, pt = sc / n, st / n
    var = pc * (1 - pc) / n + pt * (1 - pt) / n
    # naive: a pooled two-proportion z-test read every day, stopping at the first p < 0.05
    pool = (sc + st) / (2 * n)
    z = (pt - pc) / np.sqrt(pool * (1 - pool) * 2 / n)
    naive_fpr = (np.abs(z) > 1.959963984540054).any(axis=1).mean()
    msprt_fpr = (always_valid_p_values(pt - pc, var, tau=0.02) < ALPHA).any(axis=1).mean()
    low, high = confidence_sequence(pt - pc, var, tau=0.02, alpha=ALPHA)
    cs_fpr = ((low > 0) | (high < 0)).any(axis=1).mean()
    assert naive_fpr > 0.12  # 21 looks inflate 5 % to about 20 %
    assert msprt_fpr < ALPHA and cs_fpr < ALPHA


def test_a_real_effect_is_still_found():
    sc, st, n = _daily_looks(13, 0.10, 0.13, sims=500)
    pc, pt = sc / n, st / n
    var = pc * (1 - pc) / n + pt * (1 - pt) / n
    power = (always_valid_p_values(pt - pc, var, tau=0.02)[:, -1] < ALPHA).mean()
    assert power > 0.8


def test_sequential_proportion_test_reports_the_first_significant_look():
    sc, st, n = _daily_looks(14, 0.10, 0.14, sims=1)
    control = [Proportion(int(m), int(s)) for m, s in zip(n, sc[0])]
    treatment = [Proportion(int(m), int(s)) for m, s in zip(n, st[0])]
    r = sequential_proportion_test(control, treatment, tau=0.02)
    p = always_valid_p_values(
        [t.mean - c.mean for c, t in zip(control, treatment)],
        [c.variance / c.n + t.variance / t.n for c, t in zip(control, treatment)],
        tau=0.02,
    )
    assert r.significant and r.first_significant_look == int(np.argmax(p < ALPHA)) + 1
    assert r.ci_low > 0
    with pytest.raises(ValueError, match="same, non-zero number of looks"):
        sequential_proportion_test(control, treatment[:-1], tau=0.02)
