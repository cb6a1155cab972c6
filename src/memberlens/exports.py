"""The one writer of every CSV and Excel export (dashboard, ``members --export``,
``quarantine --export`` and any later one).

* **Formula injection** (OWASP "CSV Injection"): a text cell that starts with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return is prefixed with a single quote, so a spreadsheet shows
  it as text instead of running it (``=HYPERLINK(...)`` would otherwise send data away when
  clicked). Excel cells of text are written as strings, never as formulas. Numbers stay numbers:
  a negative amount is a number column and is not touched.
* **File mode**: files are created readable by their owner only (0600); an existing file is
  narrowed to 0600 before it is overwritten.
* **k-anonymity**: every export reports the smallest number of rows that share one combination
  of the quasi-identifiers present (:data:`QUASI_IDENTIFIERS`: age band, city, gender), so an
  operator sees when a row could single out a person (k = 1).
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import pyarrow as pa
import pyarrow.compute as pc

from memberlens.exceptions import ConfigError

ExportFormat = Literal["csv", "xlsx", "parquet"]
#: first characters that make a spreadsheet read a cell as a formula (OWASP)
FORMULA_START = r"^[=+\-@\t\r]"
#: columns that, together, can single out a person (generalised forms, as stored)
QUASI_IDENTIFIERS: tuple[str, ...] = ("age_band", "city", "gender")
#: control characters an .xlsx file cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE)
_ILLEGAL_XLSX = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
FILE_MODE = 0o600


@dataclass(frozen=True)
class KAnonymity:
    """The smallest group of rows sharing one combination of the quasi-identifier ``columns``
    (``k``; None when the export has no such column or no row) and the number of groups."""

    columns: tuple[str, ...]
    k: int | None
    groups: int

    def to_dict(self) -> dict:
        return {**asdict(self), "columns": list(self.columns)}


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: rows, columns, text cells neutralised, k-anonymity."""

    format: ExportFormat
    rows: int
    columns: tuple[str, ...]
    neutralised: int
    k_anonymity: KAnonymity
    path: Path | None = None

    def to_dict(self) -> dict:
        return {
            "format": self.format,
            "rows": self.rows,
            "columns": list(self.columns),
            "neutralised": self.neutralised,
            "k_anonymity": self.k_anonymity.to_dict(),
            "path": None if self.path is None else str(self.path),
        }


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_text(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def neutralise(table: pa.Table) -> tuple[pa.Table, int]:
    """``table`` with every text cell that a spreadsheet would run as a formula prefixed with a
    single quote, and the number of cells changed. Non-text columns are returned unchanged."""
    changed = 0
    for i, field in enumerate(table.schema):
        if not _is_text(field.type):
            continue
        col = table.column(i)
        if pa.types.is_dictionary(field.type):
            col = col.cast(pa.string())
        risky = pc.fill_null(pc.match_substring_regex(col, FORMULA_START), False)
        n = pc.sum(risky.cast(pa.int64())).as_py() or 0
        if n:
            quoted = pc.binary_join_element_wise(pa.scalar("'", col.type), col, "")
            col = pc.if_else(risky, quoted, col)
            changed += n
        table = table.set_column(i, pa.field(field.name, col.type), col)
    return table, changed


def k_anonymity(table: pa.Table, columns: tuple[str, ...] = QUASI_IDENTIFIERS) -> KAnonymity:
    """k of ``table`` over the quasi-identifiers among ``columns`` that it has (nulls form
    their own group)."""
    present = tuple(c for c in columns if c in table.column_names)
    if not present or table.num_rows == 0:
        return KAnonymity(present, None, 0)
    keys = table.select(list(present))
    keys = pa.table({c: pc.cast(keys[c], pa.string()) for c in present})
    counts = keys.group_by(list(present)).aggregate([([], "count_all")])["count_all"]
    return KAnonymity(present, int(pc.min(counts).as_py()), counts.length())


def _xlsx_sheet(book: Any, table: pa.Table, sheet: str) -> None:
    from openpyxl.cell import WriteOnlyCell

    ws = book.create_sheet(sheet[:31])
    ws.append([WriteOnlyCell(ws, value=name) for name in table.column_names])
    for batch in table.to_batches(max_chunksize=10_000):
        columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        for values in zip(*columns, strict=True):
            row = []
            for v in values:
                if isinstance(v, dt.datetime) and v.tzinfo is not None:
                    v = v.astimezone(dt.UTC).replace(tzinfo=None)
                cell = WriteOnlyCell(ws, value=v)
                if isinstance(v, str):
                    cell.data_type = "s"  # text is a string, never a formula
                row.append(cell)
            ws.append(row)


def _xlsx(table: pa.Table, out: BinaryIO, sheet: str) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    _xlsx_sheet(book, table, sheet)
    book.save(out)


def write_workbook(sheets: dict[str, pa.Table], path: Path | str) -> list[ExportResult]:
    """Several tables as the sheets of one .xlsx file (each neutralised like
    :func:`write_export`), owner-readable only."""
    from openpyxl import Workbook

    path = Path(path)
    if format_of(path) != "xlsx":
        raise ConfigError(f"--export {path}: a workbook needs a .xlsx file name")
    book = Workbook(write_only=True)
    results = []
    for name, table in sheets.items():
        safe, changed = _prepare(table, "xlsx")
        _xlsx_sheet(book, safe, name)
        results.append(_result(table, "xlsx", changed, path))
    try:
        with private_file(path) as out:
            book.save(out)
    except OSError as exc:
        raise ConfigError(
            f"--export {path}: cannot write ({exc.strerror}); choose a writable path"
        ) from exc
    return results


def _prepare(table: pa.Table, format: ExportFormat) -> tuple[pa.Table, int]:
    if format == "parquet":
        return table, 0  # typed columnar data: no spreadsheet reads it as formulas
    table, changed = neutralise(table)
    if format == "xlsx":
        for i, field in enumerate(table.schema):
            if _is_text(field.type):
                col = pc.replace_substring_regex(table.column(i), _ILLEGAL_XLSX, "")
                table = table.set_column(i, field.name, col)
    return table, changed


def _write(table: pa.Table, format: ExportFormat, out: BinaryIO, sheet: str) -> None:
    if format == "csv":
        import pyarrow.csv as pacsv

        out.write(b"\xef\xbb\xbf")  # BOM: Excel opens UTF-8 Chinese text correctly
        pacsv.write_csv(table, out)
    elif format == "xlsx":
        _xlsx(table, out, sheet)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, out)


