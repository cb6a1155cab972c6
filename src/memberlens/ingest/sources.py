"""Reading a source into Arrow: CSV/TSV (any common encoding), Excel, Parquet, JSON lines, SQL.

Every reader returns the columns as they are in the source (text stays text, nothing is coerced
here) plus ``_line``: the line (CSV/Excel: counting the header as line 1) or row number a user
would look up in the original file, so every quarantined row can be traced back.

:func:`scan_source` only describes CSV/TSV and Parquet files (header, encoding, delimiter,
fingerprint) for an engine that reads them itself (DuckDB, see :mod:`.duckdb_reader`); other
sources are read into Arrow as by :func:`read_source`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from memberlens.exceptions import SourceError

LINE = "_line"
#: the pseudo column that holds generated order ids when an orders export has none.
GENERATED_ORDER_ID = "_generated_order_id"
_SAMPLE_BYTES = 1 << 20
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "big5"}


@dataclass(frozen=True)
class Source:
    """A source read into memory, or (``table`` None) described for the engine to read."""

    table: pa.Table | None
    label: str
    fingerprint: str
    format: str
    encoding: str | None = None
    #: the file(s) behind a described source (Parquet: the parts, in order).
    files: tuple[Path, ...] = ()
    #: the source's column names, in order (a described source has no table to ask).
    columns: tuple[str, ...] = ()
    #: CSV field delimiter of a described CSV source.
    delimiter: str | None = None

    @property
    def column_names(self) -> list[str]:
        """The source's columns (without ``_line``)."""
        if self.table is not None:
            return [c for c in self.table.column_names if c != LINE]
        return list(self.columns)


def scan_source(
    source: str | Path,
    *,
    sql_table: str | None = None,
    query: str | None = None,
    sheet: str | int | None = None,
    fingerprint: bool = True,
) -> Source:
    """Describe a CSV/TSV or Parquet file without reading its rows (``table`` is None); read any
    other source as :func:`read_source` does. With ``fingerprint=False`` a described file's
    ``fingerprint`` is left empty (for the caller to compute, e.g. while the engine reads it)."""
    text = str(source)
    if "://" not in text:
        path = Path(source)
        if path.is_file():
            suffix = path.suffix.lower()
            if suffix in (".csv", ".tsv", ".txt", ""):
                encoding, delimiter, names = _describe_csv(path)
                return Source(
                    None,
                    str(path),
                    file_fingerprint([path]) if fingerprint else "",
                    "csv",
                    encoding,
                    files=(path,),
                    columns=tuple(names),
                    delimiter=delimiter,
                )
            if suffix in (".parquet", ".pq"):
                return _describe_parquet(path, [path], fingerprint)
        elif path.is_dir():
            parts = sorted(path.glob("*.parquet"))
            if parts:
                return _describe_parquet(path, parts, fingerprint)
    return read_source(source, sql_table=sql_table, query=query, sheet=sheet)


def _describe_parquet(path: Path, parts: list[Path], fingerprint: bool = True) -> Source:
    import pyarrow.parquet as pq

    try:
        names = list(dict.fromkeys(n for p in parts for n in pq.read_schema(p).names))
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path}: not a readable Parquet file ({exc})") from None
    return Source(
        None,
        str(path),
        file_fingerprint(parts) if fingerprint else "",
        "parquet",
        files=tuple(parts),
        columns=tuple(names),
    )


def read_source(
    source: str | Path,
    *,
    sql_table: str | None = None,
    query: str | None = None,
    sheet: str | int | None = None,
) -> Source:
    """Read ``source`` (a path or a SQLAlchemy URL) into a :class:`Source`."""
    text = str(source)
    if "://" in text:
        return _read_sql(text, sql_table=sql_table, query=query)
    path = Path(source)
    if not path.exists():
        raise SourceError(
            f"{path}: no such file; check the path (relative paths are taken from "
            f"the current folder {Path.cwd()})"
        )
    if path.is_dir():
        parts = sorted(path.glob("*.parquet"))
        if not parts:
            raise SourceError(f"{path}: a folder can be loaded only if it holds *.parquet parts")
        return _read_parquet(path, parts)
    suffix = "".join(path.suffixes[-1:]).lower()
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path, [path])
    if suffix in (".xlsx", ".xlsm"):
        return _read_excel(path, sheet)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path)
    if suffix in (".csv", ".tsv", ".txt", ""):
        return _read_csv(path)
    raise SourceError(
        f"{path}: unsupported file type {suffix!r}; use CSV/TSV, .xlsx, .parquet, "
        ".jsonl, or a database URL such as sqlite:///shop.db with --sql-table"
    )


