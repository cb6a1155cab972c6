"""The read side's member lists (``memberlens.marts.members``) and member 360
(``memberlens.marts.member360``) on a DuckDB project whose ``mart_members`` is written by hand:
filters, order, pages, exports and look-ups against pandas on the same frame."""

from __future__ import annotations

import re
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from memberlens.engine.warehouse import open_warehouse
from memberlens.marts.member360 import member_360
from memberlens.marts.members import (
    LIST_COLUMNS,
    MemberFilter,
    member_export,
    member_order,
    member_page,
    member_rows,
)
from memberlens.project import init_project


@pytest.fixture(scope="module")
def mart() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 200
    return pd.DataFrame(
        {
            "member_id": [f"m{i:04d}" for i in range(n)],
            "segment_cn8": rng.choice(["important_value", "general_development"], n),
            "segment_rfm11": rng.choice(["champions", "hibernating", "loyal"], n),
            "value_tier": rng.choice(["high_value", "low_value"], n),
            "lifecycle_stage": rng.choice(["active", "dormant"], n),
            "R": rng.integers(1, 6, n),
            "F": rng.integers(1, 6, n),
            "M": rng.integers(1, 6, n),
            # few distinct values: ties, broken by member_id
            "total_spend": rng.integers(1, 8, n).astype(float) * 10,
            "clv": rng.gamma(2.0, 50.0, n),
            "province": rng.choice(["广东省", "浙江省"], n),
            "phone_masked": "138****0000",
            "phone": "13800000000",  # a stored contact: never listed
        }
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory, mart):
    proj = init_project(tmp_path_factory.mktemp("marts") / "shop", locale="en")
    with open_warehouse(proj) as wh, wh.transaction():
        wh.replace("mart_members", ibis.memtable(mart))
        orders = pd.DataFrame(
            {
                "order_id": ["o1", "o2"],
                "member_id": ["m0001", "m0001"],
                "ordered_at": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                "amount": [10.0, 20.0],
            }
        )
        wh.replace("orders", ibis.memtable(orders))
    return proj


def test_a_filtered_list_is_in_order_with_ties_by_member_id(project, mart):
    flt = MemberFilter(segments=("important_value", "loyal"), value_tiers=("high_value",))
    with open_warehouse(project, read_only=True) as wh:
        ids = member_order(wh, flt, sort="total_spend", direction="desc").to_pylist()
        rows = member_rows(wh, ids[:7])
    # reference: pandas on the frame written to the mart
    seg = mart.segment_cn8.isin(flt.segments) | mart.segment_rfm11.isin(flt.segments)
    want = mart[seg & (mart.value_tier == "high_value")]
    want = want.assign(neg=-want.total_spend).sort_values(["neg", "member_id"])
    assert ids == want.member_id.tolist() and len(ids) > 10
    assert [r["member_id"] for r in rows] == ids[:7]
    assert set(rows[0]) <= set(LIST_COLUMNS) and "phone" not in rows[0]
    assert rows[0]["segment_cn8"] == want.iloc[0].segment_cn8


def test_the_cli_page_and_the_export_read_the_same_list(project, mart):
    page = member_page(project, segment="champions", scheme="rfm11", order_by="clv", limit=5)
    want = mart[mart.segment_rfm11 == "champions"].sort_values("clv", ascending=False)
    assert page.total == len(want)
    assert page.rows.column("member_id").to_pylist() == want.member_id.head(5).tolist()
    flt = MemberFilter(segments=("champions",), schemes=("rfm11",))
    with open_warehouse(project, read_only=True) as wh:
        export = member_export(wh, flt, columns=("member_id", "clv", "phone"))
    assert export.column_names == ["member_id", "clv"]  # only listed columns, never a contact
    assert export.column("member_id").to_pylist() == sorted(want.member_id)


def test_an_id_prefix_and_a_province_filter(project, mart):
    flt = MemberFilter(id_prefix="m001", province="广东省")
    with open_warehouse(project, read_only=True) as wh:
        ids = member_order(wh, flt, sort="member_id", direction="asc").to_pylist()
    want = mart[mart.member_id.str.startswith("m001") & (mart.province == "广东省")]
    assert ids == sorted(want.member_id)


def test_member_360_reads_scores_and_orders(project, mart):
    with open_warehouse(project, read_only=True) as wh:
        found = member_360(wh, "m0001")
        assert member_360(wh, "nobody") is None
    assert found is not None and found["orders_total"] == 2
    assert [o["order_id"] for o in found["orders"]] == ["o2", "o1"]  # newest first
    assert found["scores"]["clv"] == pytest.approx(mart.set_index("member_id").clv["m0001"])
    assert "phone_masked" not in found["scores"]


def test_the_read_side_imports_no_interface():
    """core <- services <- interfaces: the read side never imports the CLI or the web layer."""
    import memberlens.marts

    folder = Path(memberlens.marts.__file__).parent
    upward = re.compile(r"^\s*(from|import)\s+(memberlens\.(web|cli)|fastapi|typer)\b", re.M)
    found = [p.name for p in folder.glob("*.py") if upward.search(p.read_text(encoding="utf-8"))]
    assert not found
