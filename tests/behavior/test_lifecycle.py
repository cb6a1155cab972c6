"""Lifecycle stages. Outside reference: a shop whose stages are worked out by hand from the
rule table in the module docstring, and the CDNOW sample for whole-population consistency
(counts per month equal the per-month stage tables; transitions conserve members)."""

from __future__ import annotations

import pandas as pd
import pytest

from memberlens.behavior import (
    LifecycleRules,
    lifecycle_counts,
    lifecycle_stages,
    monthly_stages,
    stage_transitions,
    transition_matrix,
)
from memberlens.exceptions import ConfigError

AS_OF = "2024-06-30"


def _shop() -> pd.DataFrame:
    rows = [  # member, purchase days (2024 unless stated)
        ("new", ["2024-06-10"]),
        ("won_back", ["2023-05-01", "2024-06-01"]),  # gap 397 days, recent
        ("loyal", ["2024-01-10", "2024-03-10", "2024-06-01"]),
        ("active", ["2024-04-15"]),  # 76 days ago
        ("declining", ["2024-02-01", "2024-02-20"]),  # 131 days
        ("dormant", ["2023-09-01"]),  # 303 days
        ("churned", ["2023-01-01", "2023-02-01"]),  # 515 days
        ("not_yet", ["2024-07-02"]),  # after as-of: absent
    ]
    records = [(m, pd.Timestamp(d) + pd.Timedelta(hours=10)) for m, days in rows for d in days]
    frame = pd.DataFrame(records, columns=["member_id", "ordered_at"])
    frame.insert(0, "order_id", [str(i) for i in range(len(frame))])
    frame["amount"] = 10.0
    frame["status"] = "paid"
    return frame


def test_hand_worked_stages(backend, on_backend):
    orders = on_backend(_shop(), "orders")
    got = backend.to_pandas(lifecycle_stages(orders, as_of=AS_OF)).set_index("member_id")
    assert got.stage.to_dict() == {m: m for m in got.index}
    assert "not_yet" not in got.index
    assert got.loc["won_back", "gap_before_last"] == 397
    assert pd.isna(got.loc["new", "gap_before_last"])
    assert got.loc["loyal", "recent_purchase_days"] == 3


def test_thresholds_are_configurable():
    rules = LifecycleRules.from_dict({"active_days": 60, "loyal_purchase_days": 4})
    got = lifecycle_stages(_shop(), as_of=AS_OF, rules=rules).to_pandas().set_index("member_id")
    assert got.loc["active", "stage"] == "declining"  # 76 days > 60
    assert got.loc["loyal", "stage"] == "active"  # only 3 purchase days


@pytest.mark.parametrize(
    "data, message",
    [
        ({"active_days": 200}, "active_days < dormant_days"),
        ({"new_days": 0}, "positive whole number"),
        ({"weekly": 3}, "unknown setting"),
    ],
)
def test_bad_thresholds_name_the_setting(data, message):
    with pytest.raises(ConfigError, match=message):
        LifecycleRules.from_dict(data)


def test_counts_and_transitions_are_consistent_on_cdnow(backend, on_backend, cdnow_orders):
    orders = on_backend(cdnow_orders, "cdnow_orders")
    counts = backend.to_pandas(lifecycle_counts(orders, start="1997-01-01", end="1997-06-30"))
    june = backend.to_pandas(lifecycle_stages(orders, as_of="1997-06-30")).stage.value_counts()
    got_june = counts[pd.to_datetime(counts.as_of) == pd.Timestamp("1997-06-30")].set_index("stage")
    assert got_june.members.to_dict() == june.to_dict()
    assert counts.groupby("as_of").members.sum().is_monotonic_increasing  # cohort only grows

    moves = backend.to_pandas(stage_transitions(orders, start="1997-01-01", end="1997-06-30"))
    arrived = moves.groupby("to_as_of").members.sum()
    present = counts.groupby("as_of").members.sum()
    assert arrived.to_dict() == present.iloc[1:].to_dict()
    matrix = transition_matrix(moves)
    assert matrix.sum(axis=1).round(12).eq(1.0).all()
    assert matrix.loc["none"].drop("new").eq(0).all()  # first purchases always arrive as new


def test_one_pass_history_equals_the_point_in_time_stages(backend, on_backend, cdnow_orders):
    # Reference: lifecycle_stages evaluated separately at each month end (one query per month);
    # the one-pass wide table must give every member the same stage at every month end.
    orders = on_backend(cdnow_orders, "cdnow_orders")
    wide = backend.to_pandas(monthly_stages(orders, start="1997-01-01", end="1997-09-30"))
    months = pd.date_range("1997-01-31", "1997-09-30", freq="ME")
    assert len([c for c in wide.columns if c.startswith("stage_")]) == len(months) == 9
    wide = wide.set_index("member_id")
    for month in months:
        point = backend.to_pandas(lifecycle_stages(orders, as_of=month.date()))
        column = wide[f"stage_{month:%Y%m%d}"].dropna()
        assert (
            column.sort_index().to_dict()
            == point.set_index("member_id").stage.sort_index().to_dict()
        )
    moves = backend.to_pandas(stage_transitions(orders, start="1997-01-01", end="1997-09-30"))
    july = moves[pd.to_datetime(moves.to_as_of) == pd.Timestamp("1997-07-31")]
    june = backend.to_pandas(lifecycle_stages(orders, as_of="1997-06-30"))
    jul = backend.to_pandas(lifecycle_stages(orders, as_of="1997-07-31"))
    expected = jul.merge(june, on="member_id", how="left", suffixes=("", "_before"))
    expected = (
        expected.assign(from_stage=expected.stage_before.fillna("none"))
        .groupby(["from_stage", "stage"])
        .size()
    )
    got = july.set_index(["from_stage", "to_stage"]).members
    assert got.sort_index().to_dict() == {k: v for k, v in expected.sort_index().items()}


def test_stage_codes_at_any_days_equal_the_point_in_time_stages(backend, on_backend, cdnow_orders):
    # The run's one pass: stages at a mid-month as-of day and at month ends from the same
    # purchase days, as codes; each must name the stages lifecycle_stages gives at that day.
    from memberlens.behavior import STAGE_KEYS, stage_codes, stage_names
    from memberlens.features.purchase_days import purchase_days

    orders = on_backend(cdnow_orders, "cdnow_orders")
    points = {"stage": pd.Timestamp("1997-08-17").date(), "may": pd.Timestamp("1997-05-31").date()}
    days = purchase_days(orders, end="1997-08-17")
    codes = stage_codes(days, points)
    named = backend.to_pandas(
        codes.select("member_id", *(stage_names(codes[c]).name(c) for c in points))
    ).set_index("member_id")
    assert set(backend.to_pandas(codes).stage.dropna().astype(int)) <= set(range(len(STAGE_KEYS)))
    for column, day in points.items():
        point = backend.to_pandas(lifecycle_stages(orders, as_of=day)).set_index("member_id")
        assert named[column].dropna().sort_index().to_dict() == point.stage.sort_index().to_dict()
    rules = LifecycleRules(active_days=60, dormant_days=120, churned_days=300)
    assert tuple(r.key for r in rules.stages) == STAGE_KEYS  # codes do not depend on thresholds