#: compressed files loaded directly: unpacked first (a ``.zip`` must hold one file).
PACKED = (".gz", ".zip")


def is_packed(source: object) -> bool:
    """Whether ``source`` is a ``.gz`` or ``.zip`` file path."""
    return (
        isinstance(source, (str, Path))
        and "://" not in str(source)
        and Path(source).suffix.lower() in PACKED
    )


def unpack(path: Path, into: Path) -> Path:
    """The one file inside ``path`` (``.gz``, or ``.zip`` holding one file), written to ``into``."""
    import gzip
    import shutil
    import zipfile

    if not path.is_file():
        raise SourceError(f"{path}: no such file; check the path")
    into.mkdir(parents=True, exist_ok=True)
    try:
        if path.suffix.lower() == ".gz":
            out = into / path.with_suffix("").name
            with gzip.open(path, "rb") as fin, open(out, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 22)
            return out
        with zipfile.ZipFile(path) as archive:
            names = [
                i.filename
                for i in archive.infolist()
                if not i.is_dir() and not i.filename.startswith("__MACOSX/")
            ]
            if len(names) != 1:
                raise SourceError(
                    f"{path}: the archive holds {len(names)} files ({names[:5]}); load a .zip "
                    "with one file, or unpack it and load each file into its table"
                )
            out = into / Path(names[0]).name
            with archive.open(names[0]) as fin, open(out, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 22)
            return out
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise SourceError(
            f"{path}: cannot unpack ({exc}); check that the file is complete"
        ) from None


def id_prefix(src: Source) -> str:
    """The prefix of ids generated as ``<file name>:<line>`` for an export without order ids."""
    return Path(src.label).name + ":"


def file_fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def detect_encoding(sample: bytes) -> str:
    """Encoding of a CSV from its first bytes: UTF-8 (with or without BOM), else GB18030, else a guess."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:  # a character cut at the end of the sample
            return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample[:200_000]).best()
    guess = (best.encoding if best else "").lower().replace("_", "")
    if not guess or guess in _GB_FAMILY or guess.startswith("gb"):
        return "gb18030"  # superset of GB2312/GBK: the usual encoding of Chinese exports
    return guess


def _with_lines(table: pa.Table, first: int) -> pa.Table:
    import numpy as np

    return table.append_column(
        LINE, pa.array(np.arange(first, first + table.num_rows, dtype=np.int64))
    )


def _describe_csv(path: Path) -> tuple[str, str, list[str]]:
    """(encoding, delimiter, header names) of a CSV file, from its first MiB."""
    with open(path, "rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    if not sample.strip():
        raise SourceError(f"{path}: the file is empty; export the data again with a header line")
    if b"\n" not in sample and b"\r" not in sample and len(sample) == _SAMPLE_BYTES:
        raise SourceError(
            f"{path}, line 1: the header line is longer than {_SAMPLE_BYTES >> 20} MiB; the "
            "first line must name the columns (is this a CSV export with a header line?)"
        )
    encoding = detect_encoding(sample)
    text = sample.decode(encoding, errors="ignore")
    first_line = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff_delimiter(text)
    names = [h.strip().lstrip("\ufeff") for h in _split_header(first_line, delimiter)]
    if len(set(names)) != len(names) or any(not n for n in names):
        shown = [n if len(n) <= 40 else n[:40] + "…" for n in names[:50]]
        raise SourceError(
            f"{path}, line 1: the header has empty or repeated column names "
            f"({shown}); give every column a unique name"
        )
    return encoding, delimiter, names


def _split_header(line: str, delimiter: str) -> list[str]:
    """The header's fields (``csv`` rules, without its per-field size limit)."""
    fields, current, quoted, i = [], [], False, 0
    while i < len(line):
        ch = line[i]
        if quoted:
            if ch == '"' and line[i + 1 : i + 2] == '"':
                current.append('"')
                i += 1
            elif ch == '"':
                quoted = False
            else:
                current.append(ch)
        elif ch == '"' and not "".join(current).strip():
            quoted = True
        elif ch == delimiter:
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    fields.append("".join(current))
    return fields


