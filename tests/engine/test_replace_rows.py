"""``replace_rows``: a part of a table replaced in a transaction, on both engines, as the run
changes ``mart_recommendations`` and ``mart_member_history`` in place."""

from __future__ import annotations

import pyarrow as pa
import pytest

from memberlens.engine.spark_store import SparkWarehouse
from memberlens.engine.warehouse import Warehouse

OLD = pa.table({"member_id": ["m1", "m1", "m2", "m3", None], "rank": [1, 2, 1, 1, 1]})
NEW = pa.table({"member_id": ["m3", "m4"], "rank": [9, 9]})


def _rows(wh, name="t"):
    return sorted(
        wh.table(name).to_pyarrow().to_pylist(), key=lambda r: (str(r["member_id"]), r["rank"])
    )


def _replace_part(wh):
    with wh.transaction():
        wh.replace("t", wh.register_arrow("old", OLD))
    keep = wh.register_arrow("keep", pa.table({"member_id": ["m1", "m2", None, "m9"]}))
    with wh.transaction():
        wh.replace_rows("t", wh.register_arrow("new", NEW), key="member_id", keep=keep)
    # the kept members' rows stay, the others' (m3, and a row without a key) go, NEW comes
    assert _rows(wh) == [
        {"member_id": "m1", "rank": 1},
        {"member_id": "m1", "rank": 2},
        {"member_id": "m2", "rank": 1},
        {"member_id": "m3", "rank": 9},
        {"member_id": "m4", "rank": 9},
    ]
    before = _rows(wh)
    with pytest.raises(RuntimeError), wh.transaction():
        wh.replace_rows("t", wh.register_arrow("new", NEW), key="member_id", keep=keep)
        raise RuntimeError("the run failed after the change")
    assert _rows(wh) == before  # a failed run leaves the old rows


def test_replace_rows_on_duckdb(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        _replace_part(wh)


@pytest.mark.spark
def test_replace_rows_on_spark(tmp_path, spark_session):
    with SparkWarehouse(tmp_path / "warehouse", session=spark_session) as wh:
        _replace_part(wh)
