"""Publication of the read-only snapshot (memberlens.engine.snapshots): a writer that changed the
warehouse publishes it, a writer that changed nothing copies nothing, readers stay consistent."""

from __future__ import annotations

import os

import pytest

from memberlens.engine import connect
from memberlens.engine.snapshots import SOURCE, Snapshots
from memberlens.engine.warehouse import open_warehouse


@pytest.fixture
def project(tmp_path):
    from memberlens.project import init_project

    project = init_project(tmp_path / "p")
    with open_warehouse(project) as wh:
        wh.con.raw_sql("CREATE TABLE t AS SELECT range AS i FROM range(1000)")
    return project


def _published(project) -> tuple[str | None, int]:
    """The current snapshot's name and inode (a new copy has a new inode)."""
    snapshots = Snapshots(project.warehouse)
    current = snapshots.current()
    assert current is not None
    return snapshots.version(), current.stat().st_ino


def _count(con) -> int:
    return int(con.table("t").count().execute())


def test_a_writer_that_only_read_publishes_nothing(project):
    before = _published(project)
    with open_warehouse(project) as wh:  # the writer's set-up DDL runs again: IF NOT EXISTS
        assert wh.count("t") == 1000
    assert _published(project) == before


def test_a_rolled_back_write_publishes_nothing(project):
    before = _published(project)
    with open_warehouse(project) as wh:
        with pytest.raises(RuntimeError), wh.transaction():
            wh.con.raw_sql("DELETE FROM t WHERE i < 500")
            raise RuntimeError("abandon")
        assert wh.count("t") == 1000
    assert _published(project) == before


def test_a_write_is_published_and_readers_move_to_it(project):
    version, _ = _published(project)
    reader = connect(project)
    with open_warehouse(project) as wh:
        wh.con.raw_sql("DELETE FROM t WHERE i < 400")
    after, _ = _published(project)
    assert after != version
    assert _count(reader) == 1000  # the reader keeps the state it opened
    fresh = connect(project)
    assert _count(fresh) == 600
    # a second writer that changes nothing keeps that snapshot: readers see the same state
    with open_warehouse(project) as wh:
        assert wh.count("t") == 600
    assert _published(project)[0] == after
    assert _count(connect(project)) == 600
    reader.disconnect()
    fresh.disconnect()


def test_a_notebook_writer_publishes_only_what_it_changed(project):
    before = _published(project)
    con = connect(project, read_only=False)
    assert _count(con) == 1000
    con.disconnect()
    assert _published(project) == before
    con = connect(project, read_only=False)
    con.raw_sql("INSERT INTO t VALUES (5000)")
    con.disconnect()
    assert _published(project)[0] != before[0]
    assert _count(connect(project)) == 1001


def test_a_changed_file_or_a_lost_record_is_published_again(project):
    """Any change of the file's times (a write the signature must not miss), a missing SOURCE
    (a crash between the pointer and its record) or a missing snapshot: publish."""
    snapshots = Snapshots(project.warehouse)
    version, _ = _published(project)
    stat = project.warehouse.stat()
    os.utime(project.warehouse, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert snapshots.publish_if_changed() is not None
    second = snapshots.version()
    assert second != version
    assert snapshots.publish_if_changed() is None
    (snapshots.folder / SOURCE).unlink()
    assert snapshots.publish_if_changed() is not None
    third = snapshots.version()
    assert third != second
    current = snapshots.current()
    assert current is not None
    current.unlink()
    assert snapshots.publish_if_changed() is not None
    assert snapshots.version() != third
    assert _count(connect(project)) == 1000
