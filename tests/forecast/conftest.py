"""One small simulated shop for the forecast tests: 3,000 members over three years
(2023-01-01 .. 2025-12-31, the simulator's default period). Its ``truth/calendar.parquet`` (the
daily demand weights of 春节, 38, 618, 双11 and 双12) is the outside reference for the festival
peaks."""

from __future__ import annotations

import pandas as pd
import pytest

MEMBERS, SEED = 3000, 7


@pytest.fixture(scope="session")
def shop(tmp_path_factory):
    """(folder, {orders, order_items, products} as Ibis tables on DuckDB)."""
    import ibis

    from memberlens.simulate import simulate_shop

    out = tmp_path_factory.mktemp("forecast-shop")
    simulate_shop(out, members=MEMBERS, seed=SEED)
    con = ibis.duckdb.connect()
    tables = {
        name: con.read_parquet(out / f"{name}.parquet", table_name=name)
        for name in ("orders", "order_items", "products")
    }
    return out, tables


@pytest.fixture(scope="session")
def weekly_total(shop):
    from memberlens.forecast import weekly_sales

    return weekly_sales(shop[1], level="total")


@pytest.fixture(scope="session")
def truth_weeks(shop) -> pd.Series:
    """The simulator's mean daily demand weight of each Monday-Sunday week."""
    calendar = pd.read_parquet(shop[0] / "truth" / "calendar.parquet")
    day = pd.to_datetime(calendar["date"])
    week = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return calendar["day_weight"].groupby(week.to_numpy()).mean()
