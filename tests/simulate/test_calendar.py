"""The retail calendar (reference: the Chinese retail festivals 春节, 618, 双11, 双12)."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from memberlens.exceptions import ConfigError
from memberlens.simulate.calendar import retail_calendar


def test_retail_time_spans_the_period_and_inverts():
    cal = retail_calendar(np.datetime64("2023-01-01"), 1096)
    assert cal.to_retail(np.array([0.0, 1096.0])) == pytest.approx([0.0, 1096.0])
    t = np.random.default_rng(0).uniform(0, 1096, 1000)
    assert cal.to_calendar(cal.to_retail(t)) == pytest.approx(t, abs=1e-9)
    day = lambda s: (np.datetime64(s) - cal.start).astype(int)  # noqa: E731
    w = cal.day_weight
    assert w[day("2024-11-11")] > 4 * np.median(w)
    assert w[day("2024-06-18")] > 2 * np.median(w)
    assert w[day("2024-12-12")] > 2 * np.median(w)
    assert w[day("2024-02-11")] < 0.6 * np.median(w)  # 春节 2024-02-10


def test_years_outside_the_calendar_are_refused():
    with pytest.raises(ConfigError, match="2036"):
        retail_calendar(np.datetime64("2035-06-01"), 400)


def test_orders_bunch_on_festivals(small_shop):
    out, _ = small_shop
    per_day = (
        duckdb.sql(
            f"select ordered_at::date d, count(*) n from '{out}/orders.parquet' "
            "where status = 'paid' group by 1"
        )
        .df()
        .set_index("d")
        .n
    )
    typical = per_day.median()
    for festival in ("2023-11-11", "2024-11-11", "2025-11-11"):
        assert per_day.loc[np.datetime64(festival)] > 3 * typical
    hours = (
        duckdb.sql(
            f"select hour(ordered_at) h, count(*) n from '{out}/orders.parquet' "
            "group by 1 order by 1"
        )
        .df()
        .n.to_numpy()
    )
    assert hours[21] > 4 * hours[4]