def export_bytes(
    table: pa.Table, format: ExportFormat, *, sheet: str = "export"
) -> tuple[bytes, ExportResult]:
    """The export of ``table`` as bytes (for a download) and what it holds."""
    safe, changed = _prepare(table, format)
    buf = io.BytesIO()
    _write(safe, format, buf, sheet)
    return buf.getvalue(), _result(table, format, changed, None)


def format_of(path: Path) -> ExportFormat:
    """The export format named by ``path``'s suffix (.csv, .xlsx or .parquet)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    if suffix == ".parquet":
        return "parquet"
    raise ConfigError(f"--export {path}: use a .csv, .xlsx or .parquet file name")


def private_file(path: Path) -> BinaryIO:
    """``path`` opened for writing, created (or narrowed to) mode 0600: owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "wb")


def write_export(table: pa.Table, path: Path | str, *, sheet: str = "export") -> ExportResult:
    """Write ``table`` to ``path`` (.csv, .xlsx or .parquet by suffix), owner-readable only."""
    path = Path(path)
    format = format_of(path)
    safe, changed = _prepare(table, format)
    try:
        with private_file(path) as out:
            _write(safe, format, out, sheet)
    except OSError as exc:
        raise ConfigError(
            f"--export {path}: cannot write ({exc.strerror}); choose a writable path"
        ) from exc
    return _result(table, format, changed, path)


def write_frame(frame, path: Path | str, *, sheet: str = "export") -> ExportResult:
    """:func:`write_export` of a pandas DataFrame (its index left out)."""
    return write_export(pa.Table.from_pandas(frame, preserve_index=False), path, sheet=sheet)


def _result(table: pa.Table, format: ExportFormat, changed: int, path: Path | None) -> ExportResult:
    return ExportResult(
        format=format,
        rows=table.num_rows,
        columns=tuple(table.column_names),
        neutralised=changed,
        k_anonymity=k_anonymity(table),
        path=path,
    )
