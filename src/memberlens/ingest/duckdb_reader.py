"""Files DuckDB reads itself: CSV/TSV and Parquet straight into the load's stage.

No copy of the file passes through Python or Arrow: DuckDB's ``read_csv`` (all columns as text)
or ``read_parquet`` feeds one ``CREATE TEMP TABLE ... AS`` that cleans the text, pseudonymises
personal fields and computes the typed values (:func:`memberlens.ingest.rules.stage`). DuckDB
keeps the file's row order when it stores the stage, so a row's line is its row number. CSVs in
an encoding DuckDB cannot read (GBK/GB18030, UTF-16) are first transcoded to a temporary UTF-8
file. The result is the same, field for field, as reading the file into Arrow
(tests/ingest/test_engine_reader.py).
"""

from __future__ import annotations

import codecs
import contextlib
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.engine import register_arrow, unregister
from memberlens.engine.warehouse import Warehouse
from memberlens.exceptions import SourceError
from memberlens.ingest import settings
from memberlens.ingest.days import day_sql
from memberlens.ingest.mapping import Mapping
from memberlens.ingest.personal import normalised
from memberlens.ingest.rules import (
    RAW,
    float_written_ids,
    normalise_dates,
    normalise_numbers,
    stage,
    typed_value,
)
from memberlens.ingest.sources import GENERATED_ORDER_ID, LINE, Source, id_prefix, physical_line
from memberlens.privacy import mask_values, pseudonymise
from memberlens.project import Project
from memberlens.schema import TableSpec

#: the temporary tables and view of a load's stage.
STAGE, LINES, FIXED, MARKS = (
    "__ingest_stage",
    "__ingest_lines",
    "__ingest_stage_fixed",
    "__ingest_marks",
)


def stage_file(
    wh: Warehouse, spec: TableSpec, src: Source, chosen: Mapping, proj: Project, tmp_dir: Path
) -> tuple[ir.Table, tuple[str, ...]]:
    """The load's typed stage of a described CSV/Parquet file, read by DuckDB, and the id fields
    read without a ``.0`` (:func:`~memberlens.ingest.rules.float_written_ids`)."""
    inp = _engine_input(wh, spec, src, chosen, proj, tmp_dir)
    try:
        floats = float_written_ids(inp, spec)
        staged = wh.materialize(STAGE, stage(inp, spec, recode=chosen.values, float_ids=floats))
    except duckdb.Error as exc:
        if src.format == "csv" and "CSV" in str(exc):
            raise csv_error(src, exc) from None
        raise
    finally:
        _drop_udfs(wh, spec)
    if LINE not in staged.columns:
        # DuckDB stores the rows in file order: the row number gives the line
        first = 2 if src.format == "csv" else 1
        generated = ""
        if chosen.columns.get("order_id") == GENERATED_ORDER_ID:
            generated = (
                f", {sql_literal(id_prefix(src))} || CAST(rowid + {first} AS VARCHAR) "
                f"AS {sql_name(RAW + 'order_id')}"
            )
        wh.con.raw_sql(
            f'CREATE OR REPLACE TEMP VIEW "{LINES}" AS SELECT rowid + {first} '
            f'AS "{LINE}"{generated}, * FROM "{STAGE}"'
        )
        staged = wh.con.table(LINES)
    return _fix_spellings(wh, staged, spec, inp, chosen, proj.timezone), floats


def drop_stage(wh: Warehouse) -> None:
    """Drop the temporary tables (and view) of a load's stage, whichever exist, on any engine."""
    with contextlib.suppress(Exception):
        if wh.con.name == "duckdb":
            wh.con.raw_sql(f'DROP VIEW IF EXISTS "{LINES}"')
        for name in (MARKS, FIXED, STAGE):
            wh.drop_temp(name)


