"""``campaign report --by`` on a project: mart breakdowns read each member's segment as of the
campaign start (``mart_member_history``), not the latest run's, and say which as-of they used."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memberlens.engine.warehouse import open_warehouse
from memberlens.experiments.projects import campaign_report_project
from memberlens.ingest import load
from memberlens.project import init_project

START = dt.datetime(2025, 3, 1)


@pytest.fixture
def project(tmp_path):
    """One campaign (starts 2025-03-01), 8 members per arm; m0 was a "lapsed" member at the send
    (history as of 2025-02-28) and became "loyal" afterwards (history and latest as of
    2025-04-30); everybody else stays "loyal"."""
    members = [f"m{i}" for i in range(16)]
    files = {
        "campaigns": pa.table(
            {
                "campaign_id": ["C1"],
                "name": ["spring"],
                "channel": ["sms"],
                "starts_at": [START],
                "ends_at": [START + dt.timedelta(days=10)],
            }
        ),
        "campaign_members": pa.table(
            {
                "campaign_id": ["C1"] * 16,
                "member_id": members,
                "group": ["treatment"] * 8 + ["control"] * 8,
            }
        ),
        "orders": pa.table(
            {
                "order_id": [f"o{i}" for i in range(6)],
                "member_id": ["m0", "m1", "m2", "m8", "m9", "m3"],
                "ordered_at": [START + dt.timedelta(days=d) for d in (1, 2, 3, 2, 4, 5)],
                "amount": [50.0, 20.0, 30.0, 25.0, 10.0, 40.0],
                "status": ["paid"] * 6,
            }
        ),
    }
    p = init_project(tmp_path / "p", as_of=dt.date(2025, 4, 30))
    for name, table in files.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
        load(name, tmp_path / f"{name}.parquet", project=p)

    def history(day: dt.date, first: str) -> pa.Table:
        return pa.table(
            {
                "as_of": [day] * 16,
                "run_id": ["r"] * 16,
                "member_id": members,
                "segment_cn8": [first] + ["loyal"] * 15,
                "segment_rfm11": [first] + ["loyal"] * 15,
                "value_tier": ["gold"] * 16,
                "lifecycle_stage": [first] + ["loyal"] * 15,
            }
        )

    later = dt.date(2025, 4, 30)
    kept = pa.concat_tables([history(dt.date(2025, 2, 28), "lapsed"), history(later, "loyal")])
    latest = pa.table(
        {
            "member_id": members,
            "as_of": [later] * 16,
            "segment_rfm11": ["loyal"] * 16,
            "lifecycle_stage": ["loyal"] * 16,
            "cluster": ["1"] * 16,
        }
    )
    with open_warehouse(p) as wh:
        wh.replace("mart_member_history", wh.register_arrow("__h", kept))
        wh.replace("mart_members", wh.register_arrow("__m", latest))
    return p


def _segments(report):
    return {s.segment: {a.arm: a.n for a in s.arms} for s in report.segments}


def test_a_member_is_counted_in_the_segment_it_had_at_the_send(project):
    report = campaign_report_project(project, "C1", by="segment")
    # m0 was lapsed on 2025-02-28 (the snapshot nearest before the start), loyal only later
    assert _segments(report) == {
        "lapsed": {"treatment": 1},
        "loyal": {"control": 8, "treatment": 7},
    }
    assert report.segments_source == "mart_member_history"
    assert report.segments_as_of == "2025-02-28"
    out = report.to_dict()
    assert out["segments_as_of"] == "2025-02-28"
    assert not any("latest run" in m for m in out["messages"])


def test_without_a_snapshot_the_latest_run_is_used_and_the_report_says_so(project):
    # cluster is not kept in the history: the latest mart, with a note naming the as-of
    report = campaign_report_project(project, "C1", by="cluster")
    assert report.segments_source == "mart_members"
    assert report.segments_as_of == "2025-04-30"
    assert any("latest run's (as of 2025-04-30)" in m for m in report.messages)
    with open_warehouse(project) as wh:  # history only after the send: the latest again
        wh.con.raw_sql("DELETE FROM mart_member_history WHERE as_of < DATE '2025-03-01'")
    report = campaign_report_project(project, "C1", by="lifecycle")
    assert _segments(report) == {"loyal": {"control": 8, "treatment": 8}}
    assert report.segments_source == "mart_members"
    note = next(m for m in report.messages if m.startswith("--by lifecycle"))
    assert "no member history on or before the campaign start (2025-03-01)" in note
    assert "memberlens run --as-of 2025-03-01" in note
