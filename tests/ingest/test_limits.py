"""Value bounds and what errors may show (issue 15, items 9 and 10): implausible amounts and
over-long values are quarantined, rounding is counted, oversized input is a user error, and
no message or reason repeats clear personal data or an unbounded value."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from memberlens.exceptions import ConfigError, SourceError
from memberlens.ingest import load
from memberlens.ingest.sources import read_source
from memberlens.ingest.status import quarantine_rows
from memberlens.project import Project

HEAD = "order_id,member_id,ordered_at,amount\n"


def stored(project, sql):
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


def with_settings(project, text: str) -> Project:
    """The project with ``text`` added to a copy of its file (the original text kept aside)."""
    original = project.root / "memberlens.toml.orig"
    if not original.exists():
        original.write_text(project.file.read_text())
    project.file.write_text(original.read_text() + "\n" + text)
    return Project.load(project.root)


def test_implausible_amounts_and_long_ids_are_quarantined(project, tmp_path, write):
    src = write(
        tmp_path / "orders.csv",
        HEAD
        + "o1,m1,2024-01-01,9999999999999999.99\n"  # fits DECIMAL(18,2), not a real order
        + "o2,m1,2024-01-01,10000000.01\n"  # just above the default bound
        + "o3,m1,2024-01-01,10000000\n"  # at the bound: kept
        + f"o4,{'z' * 100_000},2024-01-01,5\n"
        + f"{'k' * 129},m1,2024-01-01,5\n"
        + "o6,m1,2024-01-01,5\n",
    )
    rep = load("orders", src, project=project)
    assert rep.by_rule == {"out_of_range": 2, "value_too_long": 2}
    assert (rep.rows_stored, rep.rows_quarantined) == (2, 4)
    assert rep.rows_read == rep.rows_stored + rep.rows_quarantined + rep.duplicates_dropped
    rows = {r["line"]: r for r in quarantine_rows("orders", project).to_pylist()}
    assert rows[2]["rule"] == "out_of_range" and "max_amount" in rows[2]["reason"]
    long_id = rows[5]
    assert long_id["field"] == "member_id" and long_id["rule"] == "value_too_long"
    # the reason quotes at most 60 characters of the value and says how long it was
    assert len(long_id["reason"]) < 400 and "(100000 characters)" in long_id["reason"]
    # the quarantined copy of the field is cut too (1,000 characters and the length)
    assert len(long_id["member_id"]) < 1100 and long_id["member_id"].startswith("z" * 1000)


def test_bounds_are_settings(project, tmp_path, write):
    proj = with_settings(project, "[ingest]\nmax_amount = 100\nmax_id_length = 3\n")
    src = write(tmp_path / "o.csv", HEAD + "o1,m1,2024-01-01,100\no2,m1,2024-01-01,100.5\n")
    rep = load("orders", src, project=proj)
    assert rep.by_rule == {"out_of_range": 1} and rep.rows_stored == 1
    src = write(tmp_path / "p.csv", HEAD + "o3,m123,2024-01-01,1\n")
    assert load("orders", src, project=proj).by_rule == {"value_too_long": 1}
    bad = with_settings(project, "[ingest]\nmax_amount = 'lots'\n")
    with pytest.raises(ConfigError, match=r"max_amount = 'lots'"):
        load("orders", src, project=bad)


def test_rounding_that_changes_a_value_is_counted(project, tmp_path, write):
    src = write(
        tmp_path / "o.csv",
        HEAD
        + "o1,m1,2024-01-01,0.001\n"  # stored as 0.00: changed
        + "o2,m1,2024-01-01,12.345\n"  # 12.35 (or 12.34): changed
        + "o3,m1,2024-01-01,12.3400\n"  # trailing zeros: unchanged
        + "o4,m1,2024-01-01,12.34\n",
    )
    rep = load("orders", src, project=project)
    assert rep.rows_stored == 4 and rep.rounded == {"amount": 2}
    notes = stored(project, "select notes from _loads")[0][0]
    assert '"rounded": {"amount": 2}' in notes


def test_parse_error_names_the_line_after_quoted_line_breaks_without_personal_data(
    project, tmp_path, write
):
    # line 1 header; the quoted note spans lines 2-4; the broken row is line 5
    src = write(
        tmp_path / "orders.csv",
        "order_id,member_id,ordered_at,amount,note\n"
        'o1,m1,2024-01-01,10,"first\nsecond\nthird"\n'
        "o2,m2,2024-01-01,10,Zhang Wei,13812345678,zhang.wei@example.com\n",
    )
    with pytest.raises(SourceError) as err:
        load("orders", src, project=project)
    message = str(err.value)
    assert "orders.csv, line 5:" in message
    for secret in ("Zhang", "13812345678", "zhang.wei"):
        assert secret not in message
    # the Arrow reader (other sources, Spark) says the same, without the row either
    flat = write(
        tmp_path / "flat.csv",
        HEAD + "o1,m1,2024-01-01,10\no2,m2,2024-01-01,10,Zhang Wei,13812345678\n",
    )
    with pytest.raises(SourceError) as err:
        read_source(flat)
    assert "flat.csv, line 3:" in str(err.value) and "13812345678" not in str(err.value)


def test_oversized_header_and_field_are_user_errors(project, tmp_path, write):
    big_header = write(tmp_path / "h.csv", HEAD.strip() + "," + "y" * 10_000_000 + "\n")
    with pytest.raises(SourceError, match=r"h.csv, line 1: the header line is longer"):
        load("orders", big_header, project=project)
    proc = subprocess.run(
        [sys.executable, "-m", "memberlens", "ingest", "orders", big_header, "-p", project.root],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == SourceError.exit_code and "internal error" not in proc.stderr
    big_field = write(tmp_path / "f.csv", HEAD + f"o1,{'x' * 10_000_000},2024-01-01,10\n")
    rep = load("orders", big_field, project=project)
    assert rep.by_rule == {"value_too_long": 1}
    row = quarantine_rows("orders", project).to_pylist()[0]
    assert len(row["reason"]) < 400 and len(row["member_id"]) < 1100
