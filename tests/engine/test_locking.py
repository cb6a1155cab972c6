"""Several processes on one project, as users run them: writers queue on the writer lock, readers
read the published snapshot (memberlens.engine.locking, memberlens.engine.snapshots)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from memberlens.pipeline.demo import export_cdnow_csv

# CDNOW 1/10 sample (Lifetimes 0.11.3 wheel): 6,919 order lines.
CDNOW_LINES = 6919


def ml(*args, env=None, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "memberlens", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def cdnow(tmp_path):
    """A project with the CDNOW orders loaded, and a CSV of three more orders."""
    from memberlens.ingest import load
    from memberlens.project import init_project

    project = init_project(tmp_path / "p")
    load("orders", export_cdnow_csv(tmp_path / "o.csv"), project=project)
    more = tmp_path / "more.csv"
    more.write_text(
        "order_id,member_id,ordered_at,amount\n"
        "n1,m1,1998-07-01,10\nn2,m1,1998-07-02,12.5\nn3,m2,1998-07-03,8\n"
    )
    return project, more


def _orders(project) -> dict:
    status = json.loads(ml("status", "-p", project.root, "--json").stdout)
    return {t["table"]: t for t in status["tables"]}["orders"]


def _holder(project, *, read_only: bool) -> subprocess.Popen:
    """A Python session (another process) holding ``memberlens.engine.connect(project)`` open
    until it reads a line."""
    code = textwrap.dedent(
        """
        import sys
        from memberlens.engine import connect
        con = connect(sys.argv[1], read_only=sys.argv[2] == "ro")
        print(con.table("orders").count().execute(), flush=True)
        sys.stdin.readline()
        con.disconnect()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(project.root), "ro" if read_only else "rw"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == str(CDNOW_LINES)
    return proc


def _release(proc: subprocess.Popen) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=120) == 0, proc.stderr.read()


def test_cli_commands_work_while_a_notebook_holds_a_connection(cdnow):
    """A notebook's ``connect(project)`` (the read side by default) stops nobody: status,
    members, ingest and a second reader all work, and the notebook keeps its consistent view."""
    project, csv = cdnow
    notebook = _holder(project, read_only=True)
    try:
        assert _orders(project)["rows_stored"] == CDNOW_LINES
        more = json.loads(ml("ingest", "orders", csv, "-p", project.root, "--json").stdout)
        assert more["rows_stored"] == 3
        assert (_orders(project)["rows_stored"], _orders(project)["loads"]) == (CDNOW_LINES + 3, 2)
    finally:
        _release(notebook)


def test_cli_commands_work_while_a_notebook_holds_a_writer(cdnow):
    """A notebook's writer (``read_only=False``) holds the writer lock: readers go on, and a
    writer waits for it with a message naming it, then succeeds."""
    project, csv = cdnow
    notebook = _holder(project, read_only=False)
    ingest = subprocess.Popen(
        [sys.executable, "-m", "memberlens", "ingest", "orders", str(csv), "-p", str(project.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        waiting = ingest.stderr.readline()
        assert waiting.startswith("waiting for another writer: ")
        assert f"(pid {notebook.pid}, since " in waiting
        assert _orders(project)["loads"] == 1
    finally:
        _release(notebook)
    out, err = ingest.communicate(timeout=300)
    assert ingest.returncode == 0, err
    assert (_orders(project)["rows_stored"], _orders(project)["loads"]) == (CDNOW_LINES + 3, 2)


def test_a_second_writer_waits_then_succeeds_or_times_out_clearly(cdnow):
    project, csv = cdnow
    holder = _holder(project, read_only=False)
    try:
        late = ml(
            "ingest",
            "orders",
            csv,
            "-p",
            project.root,
            env={"MEMBERLENS_WRITE_TIMEOUT": "0.5"},
            check=False,
        )
        assert late.returncode == 75, late.stderr
        assert "internal error" not in late.stderr
        assert "another writer holds the warehouse: " in late.stderr
        assert f"(pid {holder.pid}, since " in late.stderr
        assert "MEMBERLENS_WRITE_TIMEOUT" in late.stderr
        bad = ml("status", "-p", project.root, env={"MEMBERLENS_WRITE_TIMEOUT": "soon"})
        assert bad.returncode == 0  # readers never wait, so never read the setting
    finally:
        _release(holder)
    assert _orders(project)["loads"] == 1  # the timed-out load changed nothing
    ml("ingest", "orders", csv, "-p", project.root)  # and the lock is free again
    assert _orders(project)["loads"] == 2


def test_a_file_held_outside_memberlens_is_a_user_error_not_an_internal_one(cdnow):
    """A program that opens the warehouse file directly with DuckDB holds DuckDB's own lock:
    a writer says so, with the fix (exit 75), and readers are not affected."""
    project, csv = cdnow
    shell = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
            "sys.stdin.readline()",
            str(project.warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert shell.stdout.readline().strip() == "open"
        blocked = ml("ingest", "orders", csv, "-p", project.root, check=False)
        assert blocked.returncode == 75, blocked.stderr
        assert "internal error" not in blocked.stderr
        assert "is open in another program" in blocked.stderr and "close it" in blocked.stderr
        assert _orders(project)["rows_stored"] == CDNOW_LINES
    finally:
        shell.stdin.write("\n")
        shell.stdin.flush()
        shell.wait(timeout=60)


def test_readers_keep_their_snapshot_across_a_publish(cdnow):
    """A reader opened before a write keeps the state it opened (the superseded snapshot is
    deleted but stays readable while open); a reader opened after sees the write; one snapshot
    is left on disk."""
    from memberlens.engine import connect

    project, _ = cdnow
    before = connect(project)
    writer = connect(project, read_only=False)
    writer.raw_sql("DELETE FROM orders WHERE member_id LIKE '1%'")
    kept = writer.table("orders").count().execute()
    assert before.table("orders").count().execute() == CDNOW_LINES
    writer.disconnect()  # publishes
    after = connect(project)
    assert after.table("orders").count().execute() == kept < CDNOW_LINES
    assert before.table("orders").count().execute() == CDNOW_LINES
    published = project.warehouse.with_name(project.warehouse.name + ".published")
    assert sorted(p.suffix for p in published.iterdir()) == ["", "", ".duckdb"]  # CURRENT, SOURCE
    before.disconnect()
    after.disconnect()


def test_a_project_written_before_snapshots_is_published_on_first_read(cdnow):
    import shutil

    from memberlens.engine import connect

    project, _ = cdnow
    shutil.rmtree(project.warehouse.with_name(project.warehouse.name + ".published"))
    con = connect(project)
    assert con.table("orders").count().execute() == CDNOW_LINES
    con.disconnect()
