"""One small simulated shop for the recommendation tests (``memberlens.simulate``: 3,000 members,
seed 7). Its ``truth/`` is the outside reference: planted co-purchase pairs
(``copurchase_pairs.parquet``), products with a repurchase cycle (``replenishment.parquet``) and
members' category preferences."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

MEMBERS, SEED = 3000, 7
CUTOFF = "2025-09-30"  # the shop runs 2023-01-01 .. 2025-12-31: test on the last quarter
TABLES = ("orders", "order_items", "products", "events")


@pytest.fixture(scope="session")
def shop_dir(tmp_path_factory):
    from memberlens.simulate import simulate_shop

    out = tmp_path_factory.mktemp("rec-shop")
    simulate_shop(out, members=MEMBERS, seed=SEED)
    return out


@pytest.fixture(scope="session")
def shop(shop_dir):
    """A DuckDB backend holding the shop's orders, order_items, products and events."""
    con = ibis.duckdb.connect()
    for name in TABLES:
        con.read_parquet(shop_dir / f"{name}.parquet", table_name=name)
    yield con
    con.disconnect()


@pytest.fixture(scope="session")
def cutoff() -> str:
    return CUTOFF


@pytest.fixture(scope="session")
def products(shop):
    return shop.table("products").to_pyarrow()


@pytest.fixture(scope="session")
def train(shop):
    from memberlens.recommend import interactions_from_warehouse

    return interactions_from_warehouse(shop, as_of=CUTOFF)


@pytest.fixture(scope="session")
def truth(shop_dir) -> dict[str, pd.DataFrame]:
    folder = shop_dir / "truth"
    return {
        name: pd.read_parquet(folder / f"{name}.parquet")
        for name in ("copurchase_pairs", "replenishment", "members")
    }