def _engine_input(
    wh: Warehouse, spec: TableSpec, src: Source, chosen: Mapping, proj: Project, tmp_dir: Path
) -> ir.Table:
    """The mapped columns of a file DuckDB reads itself, as ``prepare`` gives them from Arrow:
    ``_raw_<field>`` cleaned text (personal data pseudonymised, plus ``<field>_masked``) and,
    for typed Parquet columns, ``<field>`` with the column's own type."""
    con = wh.con.con
    wanted = [c for c in chosen.read if c != GENERATED_ORDER_ID]
    rel, types, first_line, profile = scan_relation(con, src, wanted, tmp_dir=tmp_dir)
    has_line = first_line is None
    pos = {c: f"c{j}" for j, c in enumerate(wanted)}
    text: dict[str, str] = {}
    clocks = {name: _text_sql(pos[col], types[col], profile) for name, col in chosen.times.items()}
    day_one = settings.day_one(proj)
    for name, col in chosen.columns.items():
        if col == GENERATED_ORDER_ID:
            continue
        text[name] = _text_sql(pos[col], types[col], profile)
        if name in chosen.days:
            text[name] = day_sql(text[name], clocks.get(name), day_one)
        elif name in clocks:
            clock = clocks[name]
            text[name] = (
                f"CASE WHEN {clock} IS NULL THEN {text[name]} "
                f"ELSE {text[name]} || ' ' || {clock} END"
            )
    sel = [f'"{LINE}"'] if has_line else []
    for f in spec.fields:
        col = chosen.columns.get(f.name)
        if col is None:
            continue
        raw = sql_name(RAW + f.name)
        if col == GENERATED_ORDER_ID:
            if has_line:
                sel.append(
                    f"{sql_literal(id_prefix(src))} || CAST({sql_name(LINE)} AS VARCHAR) AS {raw}"
                )
            continue
        if f.pii:
            by_type = spec.name == "identities" and "id_type" in text
            args = text[f.name] + (f", {text['id_type']}" if by_type else "")
            udf = _register_udf(wh, f, proj, by_type=by_type)
            sel.append(f"{udf}({args}).stored AS {raw}")
            sel.append(f"{udf}({args}).masked AS {sql_name(f.name + '_masked')}")
        else:
            sel.append(f"{text[f.name]} AS {raw}")
        if types[col] != "VARCHAR" and f.type != "string" and f.name not in chosen.days:
            sel.append(f"{pos[col]} AS {sql_name(f.name)}")
    return wh.con.sql(f"SELECT {', '.join(sel)} FROM {rel}")


def _text_sql(c: str, kind: str, profile: tuple | None) -> str:
    """SQL text of column ``c`` (DuckDB type ``kind``) as cleaned text, as Arrow writes it."""
    if kind.startswith("TIMESTAMP"):
        c = f"strftime({c}, '%Y-%m-%d %H:%M:%S.%f')"
    elif kind == "DATE":
        c = f"strftime({c}, '%Y-%m-%d %H:%M:%S')"
    elif kind in ("DOUBLE", "FLOAT"):  # Arrow writes 3.0 as "3"
        c = (
            f"CASE WHEN {c} = trunc({c}) AND abs({c}) < 1e15 THEN "
            f"CAST(CAST({c} AS BIGINT) AS VARCHAR) ELSE CAST({c} AS VARCHAR) END"
        )
    elif kind != "VARCHAR":
        c = f"CAST({c} AS VARCHAR)"
    if profile and kind == "VARCHAR":
        return sql_clean_text(c, ascii_ws=profile[0], non_ascii=not profile[1])
    return sql_clean_text(c)


def _register_udf(wh: Warehouse, f, proj: Project, *, by_type: bool) -> str:
    """A DuckDB function giving a personal field's stored and masked forms (a struct), computed
    in Arrow batches by the same code as for Arrow sources, so clear values never reach a table.
    One function for both forms: DuckDB calls it once per batch however often it is named."""
    import duckdb.sqltypes as st

    name = f"__ml_pii_{f.name}"
    params = [st.VARCHAR, st.VARCHAR] if by_type else [st.VARCHAR]
    result = duckdb.struct_type({"stored": st.VARCHAR, "masked": st.VARCHAR})
    key = None if proj.keep_clear_pii else proj.secret()

    def forms(value, id_type=None):
        value = value.combine_chunks() if isinstance(value, pa.ChunkedArray) else value
        if isinstance(id_type, pa.ChunkedArray):
            id_type = id_type.combine_chunks()
        norm = normalised(f.pii, value.cast(pa.string()), id_type)
        stored = norm if key is None else pseudonymise(norm, key)
        return pa.StructArray.from_arrays(
            [stored, mask_values(f.pii, norm)], names=["stored", "masked"]
        )

    if by_type:

        def pii(value, id_type):
            return forms(value, id_type)
    else:

        def pii(value):
            return forms(value)

    wh.con.con.create_function(
        name, pii, params, result, type="arrow", null_handling="special", side_effects=False
    )
    return name


def _drop_udfs(wh: Warehouse, spec: TableSpec) -> None:
    for f in spec.pii_fields:
        with contextlib.suppress(Exception):
            wh.con.con.remove_function(f"__ml_pii_{f.name}")


