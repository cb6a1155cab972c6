"""Fixtures of the audience tests: a project whose warehouse holds a ``mart_members`` of 400
seeded members (written through the warehouse writer, as ``memberlens run`` writes it), two
dates of ``mart_member_history`` and a ``members`` table loaded through the public ingest path."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

AS_OF = dt.date(2025, 6, 30)
EARLIER = dt.date(2025, 3, 31)
SEGMENTS = ("important_value", "important_development", "general_value", "general_retention")
TIERS = ("high_value", "medium_value", "low_value", "churn_risk")
PROVINCES = ("广东省", "浙江省", "上海市", "北京市", None)


def member_mart(n: int = 400, seed: int = 7) -> pa.Table:
    """``mart_members``-shaped rows: ids, segment, tier, stage, clv (some missing), days since
    the last order, province (some missing), refunder, last purchase time."""
    rng = np.random.default_rng(seed)
    clv = np.round(rng.gamma(1.5, 300.0, n), 2)
    clv_missing = rng.random(n) < 0.05
    days = rng.integers(0, 400, n)
    last = [
        dt.datetime.combine(AS_OF, dt.time()) - dt.timedelta(days=int(d), hours=int(h))
        for d, h in zip(days, rng.integers(0, 24, n))
    ]
    return pa.table(
        {
            "member_id": [f"M{i:05d}" for i in range(n)],
            "as_of": pa.array([dt.datetime.combine(AS_OF, dt.time())] * n, pa.timestamp("s")),
            "segment_cn8": [SEGMENTS[i] for i in rng.integers(0, len(SEGMENTS), n)],
            "value_tier": [TIERS[i] for i in rng.integers(0, len(TIERS), n)],
            "lifecycle_stage": [("active", "dormant")[i] for i in rng.integers(0, 2, n)],
            "clv": pa.array(np.where(clv_missing, np.nan, clv), pa.float64(), mask=clv_missing),
            "days_since_last": pa.array(days, pa.int64()),
            "frequency": pa.array(rng.integers(0, 12, n), pa.int64()),
            "province": [PROVINCES[i] for i in rng.integers(0, len(PROVINCES), n)],
            "refunder": pa.array(rng.random(n) < 0.2),
            "last_purchase_at": pa.array(last, pa.timestamp("us")),
            "phone_masked": [f"138****{i:04d}" for i in range(n)],
        }
    )


def _history(mart: pa.Table, day: dt.date, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = mart.num_rows
    return pa.table(
        {
            "as_of": pa.array([day] * n, pa.date32()),
            "run_id": ["r1"] * n,
            "member_id": mart["member_id"],
            "segment_cn8": [SEGMENTS[i] for i in rng.integers(0, len(SEGMENTS), n)],
            "segment_rfm11": ["champions"] * n,
            "value_tier": [TIERS[i] for i in rng.integers(0, len(TIERS), n)],
            "lifecycle_stage": ["active"] * n,
        }
    )


@pytest.fixture(scope="session")
def mart() -> pa.Table:
    return member_mart()


@pytest.fixture(scope="session")
def history(mart) -> pa.Table:
    return pa.concat_tables([_history(mart, EARLIER, 1), _history(mart, AS_OF, 2)])


@pytest.fixture(scope="session")
def audience_project(tmp_path_factory, mart, history):
    """The project (marts as of 2025-06-30, history of 2025-03-31 and 2025-06-30, members with
    age_band and channel through ingest). Tests that change app state use their own
    ``store``."""
    import ibis
    import pyarrow.csv as pacsv

    from memberlens.engine.warehouse import open_warehouse
    from memberlens.ingest import load
    from memberlens.project import init_project

    root = tmp_path_factory.mktemp("audiences")
    project = init_project(root / "shop", currency="CNY", locale="zh-CN")
    n = mart.num_rows
    members = pa.table(
        {
            "member_id": mart["member_id"],
            "registered_at": ["2024-01-01 10:00:00"] * n,
            "age_band": [("18-24", "25-34", "35-44")[i % 3] for i in range(n)],
            "channel": [("app", "store")[i % 2] for i in range(n)],
        }
    )
    pacsv.write_csv(members, root / "members.csv")
    load("members", root / "members.csv", project=project)
    with open_warehouse(project) as wh, wh.transaction():
        wh.replace("mart_members", ibis.memtable(mart))
        wh.replace("mart_member_history", ibis.memtable(history))
    return project


@pytest.fixture
def store(tmp_path):
    """A fresh app-state store (SQLite under tmp_path, migrated by Alembic)."""
    from memberlens.web.store import open_store

    s = open_store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield s
    s.engine.dispose()
