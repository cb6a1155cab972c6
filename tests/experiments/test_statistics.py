"""Sufficient statistics: they add up exactly and come straight from an Ibis/DuckDB aggregate."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from memberlens.experiments.statistics import (
    PairedSampleMean,
    Proportion,
    SampleMean,
    paired_mean_aggregates,
    proportion_aggregates,
    sample_mean_aggregates,
)


def test_sample_mean_moments_equal_numpy():
    x = np.random.default_rng(0).gamma(2.0, 30.0, size=501)
    s = SampleMean.from_values(x)
    assert s.mean == pytest.approx(np.mean(x), rel=1e-12)
    assert s.variance == pytest.approx(np.var(x, ddof=1), rel=1e-9)  # numpy, ddof=1


def test_statistics_add_like_concatenated_data():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=100), rng.normal(size=57)
    total = SampleMean.from_values(a) + SampleMean.from_values(b)
    direct = SampleMean.from_values(np.concatenate([a, b]))
    assert total.n == direct.n
    assert total.sum == pytest.approx(direct.sum, abs=1e-9)
    assert total.sum_squares == pytest.approx(direct.sum_squares, rel=1e-12)
    assert Proportion(10, 3) + Proportion(20, 5) == Proportion(30, 8)
    pa = PairedSampleMean.from_values(a, a * 2)
    pb = PairedSampleMean.from_values(b, b * 2)
    both = PairedSampleMean.from_values(np.concatenate([a, b]), np.concatenate([a, b]) * 2)
    assert (pa + pb).sum_products == pytest.approx(both.sum_products, rel=1e-12)


def test_bad_statistics_are_refused():
    with pytest.raises(ValueError, match="successes must be between 0 and n=5"):
        Proportion(5, 6)
    with pytest.raises(ValueError, match="n must be >= 0"):
        SampleMean(-1, 0.0, 0.0)
    with pytest.raises(ValueError, match="differ in length"):
        PairedSampleMean.from_values([1, 2], [1])


def test_statistics_from_a_duckdb_aggregate_match_numpy():
    rng = np.random.default_rng(2)
    n = 1000
    frame = pd.DataFrame(
        {
            "arm": rng.choice(["control", "treatment"], size=n),
            "revenue": np.round(rng.gamma(1.5, 40.0, size=n), 2),
            "pre_revenue": np.round(rng.gamma(1.5, 40.0, size=n), 2),
            "bought": rng.random(n) < 0.2,
        }
    )
    con = ibis.duckdb.connect()
    t = con.create_table("arms", frame)
    agg = t.group_by("arm").aggregate(
        **sample_mean_aggregates(t.revenue, prefix="rev_"),
        **proportion_aggregates(t.bought, prefix="buy_"),
        **paired_mean_aggregates(t.revenue, t.pre_revenue, prefix="cup_"),
    )
    rows = {r["arm"]: r for r in agg.to_pyarrow().to_pylist()}
    for arm, part in frame.groupby("arm"):
        rev = SampleMean.from_row(rows[arm], prefix="rev_")
        assert rev == pytest.approx(SampleMean.from_values(part.revenue)) or (
            rev.n == len(part) and rev.sum == pytest.approx(part.revenue.sum(), rel=1e-12)
        )
        assert rev.variance == pytest.approx(part.revenue.var(ddof=1), rel=1e-9)
        assert Proportion.from_row(rows[arm], prefix="buy_") == Proportion(
            len(part), int(part.bought.sum())
        )
        cup = PairedSampleMean.from_row(rows[arm], prefix="cup_")
        assert cup.sum_products == pytest.approx(float(part.revenue @ part.pre_revenue), rel=1e-9)
