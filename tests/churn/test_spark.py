"""Churn and per-category propensity features and labels on PySpark equal DuckDB's.

Reference: the same Ibis expressions run by DuckDB on the same Arrow tables of a small
simulated shop (``memberlens.simulate.simulate_shop``); floats compared to 1e-9 relative (float
sums may differ in the last bits between engines, DESIGN.md engine notes), everything else
exactly.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandas.testing as pdt
import pytest

from memberlens.churn import (
    ChurnInputs,
    category_feature_table,
    category_labels,
    churn_labels,
    default_horizon_days,
    feature_table,
    top_categories,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]  # ~10 Spark queries: ~30 s
CUTOFF = dt.date(2025, 6, 30)
TABLES = ("orders", "order_items", "products", "events", "interactions")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    import pyarrow.parquet as pq

    from memberlens.simulate import simulate_shop

    out = tmp_path_factory.mktemp("spark-shop")
    simulate_shop(out, members=600, seed=11)
    return {name: pq.read_table(out / f"{name}.parquet") for name in TABLES}


def _inputs(con, shop) -> ChurnInputs:
    from memberlens.engine import register_arrow

    return ChurnInputs(
        **{name: register_arrow(con, f"churn_{name}", shop[name]) for name in TABLES}
    )


def _frames(inputs: ChurnInputs) -> dict[str, pd.DataFrame | int | list]:
    categories = tuple(top_categories(inputs, cutoff=CUTOFF, top=3))
    member = ["member_id"]
    pair = ["member_id", "category"]
    return {
        "horizon": default_horizon_days(inputs.orders, cutoff=CUTOFF),
        "categories": list(categories),
        "features": feature_table(
            inputs.orders, cutoff=CUTOFF, events=inputs.events, interactions=inputs.interactions
        )
        .to_pandas()
        .sort_values(member, ignore_index=True),
        "labels": churn_labels(inputs.orders, cutoff=CUTOFF, horizon_days=90)
        .to_pandas()
        .sort_values(member, ignore_index=True),
        "category_features": category_feature_table(inputs, cutoff=CUTOFF, categories=categories)
        .to_pandas()
        .sort_values(pair, ignore_index=True),
        "category_labels": category_labels(inputs, cutoff=CUTOFF, categories=categories)
        .to_pandas()
        .sort_values(pair, ignore_index=True),
    }


def test_features_and_labels_are_identical_on_pyspark_and_duckdb(shop, spark_session):
    import ibis

    duck = ibis.duckdb.connect()
    expected = _frames(_inputs(duck, shop))
    got = _frames(_inputs(ibis.pyspark.connect(spark_session), shop))
    assert got["horizon"] == expected["horizon"]
    assert got["categories"] == expected["categories"]
    assert len(expected["features"]) > 300 and expected["labels"]["churned"].nunique() == 2
    assert expected["category_labels"]["category_purchased"].sum() > 0
    for name in ("features", "labels", "category_features", "category_labels"):
        pdt.assert_frame_equal(got[name], expected[name], rtol=1e-9, obj=name)