def _fix_spellings(
    wh: Warehouse,
    staged: ir.Table,
    spec: TableSpec,
    inp: ir.Table,
    chosen: Mapping,
    timezone: str | None = None,
) -> ir.Table:
    """Dates and numbers the engine could not read as they are (``2024年1月5日``, ``20240105``,
    ``1/5/2024``, ``￥1,234.50``) are rewritten by the same Arrow code that ``prepare`` applies to
    Arrow sources, and typed again; values the engine read directly are unchanged by it."""
    fields = [
        f
        for f in spec.fields
        if f.name in chosen.columns
        and f.name not in inp.columns
        and f"__{f.name}" in staged.columns
        and f.type in _SPELLED
    ]
    fixed = staged
    fix_cols = []
    for f in fields:
        raw, typed = staged[RAW + f.name], staged[f"__{f.name}"]
        bad = (
            staged.filter(raw.notnull() & typed.isnull())
            .select(staged[LINE], raw.name("v"))
            .order_by(LINE)
            .to_pyarrow()
        )
        if not bad.num_rows:
            continue
        text = bad.column("v").combine_chunks()
        if f.type in ("timestamp", "date"):
            norm = normalise_dates(text, timezone if f.type == "timestamp" else None)
        else:
            norm = normalise_numbers(text)
        changed = pc.fill_null(pc.not_equal(norm, text), False)
        if not pc.any(changed).as_py():
            continue
        name = f"__ingest_fix_{f.name}"
        part = register_arrow(
            wh.con,
            name,
            pa.table(
                {
                    f"__fix_line_{f.name}": bad.column(LINE).combine_chunks().filter(changed),
                    f"__fix_{f.name}": norm.filter(changed),
                }
            ),
        )
        fixed = fixed.left_join(part, fixed[LINE] == part[f"__fix_line_{f.name}"])
        value = typed_value(fixed[f"__fix_{f.name}"], f, chosen.values.get(f.name, {}))
        fixed = fixed.mutate(**{f"__{f.name}": ibis.coalesce(fixed[f"__{f.name}"], value)})
        fix_cols += [f"__fix_line_{f.name}", f"__fix_{f.name}"]
    if not fix_cols:
        return staged
    out = wh.materialize(FIXED, fixed.drop(*fix_cols))
    for f in fields:
        with contextlib.suppress(Exception):
            unregister(wh.con, f"__ingest_fix_{f.name}")
    return out


_SPELLED = ("timestamp", "date", "decimal", "float", "integer")


# -- SQL text --------------------------------------------------------------------------------------

#: the characters Arrow's ``utf8_trim_whitespace`` removes (Unicode White_Space), so that text
#: cleaned by DuckDB is exactly the text cleaned in Arrow.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: the ASCII white-space characters (the others are all outside ASCII).
ASCII_WS = "".join(ch for ch in WHITESPACE if ch < "\x80")


def sql_clean_text(expr: str, *, ascii_ws: str = ASCII_WS, non_ascii: bool = True) -> str:
    """SQL for ``expr`` trimmed of white space, empty text as NULL (as ``rules._as_text``).

    Most values need no trimming and are kept as they are, after checks chosen for their cost
    in DuckDB (reading a string's last character is the dear part; ``ord`` reads the first from
    the string's header and ``suffix`` compares bytes in place): ASCII text that starts with a
    printable character and ends with none of the ASCII white-space characters; other text
    whose first and last characters are not white space. The rest go through the exact, slower
    ``trim``. A CSV scanned by :func:`text_profile` narrows the checks to what the file can
    hold: ``ascii_ws``, the ASCII white space that occurs in it, and ``non_ascii=False`` when
    it is pure ASCII.
    """
    ws = sql_literal(WHITESPACE)
    trailing = " OR ".join(f"suffix({expr}, {sql_literal(ch)})" for ch in ascii_ws)
    first = f"ord({expr}) BETWEEN 33 AND 126"
    if not non_ascii:
        return (
            f"CASE WHEN {first} AND NOT ({trailing}) THEN {expr} "
            f"ELSE nullif(trim({expr}, {ws}), '') END"
        )
    return (
        f"CASE WHEN {first} AND strlen({expr}) = length({expr}) AND NOT ({trailing}) "
        f"THEN {expr} WHEN strlen({expr}) <> length({expr}) "
        f"AND NOT contains({ws}, {expr}[1]) AND NOT contains({ws}, {expr}[-1]) THEN {expr} "
        f"ELSE nullif(trim({expr}, {ws}), '') END"
    )


def text_profile(path: Path) -> tuple[str, bool]:
    """(ASCII white space that may end a value of this UTF-8 CSV, whether it is pure ASCII).

    A space or a line feed (inside quotes) always may; a tab, carriage return and the rarer
    controls only if the file holds them at all. One pass over the bytes (``memchr`` and
    ``isascii`` loops: well under a second for 1 GB) that lets :func:`sql_clean_text` skip the
    checks a file cannot need.
    """
    import mmap

    rare = set(ASCII_WS) - {" ", "\n"}
    present, ascii_only, block = set(), True, 1 << 22
    if path.stat().st_size == 0:
        return " \n", True
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for at in range(0, len(data), block):
            chunk = data[at : at + block]
            ascii_only = ascii_only and chunk.isascii()
            present |= {ch for ch in rare - present if ch.encode() in chunk}
    return " \n" + "".join(sorted(present)), ascii_only


