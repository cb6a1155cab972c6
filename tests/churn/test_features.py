"""Features at a cutoff never see a later day (simulated shop, ``memberlens demo``)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandas.testing as pdt

from memberlens.churn import FEATURE_COLUMNS, ChurnInputs, member_features

CUTOFF = dt.date(2025, 3, 1)


def _cut(table, column):
    return table.filter(table[column].date() <= CUTOFF)


def test_features_are_unchanged_when_later_data_is_deleted(inputs):
    full = member_features(inputs, cutoff=CUTOFF, horizon_days=120)
    cut = ChurnInputs(
        orders=_cut(inputs.orders, "ordered_at"),
        events=_cut(inputs.events, "occurred_at"),
        interactions=_cut(inputs.interactions, "occurred_at"),
    )
    assert inputs.orders.count().execute() > cut.orders.count().execute()  # something deleted
    without_future = member_features(cut, cutoff=CUTOFF, horizon_days=120)
    key = ["member_id"]
    pdt.assert_frame_equal(
        full.sort_values(key, ignore_index=True), without_future.sort_values(key, ignore_index=True)
    )
    assert list(full.columns) == ["member_id", *FEATURE_COLUMNS]


def test_feature_values_match_a_pandas_count(inputs):
    # reference: the same window counts written directly in pandas on the raw orders
    features = member_features(inputs, cutoff=CUTOFF, horizon_days=120).set_index("member_id")
    orders = inputs.orders.to_pandas()
    paid = orders[
        (orders["status"] == "paid")
        & orders["member_id"].notna()
        & (orders["ordered_at"].dt.date <= CUTOFF)
    ]
    recent = paid[paid["ordered_at"].dt.date > CUTOFF - dt.timedelta(days=90)]
    expected = recent.groupby("member_id").size().reindex(features.index, fill_value=0)
    pdt.assert_series_equal(
        features["orders_90d"].astype("int64"), expected.astype("int64"), check_names=False
    )
    last = paid.groupby("member_id")["ordered_at"].max().dt.date
    days = pd.Series([(CUTOFF - d).days for d in last], index=last.index)
    assert (features["days_since_last"] == days.reindex(features.index)).all()
    assert features["p_alive"].between(0, 1).all()
