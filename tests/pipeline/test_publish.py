"""Writing a run's marts: ``mart_member_history`` and ``mart_recommendations`` are changed in
place, in member_id order and without an index; a re-run of a date replaces that date's rows."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from tests.pipeline.test_small_shops import small_shop

from memberlens.pipeline.publish import INDEXED_TABLES, MEMBER_ORDERED_MARTS
from memberlens.pipeline.run import run_pipeline


def _stored(project):
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        indexes = {r[0] for r in con.sql("select table_name from duckdb_indexes()").fetchall()}
        history = con.sql(
            "select as_of, member_id from mart_member_history order by rowid"
        ).fetchall()
        members = con.sql("select count(*) from mart_members").fetchone()[0]
        recommended = [
            r[0]
            for r in con.sql("select member_id from mart_recommendations order by rowid").fetchall()
        ]
    return indexes, history, members, recommended


@pytest.mark.slow
def test_history_and_recommendations_change_in_place_in_member_order(tmp_path):
    project = small_shop(tmp_path, 200, 3)
    first = run_pipeline(project)
    day = first.as_of - dt.timedelta(days=30)
    run_pipeline(project, as_of=day)
    run_pipeline(project, as_of=day)  # the same date again: its rows replaced, not added

    indexes, history, members, recommended = _stored(project)
    assert indexes == set(INDEXED_TABLES)
    assert not indexes & set(MEMBER_ORDERED_MARTS)
    assert len(history) == len(set(history)), "a member twice for one date"
    dates = [d for d, _ in history]
    assert sorted(set(dates)) == [day, first.as_of]
    assert dates.count(day) == members  # the last run's members, once
    for date in set(dates):  # each date's rows were added in member_id order
        ids = [m for d, m in history if d == date]
        assert ids == sorted(ids)
    assert recommended and recommended == sorted(recommended)  # written whole: scored again
