"""The simulators against the models' own closed forms (law of large numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from memberlens.clv import BetaGeoModel, ParetoNBDModel
from memberlens.clv.simulation import simulate_beta_geo, simulate_pareto_nbd


def test_beta_geo_mean_matches_fhl_eq_9():
    truth = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    sim = simulate_beta_geo(200_000, **truth, T=52.0, rng=np.random.default_rng(9))
    model = BetaGeoModel()
    expected = model._new_member(truth, 52.0)
    sd = sim["frequency"].std() / np.sqrt(len(sim))
    assert abs(sim["frequency"].mean() - expected) < 4 * sd
    assert (sim["recency"] <= sim["T"]).all()
    assert (sim.loc[sim["frequency"] == 0, "recency"] == 0).all()


def test_pareto_mean_matches_closed_form():
    truth = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    sim = simulate_pareto_nbd(200_000, **truth, T=52.0, rng=np.random.default_rng(10))
    expected = ParetoNBDModel()._new_member(truth, 52.0)
    sd = sim["frequency"].std() / np.sqrt(len(sim))
    assert abs(sim["frequency"].mean() - expected) < 4 * sd


def test_resolution_rounds_recency_to_the_grid():
    sim = simulate_beta_geo(
        5_000,
        r=1.0,
        alpha=2.0,
        a=1.0,
        b=3.0,
        T=10.0,
        rng=np.random.default_rng(1),
        resolution=1 / 7,
    )
    days = sim["recency"] * 7
    assert np.allclose(days, np.round(days))
    assert (sim["recency"] <= sim["T"]).all()
    assert sim["frequency"].dtype == np.int64 and sim["member_id"].is_unique
    assert pytest.approx(sim["T"].iloc[0]) == 10.0