def scan_relation(
    con, src: Source, columns: list[str], *, tmp_dir: Path
) -> tuple[str, dict[str, str], int | None, tuple | None]:
    """A DuckDB relation (SQL text) reading ``columns`` of a described source.

    Returns (relation, {column: DuckDB type}, first line, the CSV's :func:`text_profile` or
    None). The relation names the columns
    ``c0``, ``c1``, ... in the order asked. DuckDB stores rows in the order the file holds them,
    so the loader takes each row's line from its row number in the stored stage (line = row +
    first line: 2 for a CSV, whose line 1 is the header, 1 for a Parquet file). A folder of
    Parquet parts is read with an explicit ``_line`` column instead (first line None).
    """
    index = {c: i for i, c in enumerate(src.columns)}
    if src.format == "csv":
        path = _utf8_copy(src, tmp_dir)
        spec = ", ".join(f"{sql_literal(f'c{i}')}: 'VARCHAR'" for i in range(len(src.columns)))
        rel = (
            f"read_csv({sql_literal(str(path))}, header=false, skip=1, columns={{{spec}}}, "
            f"delim={sql_literal(src.delimiter or ',')}, quote='\"', escape='\"', "
            "auto_detect=false, null_padding=false, strict_mode=true)"
        )
        sel = ", ".join(f"c{index[c]} AS c{j}" for j, c in enumerate(columns))
        return (
            f"(SELECT {sel} FROM {rel})",
            dict.fromkeys(columns, "VARCHAR"),
            2,
            text_profile(path),
        )
    import pyarrow.parquet as pq

    parts, offset = [], 0
    for p in src.files:
        names = set(pq.read_schema(p).names)
        sel = ", ".join(
            (f"{sql_name(c)} AS c{j}" if c in names else f"NULL AS c{j}")
            for j, c in enumerate(columns)
        )
        if len(src.files) == 1:
            parts.append(f"SELECT {sel} FROM read_parquet({sql_literal(str(p))})")
        else:
            parts.append(
                f"SELECT {sel}, file_row_number + {offset + 1} AS _line FROM "
                f"read_parquet({sql_literal(str(p))}, file_row_number=true)"
            )
        offset += pq.read_metadata(p).num_rows
    rel = "(" + " UNION ALL BY NAME ".join(parts) + ")"
    types = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
    first = 1 if len(src.files) == 1 else None
    return rel, {c: types[f"c{j}"] for j, c in enumerate(columns)}, first, None


def _utf8_copy(src: Source, tmp_dir: Path) -> Path:
    """The CSV itself when DuckDB can read its encoding, else a UTF-8 copy under ``tmp_dir``."""
    path = src.files[0]
    if src.encoding in ("utf-8", "utf-8-sig"):
        return path
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = tmp_dir / f"{path.stem}.utf8.csv"
    decoder = codecs.getincrementaldecoder(src.encoding)()
    line = 1
    with open(path, "rb") as fin, open(out, "w", encoding="utf-8", newline="") as fout:
        while True:
            block = fin.read(1 << 22)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                line += bytes(exc.object[: exc.start]).count(b"\n")
                fout.close()
                out.unlink(missing_ok=True)
                raise SourceError(
                    f"{path}, line {line}: cannot decode as {src.encoding} "
                    f"({exc.reason}); save the file as UTF-8 (or GBK) and load "
                    "it again"
                ) from None
            fout.write(text)
            line += text.count("\n")
            if not block:
                break
    return out


def csv_error(src: Source, exc: Exception) -> SourceError:
    """DuckDB's CSV error as a one-line message naming the file, the line and the fix."""
    import re

    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    # DuckDB counts records; a quoted value with line breaks spans several lines of the file
    where = (
        f", line {physical_line(src.files[0], src.encoding, int(line.group(1)))}" if line else ""
    )
    detail = next(
        (
            ln.strip()
            for ln in text.splitlines()[1:]
            if ln.strip() and not ln.startswith(("Original Line", "Possible", "*", " "))
        ),
        text.splitlines()[0],
    )[:160]
    return SourceError(
        f"{src.label}{where}: cannot parse as {src.encoding} CSV ({detail}); check "
        "the delimiter, quote fields that contain it, and make every line have as "
        "many fields as the header"
    )
