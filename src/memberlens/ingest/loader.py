"""Loading one source into the warehouse: read, map, pseudonymise, check, store, all or nothing."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.engine import register_arrow, unregister
from memberlens.engine.warehouse import Warehouse, open_warehouse
from memberlens.exceptions import SourceError
from memberlens.ingest import days, duckdb_reader, lines, regional, settings
from memberlens.ingest.duckdb_reader import MARKS, STAGE
from memberlens.ingest.mapping import Mapping, check_required, propose_mapping, read_mapping
from memberlens.ingest.personal import generalise, protect
from memberlens.ingest.rules import (
    QUARANTINE_CHARS,
    RAW,
    Context,
    check,
    cut,
    duplicate_marks,
    failures,
    field_of,
    float_ids_note,
    float_written_ids,
    prepare,
    reason,
    rule_of,
    stage,
    typed_values,
)
from memberlens.ingest.sources import (
    GENERATED_ORDER_ID,
    LINE,
    Source,
    file_fingerprint,
    id_prefix,
    is_packed,
    read_source,
    scan_source,
    unpack,
)
from memberlens.project import Project
from memberlens.schema import TableSpec, table_spec

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LoadReport:
    """What one load did. ``rows_read == rows_stored + rows_quarantined + duplicates_dropped``."""

    table: str
    source: str
    load_id: str
    rows_read: int
    rows_stored: int
    rows_quarantined: int
    duplicates_dropped: int
    by_rule: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    #: rows added to other tables derived from this one, e.g. {"orders": 120} for line exports.
    derived: dict[str, int] = field(default_factory=dict)
    #: rows without a member id kept as anonymous sales (line-level exports).
    anonymous_rows: int = 0
    #: True when the same file was loaded before and nothing was stored.
    already_loaded: bool = False
    #: stored values whose text had more decimals than the field keeps (0.001 -> 0.00), by field.
    rounded: dict[str, int] = field(default_factory=dict)
    #: the amount the dropped duplicate lines carried (tables with an amount).
    duplicates_amount: float | None = None
    #: the earlier loads of this file whose rows this load replaced (``--reload``).
    replaces: tuple[str, ...] = ()
    #: plain-language notes on what the load means for later steps.
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Preview:
    """What a load would do, without storing anything (``--dry-run``)."""

    table: str
    source: str
    encoding: str | None
    mapping: Mapping
    rows: pa.Table
    #: required fields without a column in the source (``allow_missing=True`` only).
    missing: tuple[str, ...] = ()


def _resolve(project: Project | str | Path | None) -> Project:
    return project if isinstance(project, Project) else Project.load(project)


#: the prefix of the scratch folders that hold an unpacked ``.gz``/``.zip`` during its load.
UNPACKED = "unpacked-"

#: required fields a source may leave out: generated (order ids), or left empty with a note.
OPTIONAL = {"order_items": ("member_id",), "orders": ("order_id", "amount")}
#: what a load says when a source leaves such a field out.
NO_AMOUNT = (
    "the orders have no amount column: they are stored without amounts, so the value models "
    "(spend, CLV value, monetary scores) are off; everything that needs only counts and dates "
    "works"
)


def _source_and_mapping(
    table: str,
    source,
    mapping,
    *,
    sql_table=None,
    query=None,
    sheet=None,
    scan: bool = False,
    require: bool = True,
    unpack_dir: Path | None = None,
):
    spec = table_spec(table)
    if is_packed(source) and scan:
        # unpacked into the project's scratch folder (removed when the load ends), then read
        # like any file: a CSV or Parquet by DuckDB itself, with the archive's name
        into = Path(tempfile.mkdtemp(dir=unpack_dir, prefix=UNPACKED))
        try:
            src = scan_source(unpack(Path(source), into), fingerprint=False)
            src = replace(src, label=str(source))
            if src.table is not None:  # read into Arrow (Excel, JSON lines): nothing left
                shutil.rmtree(into, ignore_errors=True)
                src = replace(src, files=())
            return _map_source(spec, src, mapping, require=require)
        except BaseException:
            shutil.rmtree(into, ignore_errors=True)
            raise
    if is_packed(source):
        with tempfile.TemporaryDirectory(dir=unpack_dir) as tmp:
            inner = unpack(Path(source), Path(tmp))
            source = replace(read_source(inner), label=str(source), files=())
    if isinstance(source, Source):
        src = source
    elif scan:
        src = scan_source(source, sql_table=sql_table, query=query, sheet=sheet, fingerprint=False)
    else:
        src = read_source(source, sql_table=sql_table, query=query, sheet=sheet)
    return _map_source(spec, src, mapping, require=require)


def _map_source(
    spec: TableSpec, src: Source, mapping, *, require: bool
) -> tuple[TableSpec, Source, Mapping]:
    """The mapping of an open source (proposed, or read from a file), checked."""
    table = spec.name
    columns = src.column_names
    if isinstance(mapping, Mapping):
        chosen = mapping
    elif mapping:
        chosen = read_mapping(mapping, spec, columns)
    else:
        chosen = propose_mapping(columns, spec)
    if require:
        check_required(
            chosen, spec, label=src.label, columns=columns, optional=OPTIONAL.get(table, ())
        )
    if table == "orders" and "order_id" not in chosen.columns:
        src, chosen = _with_generated_order_ids(src, chosen)
    return spec, src, chosen


def _with_generated_order_ids(src: Source, chosen: Mapping) -> tuple[Source, Mapping]:
    """Exports without an order id (one purchase per line, like CDNOW) get ``<file>:<line>``."""
    columns = {"order_id": GENERATED_ORDER_ID, **chosen.columns}
    mapping = replace(chosen, columns=columns)
    if src.table is None or GENERATED_ORDER_ID in src.table.column_names:
        return src, mapping  # generated by the engine while it reads the file, or already
    ids = pc.binary_join_element_wise(
        id_prefix(src), pc.cast(src.table.column(LINE), pa.string()), ""
    )
    table = src.table.append_column(GENERATED_ORDER_ID, ids)
    return Source(table, src.label, src.fingerprint, src.format, src.encoding), mapping


def preview(
    table: str,
    source,
    *,
    mapping=None,
    project=None,
    rows: int = 10,
    sql_table: str | None = None,
    query: str | None = None,
    allow_missing: bool = False,
) -> Preview:
    """The proposed mapping and the first ``rows`` rows as they would be stored.

    With ``allow_missing=True`` a source without a column for a required field is previewed
    too (``missing`` names the fields), so that the mapping can be written out and filled in.
    """
    spec, src, chosen = _source_and_mapping(
        table, source, mapping, sql_table=sql_table, query=query, require=not allow_missing
    )
    optional = OPTIONAL.get(table, ())
    missing = tuple(f for f in spec.required if f not in chosen.columns and f not in optional)
    proj = _resolve(project) if project is not None else None
    head = prepare(
        src.table.slice(0, rows),
        chosen,
        spec,
        proj.timezone if proj else None,
        settings.day_one(proj),
    )
    head = protect(head, spec, proj)
    con = ibis.duckdb.connect()
    ctx = Context(load_time=dt.datetime.now(), limits=settings.limits(proj))
    checked = check(con.create_table("preview", head), spec, ctx)
    shown = (
        checked.select(
            LINE,
            *[checked[f"__{n}"].name(n) for n in spec.names if n in chosen.columns],
            "_rule",
            "_reason",
        )
        .order_by(LINE)
        .to_pyarrow()
    )
    return Preview(table, src.label, src.encoding, chosen, shown, missing)


def load(
    table: str,
    source,
    *,
    mapping: str | Path | Mapping | None = None,
    project: Project | str | Path | None = None,
    sql_table: str | None = None,
    query: str | None = None,
    sheet: str | int | None = None,
    progress: Progress | None = None,
    reload: bool = False,
) -> LoadReport:
    """Load ``source`` (a path or a SQLAlchemy URL) into canonical table ``table``.

    The load is one transaction: a failure at any point leaves the warehouse as it was. Loading
    the same file again stores nothing; rows whose key is stored already are dropped and counted.
    On DuckDB, CSV/TSV and Parquet files are read by DuckDB itself, straight into the load's
    stage; other sources (and every source on Spark) are read into Arrow first.

    With ``reload=True`` the rows this file's earlier loads stored and quarantined (same file
    name, or same bytes, into the same table) are removed in the same transaction that stores
    the new load, whose ``_loads`` record names the loads it replaces (after a mapping fix).
    """
    step = progress or (lambda _msg: None)
    proj = _resolve(project)
    limits = settings.limits(proj)  # settings are checked before anything is read
    options = settings.table_options(proj, table)
    first_day = settings.day_one(proj)
    hidden = settings.generalised(proj) if table == "members" else ()
    step("reading")
    spec, src, chosen = _source_and_mapping(
        table,
        source,
        mapping,
        sql_table=sql_table,
        query=query,
        sheet=sheet,
        scan=proj.engine == "duckdb",
        unpack_dir=_scratch(proj),
    )
    try:
        return _load(proj, spec, src, chosen, reload, step, (limits, options, hidden, first_day))
    finally:
        if is_packed(source) and src.files:
            shutil.rmtree(src.files[0].parent, ignore_errors=True)


def _load(
    proj: Project,
    spec: TableSpec,
    src: Source,
    chosen: Mapping,
    reload: bool,
    step: Progress,
    setup: tuple[settings.Limits, settings.TableOptions, tuple[str, ...], dt.date],
) -> LoadReport:
    """:func:`load` once the source is open and mapped."""
    table = spec.name
    with open_warehouse(proj) as wh, ThreadPoolExecutor(1) as pool:
        wh.ensure(spec)
        hashing = None
        if not src.fingerprint:  # a file DuckDB reads: hash it while DuckDB reads it, unless
            # this table had a load from a file of that name (then a re-load is likely: hash first)
            if reload or _loaded_from(wh, table, src.label):
                src = replace(src, fingerprint=file_fingerprint(list(src.files)))
            else:
                hashing = pool.submit(file_fingerprint, list(src.files))
        earlier = _earlier_loads(wh, table, src) if reload else ()
        if not reload and hashing is None and (done := _already_loaded(wh, table, src, chosen)):
            return done
        step("checking")
        load_id = dt.datetime.now().strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:8]
        started = dt.datetime.now()
        tmp_dir = proj.state_dir / "tmp" / load_id
        try:
            # the stage is scratch (temporary tables), built before the warehouse's transaction
            staged, floats = _stage(wh, spec, src, chosen, proj, tmp_dir)
            if hashing is not None:
                src = replace(src, fingerprint=hashing.result())
                if done := _already_loaded(wh, table, src, chosen):
                    return done
            with wh.transaction():
                if earlier:
                    step("removing the earlier load")
                    _forget(wh, spec, earlier)
                report = _store(
                    wh,
                    spec,
                    src,
                    chosen,
                    staged,
                    load_id,
                    started,
                    step,
                    setup,
                    replaces=earlier,
                    float_ids=floats,
                )
            wants = regional.wants_defaults(proj)
            sample = _regional_sample(staged, chosen) if wants else None
        finally:
            duckdb_reader.drop_stage(wh)
            shutil.rmtree(tmp_dir, ignore_errors=True)
        if wants and "country" in chosen.columns:
            note = regional.apply_defaults(proj, regional.regional_defaults(_countries(wh, report)))
            report = replace(report, notes=(*report.notes, note))
        elif wants and sample is not None:  # no country: currency symbols, zones, headers
            found = regional.evidence_defaults(proj, *sample)
            why = "the data show no country column, currency symbol or time zone"
            note = regional.apply_defaults(proj, found, why)
            report = replace(report, notes=(*report.notes, note))
        return report


#: raw fields that may show a currency symbol, and those that may carry a UTC offset
_MONEY = ("amount", "unit_price", "price", "value")
_TIMES = ("ordered_at", "occurred_at", "registered_at", "starts_at", "sent_at")


def _regional_sample(staged: ir.Table, chosen: Mapping) -> tuple[list[str], list[str], list[str]]:
    """Headers, and up to 2,000 raw amounts and times of a load (for ingest.regional)."""
    headers = [str(h) for h in chosen.columns.values() if h != GENERATED_ORDER_ID]
    money = next((RAW + n for n in _MONEY if RAW + n in staged.columns), None)
    when = next((RAW + n for n in _TIMES if RAW + n in staged.columns), None)
    picked = [c for c in (money, when) if c is not None]
    if not picked:
        return headers, [], []
    rows = staged.select(*picked).limit(2000).to_pyarrow().to_pydict()
    text = {c: ["" if v is None else str(v) for v in rows[c]] for c in picked}
    return headers, text.get(money or "", []), text.get(when or "", [])


def _countries(wh: Warehouse, report: LoadReport) -> dict[str | None, int]:
    """Rows per country stored by a load."""
    t = wh.table(report.table)
    t = t.filter(t._load_id == report.load_id)
    rows = t.group_by("country").agg(n=ibis._.count()).to_pyarrow().to_pylist()
    return {r["country"]: int(r["n"]) for r in rows}


def _earlier_loads(wh: Warehouse, table: str, src: Source) -> tuple[str, ...]:
    """The loads into ``table`` of the same file: same name, or same bytes."""
    loads = wh.table("_loads")
    same = (loads.table_name == table) & (
        (loads.source == src.label) | (loads.fingerprint == src.fingerprint)
    )
    ids = loads.filter(same).select("load_id").to_pyarrow().column("load_id").to_pylist()
    return tuple(sorted(ids))


def _forget(wh: Warehouse, spec: TableSpec, load_ids: tuple[str, ...]) -> None:
    """Remove what ``load_ids`` stored (also orders derived from lines), quarantined and logged
    (inside the load's transaction)."""
    tables = [spec.name, f"_quarantine_{spec.name}"]
    if spec.name == "order_items" and wh.has("orders"):
        tables.append("orders")
    wh.forget_loads(tables, load_ids)


def _scratch(proj: Project) -> Path:
    """The project's scratch folder (``.memberlens/tmp``), created."""
    path = proj.state_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _loaded_from(wh: Warehouse, table: str, label: str) -> bool:
    loads = wh.table("_loads")
    return bool(
        loads.filter((loads.table_name == table) & (loads.source == label)).count().execute()
    )


def _already_loaded(wh: Warehouse, table: str, src: Source, chosen: Mapping) -> LoadReport | None:
    """The report of a load that stores nothing, when these bytes were loaded into ``table``."""
    loads = wh.table("_loads")
    done = (
        loads.filter((loads.table_name == table) & (loads.fingerprint == src.fingerprint))
        .select("load_id", "rows_read")
        .to_pyarrow()
    )
    if not done.num_rows:
        return None
    n = int(done.column("rows_read")[0].as_py())
    return LoadReport(
        table,
        src.label,
        done.column("load_id")[0].as_py(),
        n,
        0,
        0,
        n,
        {"already_loaded": n},
        dict(chosen.columns),
        already_loaded=True,
    )


def _store(
    wh: Warehouse,
    spec: TableSpec,
    src: Source,
    chosen: Mapping,
    staged: ir.Table,
    load_id: str,
    started: dt.datetime,
    step: Progress,
    setup: tuple[settings.Limits, settings.TableOptions, tuple[str, ...], dt.date],
    *,
    replaces: tuple[str, ...] = (),
    float_ids: tuple[str, ...] = (),
) -> LoadReport:
    stored = wh.table(spec.name) if spec.key and wh.count(spec.name) else None
    ctx = Context(
        load_time=started,
        stored=stored,
        limits=setup[0],
        drop_duplicate_lines=setup[1].drop_duplicate_lines,
    )

    found = failures(staged, spec, ctx)
    # "breaks a rule" as one OR (evaluated lazily, row by row) rather than the rule column's
    # CASE: stored rows never need their rule; only quarantined rows get rule, field and reason
    broken = (
        ibis.or_(*[cond.fill_null(False) for _, _, cond in found]) if found else ibis.literal(False)
    )
    marks = duplicate_marks(staged, spec, ctx)
    if marks is not None:
        marks = wh.materialize(MARKS, marks)
        dup_counts = marks.group_by("_dup").agg(n=ibis._.count()).to_pyarrow().to_pylist()
    else:
        dup_counts = []
    unique = staged.anti_join(marks, staged[LINE] == marks["__dup_line"]) if dup_counts else staged
    dup_amount = _dropped_amount(staged, spec, marks if dup_counts else None)

    step("storing")
    keep = unique.filter(~broken)
    values = typed_values(keep, spec)
    if spec.name == "order_items":
        values = lines.fill_line_amount(values)
    if spec.name == "members":
        values = generalise(values, setup[2], started.date())
    cols = []
    target = wh.table(spec.name).schema()
    for f in spec.fields:
        cols.append(values[f.name].cast(target[f.name]).name(f.name))
        if f.pii:
            masked = f"{f.name}_masked"
            cols.append(
                keep[masked].name(masked)
                if masked in keep.columns
                else ibis.null("string").name(masked)
            )
    wh.append(
        spec.name, _in_order(keep.select(*cols, _load_id=ibis.literal(load_id)), target), load_id
    )

    bad = unique.filter(broken)
    qcols = [
        (
            cut(bad[RAW + n].cast("string"), QUARANTINE_CHARS)
            if RAW + n in bad.columns
            else ibis.null("string")
        ).name(n)
        for n in spec.names
    ]
    bad_found = failures(bad, spec, ctx)
    # generalised fields are kept in a rejected row only when they are what it broke
    qcols = [
        ibis.ifelse(field_of(bad_found) == c.get_name(), c, ibis.null("string")).name(c.get_name())
        if c.get_name() in setup[2]
        else c
        for c in qcols
    ]
    rejected = bad.select(
        *qcols,
        bad[LINE].name("_line"),
        _rule=rule_of(bad_found),
        _field=field_of(bad_found),
        _reason=reason(bad, bad_found),
        _load_id=ibis.literal(load_id),
    )
    wh.append(
        f"_quarantine_{spec.name}",
        _in_order(rejected, wh.table(f"_quarantine_{spec.name}").schema()),
        load_id,
    )

    q = wh.table(f"_quarantine_{spec.name}")
    q = q.filter(q._load_id == load_id)
    by = {
        r["_rule"]: int(r["n"])
        for r in q.group_by("_rule").agg(n=ibis._.count()).to_pyarrow().to_pylist()
    }
    by.update({r["_dup"]: int(r["n"]) for r in dup_counts})
    rows_read = int(staged.count().execute())
    dups = sum(int(r["n"]) for r in dup_counts)
    quarantined = sum(by.values()) - dups
    rows_stored = rows_read - quarantined - dups

    derived: dict[str, int] = {}
    anonymous = 0
    if spec.name == "order_items":
        anonymous = (
            int(keep.filter(keep[RAW + "member_id"].isnull()).count().execute())
            if "member_id" in chosen.columns
            else 0
        )
        if "ordered_at" in chosen.columns:
            step("deriving orders")
            derived["orders"] = lines.derive_orders(wh, load_id)

    report = LoadReport(
        spec.name,
        src.label,
        load_id,
        rows_read,
        rows_stored,
        quarantined,
        dups,
        dict(sorted(by.items())),
        dict(chosen.columns),
        derived,
        anonymous,
        rounded=_rounded(keep, spec),
        duplicates_amount=dup_amount,
        replaces=replaces,
        notes=_notes(spec, chosen, setup[3])
        + ((float_ids_note(float_ids, chosen),) if float_ids else ()),
    )
    if rows_stored != int(
        wh.table(spec.name).filter(ibis._._load_id == load_id).count().execute()
    ) or (src.table is not None and rows_read != src.table.num_rows):
        raise RuntimeError(f"counts do not reconcile for load {load_id}: {report}")  # invariant
    _insert_load_record(wh, report, src, started)
    return report


def _notes(spec: TableSpec, chosen: Mapping, day_one: dt.date) -> tuple[str, ...]:
    """What the load report says about the mapping's consequences."""
    notes = []
    if spec.name == "orders" and "amount" not in chosen.columns:
        notes.append(NO_AMOUNT)
    if chosen.days:
        notes.append(days.note({d: chosen.columns[d] for d in chosen.days}, day_one, chosen.times))
    return tuple(notes)


def _in_order(rows: ir.Table, target) -> ir.Table:
    """``rows`` with the columns in the order of the stored table (inserts are by position; a
    table created before a field was added to the contract has that field last)."""
    return rows.select(*target.names)


#: text of a number with a non-zero digit past the second decimal (0.001, 12.345): rounding it to
#: DECIMAL(18, 2) changes the value.
_MORE_DECIMALS = r"\.\d{2}0*[1-9]"


def _rounded(keep: ir.Table, spec: TableSpec) -> dict[str, int]:
    """Stored values, by field, whose source text had more decimals than the field keeps."""
    names = [f.name for f in spec.fields if f.type == "decimal" and RAW + f.name in keep.columns]
    if not names:
        return {}

    def changed(n: str) -> ir.BooleanValue:
        raw = keep[RAW + n]
        return raw.re_search(_MORE_DECIMALS) & ~raw.re_search("[eE]")

    row = (
        keep.aggregate(**{n: changed(n).fill_null(False).cast("int64").sum() for n in names})
        .to_pyarrow()
        .to_pylist()[0]
    )
    return {n: int(v) for n, v in row.items() if v}


def _dropped_amount(staged: ir.Table, spec: TableSpec, marks: ir.Table | None) -> float | None:
    """The sum of the typed amounts of the lines dropped as duplicates: their ``amount``, or
    quantity x unit_price when the lines carry no amount (order items); None without either."""
    mapped = {n for n in spec.names if RAW + n in staged.columns}
    if "amount" not in mapped and not {"quantity", "unit_price"} <= mapped:
        return None
    if marks is None:
        return 0.0
    dropped = staged.semi_join(marks, staged[LINE] == marks["__dup_line"])
    typed = typed_values(dropped, spec)
    amount = typed["amount"] if "amount" in mapped else typed["quantity"] * typed["unit_price"]
    total = dropped.aggregate(t=amount.sum()).to_pyarrow()
    value = total.column("t")[0].as_py()
    return float(value) if value is not None else 0.0


def _stage(
    wh: Warehouse, spec: TableSpec, src: Source, chosen: Mapping, proj: Project, tmp_dir: Path
) -> tuple[ir.Table, tuple[str, ...]]:
    """The load's typed stage, stored once (see :func:`memberlens.ingest.rules.stage`), and the
    id fields read without a ``.0`` (:func:`memberlens.ingest.rules.float_written_ids`)."""
    if src.table is None:
        try:
            return duckdb_reader.stage_file(wh, spec, src, chosen, proj, tmp_dir)
        except SourceError as exc:
            if src.format != "csv":
                raise
            try:  # Arrow's CSV reader takes some files DuckDB's does not (mixed line endings)
                src = replace(read_source(src.files[0]), label=src.label)
            except Exception:
                raise exc from None
            if chosen.columns.get("order_id") == GENERATED_ORDER_ID:
                src, chosen = _with_generated_order_ids(src, chosen)
    prepared = protect(
        prepare(src.table, chosen, spec, proj.timezone, settings.day_one(proj)), spec, proj
    )
    inp = register_arrow(wh.con, "__ingest_input", prepared)
    try:
        floats = float_written_ids(inp, spec)
        staged = stage(inp, spec, recode=chosen.values, float_ids=floats)
        return wh.materialize(STAGE, staged), floats
    finally:
        unregister(wh.con, "__ingest_input")


def _insert_load_record(wh, report: LoadReport, src: Source, started: dt.datetime) -> None:
    """The load's line in ``_loads``, written last inside the load's transaction."""
    wh.record_load(
        {
            "load_id": report.load_id,
            "table_name": report.table,
            "source": src.label,
            "fingerprint": src.fingerprint,
            "format": src.format,
            "encoding": src.encoding,
            "started_at": started,
            "finished_at": dt.datetime.now(),
            "rows_read": report.rows_read,
            "rows_stored": report.rows_stored,
            "rows_quarantined": report.rows_quarantined,
            "duplicates_dropped": report.duplicates_dropped,
            "anonymous_rows": report.anonymous_rows,
            "by_rule": json.dumps(report.by_rule),
            "mapping": json.dumps(report.mapping, ensure_ascii=False),
            "derived": json.dumps(report.derived),
            "replaces": ",".join(report.replaces) or None,
            "notes": json.dumps(
                {
                    "rounded": report.rounded,
                    "duplicates_amount": report.duplicates_amount,
                    "notes": list(report.notes),
                },
                ensure_ascii=False,
            ),
        }
    )
