"""The purchase process: BG/NBD and gamma-gamma parameters written to ``truth/`` are recovered
by maximum likelihood on the written ``orders`` table (reference: the simulator's truth and the
likelihoods of Fader, Hardie & Lee 2005)."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import optimize, special

from memberlens.simulate import simulate_shop

RECOVERY_MEMBERS = 40_000
#: relative tolerance of the recovered parameters at 40,000 members (about 3 standard errors:
#: a and b are weakly identified one by one, their mean a / (a + b) much better)
TOLERANCE = {
    "r": 0.10,
    "alpha": 0.10,
    "a": 0.20,
    "b": 0.20,
    "mean_p": 0.05,
    "p": 0.10,
    "q": 0.10,
    "gamma": 0.12,
}


def bgnbd_negative_log_likelihood(log_params, x, t_x, T):
    """Fader, Hardie & Lee (2005), "Counting your customers the easy way", eq. 6."""
    r, alpha, a, b = np.exp(log_params)
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    alive = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    dropped = np.where(
        x > 0,
        special.betaln(a + 1, b + np.maximum(x, 1) - 1)
        - special.betaln(a, b)
        - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return -np.sum(common + np.logaddexp(alive, dropped))


def gamma_gamma_negative_log_likelihood(log_params, x, mean):
    """Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value" (after Colombo & Jiang
    1999; Fader, Hardie & Lee 2005b): marginal density of a member's mean spend over x orders."""
    p, q, gamma = np.exp(log_params)
    return -np.sum(
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (p * x - 1) * np.log(mean)
        + p * x * np.log(x)
        - (p * x + q) * np.log(gamma + mean * x)
    )


def _summary(out, start):
    """frequency, recency, T (calendar days) of organic paid orders, and mean spend."""
    return duckdb.sql(f"""
        select count(*) - 1 as x,
               epoch(max(ordered_at) - min(ordered_at)) / 86400 as t_x,
               epoch(TIMESTAMP '{start}' - min(ordered_at)) / 86400 as T,
               count(*) as n, avg(amount)::double as mean
        from '{out}/orders.parquet'
        where status = 'paid' and coalesce(coupon_id, '') not like 'CPN-CMP%'
        group by member_id""").df()


def _fit(nll, start, *args):
    res = optimize.minimize(
        nll,
        np.log(start),
        args=args,
        method="Nelder-Mead",
        options={"maxiter": 5000, "xatol": 1e-7, "fatol": 1e-7},
    )
    assert res.success
    return np.exp(res.x)


@pytest.fixture(scope="module")
def big_shop(tmp_path_factory):
    out = tmp_path_factory.mktemp("big")
    report = simulate_shop(out, members=RECOVERY_MEMBERS, seed=2024)
    return out, report


@pytest.mark.slow
def test_bgnbd_parameters_are_recovered(big_shop):
    out, report = big_shop
    end = np.datetime64(report.start) + np.timedelta64(report.days, "D")
    s = _summary(out, str(end))
    truth = json.loads((out / "truth" / "parameters.json").read_text())["parameters"]
    fitted = _fit(
        bgnbd_negative_log_likelihood,
        [0.5, 30.0, 1.0, 2.0],
        s.x.to_numpy(float),
        s.t_x.to_numpy(),
        s["T"].to_numpy(),
    )
    for name, value in zip(("r", "alpha", "a", "b"), fitted):
        assert value == pytest.approx(truth["purchases"][name], rel=TOLERANCE[name]), name
    a, b = fitted[2:]
    true_a, true_b = truth["purchases"]["a"], truth["purchases"]["b"]
    assert a / (a + b) == pytest.approx(true_a / (true_a + true_b), rel=TOLERANCE["mean_p"])


@pytest.mark.slow
def test_gamma_gamma_parameters_are_recovered(big_shop):
    out, report = big_shop
    s = _summary(out, "2100-01-01")
    truth = json.loads((out / "truth" / "parameters.json").read_text())["parameters"]["spend"]
    fitted = _fit(
        gamma_gamma_negative_log_likelihood,
        [2.0, 2.0, 50.0],
        s.n.to_numpy(float),
        s["mean"].to_numpy(),
    )
    for name, value in zip(("p", "q", "gamma"), fitted):
        assert value == pytest.approx(truth[name], rel=TOLERANCE[name]), name


def test_bgnbd_is_exact_on_the_latent_summary(small_shop):
    """On the latent (x, t_x, T) in retail time the fit is close even on a small shop."""
    out, _ = small_shop
    lat = pq.read_table(out / "truth" / "members.parquet").to_pandas()
    lat = lat[lat.customer]
    truth = json.loads((out / "truth" / "parameters.json").read_text())["parameters"]
    fitted = _fit(
        bgnbd_negative_log_likelihood,
        [0.5, 30.0, 1.0, 2.0],
        lat.frequency.to_numpy(float),
        lat.recency_retail_days.to_numpy(),
        lat.T_retail_days.to_numpy(),
    )
    r, alpha = fitted[:2]
    assert r / alpha == pytest.approx(
        truth["purchases"]["r"] / truth["purchases"]["alpha"], rel=0.1
    )
    # each member's latent rate shows in their frequency
    rate = lat.frequency / lat.T_retail_days.clip(lower=1)
    assert np.corrcoef(lat["lambda"], rate)[0, 1] > 0.3  # about 0 if unrelated
