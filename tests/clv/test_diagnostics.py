"""Degenerate purchase-model fits are detected (issue 14: P(alive) >= 0.72 for everyone while
hundreds of members were dormant). Reference fit: BG/NBD on CDNOW (Fader, Hardie & Lee 2005:
r 0.243, alpha 4.414, a 0.793, b 2.426), which is healthy."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberlens.clv import BetaGeoModel, ParetoNBDModel
from memberlens.clv.diagnostics import fit_health


def test_the_published_cdnow_fits_are_healthy(fitted, cdnow_summary):
    for key in ("bgnbd", "pnbd"):
        health = fit_health(fitted[key], cdnow_summary)
        assert not health.degenerate, health.message
        assert 0.005 < health.mean_dropout < 0.995
        assert health.dormant_members > 100  # CDNOW has many silent repeat buyers


def test_a_fit_that_never_lets_anyone_leave_is_degenerate(fitted, cdnow_summary):
    model = BetaGeoModel().fit(cdnow_summary)
    # what a flat likelihood converges to on some exports: drop-out after a purchase ~ 0
    model.params_ = pd.Series({"r": 0.243, "alpha": 4.414, "a": 1e-4, "b": 50.0})
    health = fit_health(model, cdnow_summary)
    assert health.degenerate
    assert any("drop-out probability" in r for r in health.reasons)
    assert any("P(alive) stays" in r for r in health.reasons)
    assert health.dormant_median_p_alive > 0.99
    assert "degenerate" in health.message and health.to_dict()["degenerate"]


def test_parameters_at_the_optimisers_edge_and_flat_likelihood(cdnow_summary):
    model = ParetoNBDModel().fit(cdnow_summary)
    model.params_ = model.params_.copy()
    model.params_["s"] = 5e10
    model.standard_errors_ = model.standard_errors_.copy()
    model.standard_errors_["beta"] = np.nan
    reasons = " ".join(fit_health(model, cdnow_summary).reasons)
    assert "at a bound (s = 5e+10)" in reasons
    assert "flat likelihood" in reasons