def physical_line(path: Path, encoding: str | None, record: int) -> int:
    """The line of a CSV file on which record ``record`` (1 = the header) starts, counting
    the line breaks inside quoted values that a CSV reader's record numbers skip."""
    quoted, line, records = False, 1, 1
    with open(path, encoding=encoding or "utf-8", errors="replace", newline="") as fh:
        for block in iter(lambda: fh.read(1 << 20), ""):
            for ch in block:
                if records >= record:
                    return line
                if ch == '"':
                    quoted = not quoted
                elif ch == "\n":
                    line += 1
                    records += not quoted
    return line


def _read_csv(path: Path) -> Source:
    import pyarrow.csv as pacsv

    encoding, delimiter, names = _describe_csv(path)
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding="utf8" if encoding == "utf-8-sig" else encoding,
                column_names=names,
                skip_rows=1,
                block_size=1 << 24,
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise SourceError(
            f"{path}{_line_of(path, encoding, str(exc))}: cannot parse as {encoding} CSV "
            f"({_arrow_problem(str(exc))}); check the delimiter, quote fields that contain it, "
            "and make every line have as many fields as the header"
        ) from None
    return Source(_with_lines(table, 2), str(path), file_fingerprint([path]), "csv", encoding)


def _arrow_problem(message: str) -> str:
    """Arrow's parse error without the row it quotes (which may hold personal data)."""
    import re

    found = re.search(r"Expected \d+ columns, got \d+", message)
    return found.group(0) if found else (message.splitlines() or [""])[0][:80]


def _line_of(path: Path, encoding: str, message: str) -> str:
    """ ", line N" for the line Arrow quotes in its parse error, if it can be found."""
    quoted = message.split(": ", 2)[-1].strip() if "got" in message else ""
    if not quoted:
        return ""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            if line.rstrip("\r\n") == quoted:
                return f", line {number}"
    return ""


def _sniff_delimiter(text: str) -> str:
    lines = text.splitlines()[:20]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def _read_parquet(path: Path, parts: list[Path]) -> Source:
    import pyarrow.parquet as pq

    try:
        table = pa.concat_tables([pq.read_table(p) for p in parts], promote_options="permissive")
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path}: not a readable Parquet file ({exc})") from None
    return Source(_with_lines(table, 1), str(path), file_fingerprint(parts), "parquet")


def _read_jsonl(path: Path) -> Source:
    import pyarrow.json as pajson

    try:
        table = pajson.read_json(path)
    except pa.ArrowInvalid as exc:
        raise SourceError(f"{path}: not JSON lines (one object per line): {exc}") from None
    return Source(_with_lines(table, 1), str(path), file_fingerprint([path]), "jsonl")


def _read_excel(path: Path, sheet: str | int | None) -> Source:
    import pandas as pd

    try:
        frame = pd.read_excel(
            path, sheet_name=sheet if sheet is not None else 0, dtype=object, engine="openpyxl"
        )
    except Exception as exc:  # openpyxl raises many kinds
        raise SourceError(f"{path}: cannot read the Excel sheet ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return Source(
        _with_lines(_frame_to_arrow(frame), 2), str(path), file_fingerprint([path]), "xlsx"
    )


def _frame_to_arrow(frame) -> pa.Table:
    """Arrow columns from an object frame: date/time cells stay timestamps, everything else text."""
    import pandas as pd

    cols = {}
    for name in frame.columns:
        col = frame[name]
        non_null = col.dropna()
        if len(non_null) and non_null.map(lambda v: isinstance(v, (pd.Timestamp,))).all():
            cols[name] = pa.array(pd.to_datetime(col), type=pa.timestamp("us"))
        else:
            cols[name] = pa.array([None if pd.isna(v) else str(v) for v in col], type=pa.string())
    return pa.table(cols)


def _read_sql(url: str, *, sql_table: str | None, query: str | None) -> Source:
    import sqlalchemy as sa

    if bool(sql_table) == bool(query):
        raise SourceError(f"{_safe_url(url)}: give exactly one of --sql-table NAME or --query SQL")
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            if sql_table:
                tbl = sa.Table(sql_table, sa.MetaData(), autoload_with=conn)
                result = conn.execute(sa.select(tbl))
            else:
                result = conn.execute(sa.text(query))
            names = list(result.keys())
            rows = result.fetchall()
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(
            f"{_safe_url(url)}: cannot read ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from None
    finally:
        if "engine" in locals():
            engine.dispose()
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=names)
    label = f"{_safe_url(url)}#{sql_table or 'query'}"
    digest = hashlib.sha256(io.BytesIO(frame.to_csv(index=False).encode()).getvalue()).hexdigest()
    return Source(_with_lines(_frame_to_arrow(frame.astype(object)), 1), label, digest, "sql")


def _safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]
