"""Loading one source into the warehouse: read, map, pseudonymise, check, store, all or nothing."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.engine import register_arrow, unregister
from memberlens.engine.warehouse import Warehouse, open_warehouse
from memberlens.ingest import lines
from memberlens.ingest.mapping import Mapping, check_required, propose_mapping, read_mapping
from memberlens.ingest.rules import RAW, Context, check, mark_key_duplicates, prepare
from memberlens.ingest.sources import LINE, Source, read_source
from memberlens.privacy import mask_values, normalise_values, pseudonymise
from memberlens.project import Project
from memberlens.schema import TableSpec, table_spec

Progress = Callable[[str], None]
#: the column that holds generated order ids when an orders export has none.
GENERATED_ORDER_ID = "_generated_order_id"


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


def _resolve(project: Project | str | Path | None) -> Project:
    return project if isinstance(project, Project) else Project.load(project)


def _source_and_mapping(table: str, source, mapping, *, sql_table=None, query=None, sheet=None):
    spec = table_spec(table)
    src = source if isinstance(source, Source) else read_source(
        source, sql_table=sql_table, query=query, sheet=sheet)
    columns = [c for c in src.table.column_names if c != LINE]
    if isinstance(mapping, Mapping):
        chosen = mapping
    elif mapping:
        chosen = read_mapping(mapping, spec, columns)
    else:
        chosen = propose_mapping(columns, spec)
    optional = {"order_items": ("member_id",), "orders": ("order_id",)}.get(table, ())
    check_required(chosen, spec, label=src.label, columns=columns, optional=optional)
    if table == "orders" and "order_id" not in chosen.columns:
        src, chosen = _with_generated_order_ids(src, chosen)
    return spec, src, chosen


def _with_generated_order_ids(src: Source, chosen: Mapping) -> tuple[Source, Mapping]:
    """Exports without an order id (one purchase per line, like CDNOW) get ``<file>:<line>``."""
    stem = Path(src.label).name
    ids = pc.binary_join_element_wise(stem, pc.cast(src.table.column(LINE), pa.string()), ":")
    table = src.table.append_column(GENERATED_ORDER_ID, ids)
    columns = {"order_id": GENERATED_ORDER_ID, **chosen.columns}
    mapping = Mapping(chosen.table, columns, chosen.unused, chosen.origin, chosen.values)
    return Source(table, src.label, src.fingerprint, src.format, src.encoding), mapping


def preview(table: str, source, *, mapping=None, project=None, rows: int = 10,
            sql_table: str | None = None, query: str | None = None) -> Preview:
    """The proposed mapping and the first ``rows`` rows as they would be stored."""
    spec, src, chosen = _source_and_mapping(table, source, mapping, sql_table=sql_table, query=query)
    proj = _resolve(project) if project is not None else None
    head = prepare(src.table.slice(0, rows), chosen, spec)
    head = _protect(head, spec, proj)
    con = ibis.duckdb.connect()
    checked = check(con.create_table("preview", head), spec,
                    Context(load_time=dt.datetime.now()))
    shown = checked.select(LINE, *[checked[f"__{n}"].name(n) for n in spec.names
                                   if n in chosen.columns], "_rule", "_reason"
                           ).order_by(LINE).to_pyarrow()
    return Preview(table, src.label, src.encoding, chosen, shown)


def load(table: str, source, *, mapping: str | Path | Mapping | None = None,
         project: Project | str | Path | None = None, sql_table: str | None = None,
         query: str | None = None, sheet: str | int | None = None,
         progress: Progress | None = None) -> LoadReport:
    """Load ``source`` (a path or a SQLAlchemy URL) into canonical table ``table``.

    The load is one transaction: a failure at any point leaves the warehouse as it was. Loading
    the same file again stores nothing; rows whose key is stored already are dropped and counted.
    """
    step = progress or (lambda _msg: None)
    proj = _resolve(project)
    step("reading")
    spec, src, chosen = _source_and_mapping(table, source, mapping, sql_table=sql_table,
                                            query=query, sheet=sheet)
    with open_warehouse(proj) as wh:
        wh.ensure(spec)
        loads = wh.table("_loads")
        done = loads.filter((loads.table_name == table)
                            & (loads.fingerprint == src.fingerprint)).select("load_id").to_pyarrow()
        if done.num_rows:
            n = src.table.num_rows
            return LoadReport(table, src.label, done.column("load_id")[0].as_py(), n, 0, 0, n,
                              {"already_loaded": n}, dict(chosen.columns), already_loaded=True)
        step("checking")
        prepared = _protect(prepare(src.table, chosen, spec), spec, proj)
        load_id = dt.datetime.now().strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:8]
        started = dt.datetime.now()
        with wh.transaction():
            report = _store(wh, spec, src, chosen, prepared, load_id, started, step)
        return report


def _protect(prepared: pa.Table, spec: TableSpec, project: Project | None) -> pa.Table:
    """Pseudonymise personal fields (unless the project keeps clear values) and add masked forms."""
    for f in spec.pii_fields:
        if f.name not in prepared.column_names:
            continue
        kind = f.pii
        if spec.name == "identities" and "id_type" in prepared.column_names:
            id_type = pc.utf8_lower(pc.fill_null(prepared.column("id_type"), "")).combine_chunks()
            value = prepared.column(f.name).combine_chunks()
            norm = pc.if_else(pc.equal(id_type, "phone"), normalise_values("phone", value),
                              pc.if_else(pc.equal(id_type, "email"),
                                         normalise_values("email", value),
                                         normalise_values("device", value)))
        else:
            norm = normalise_values(kind, prepared.column(f.name).combine_chunks())
        masked = mask_values(kind, norm)
        keep = project is not None and project.keep_clear_pii
        stored = norm if keep or project is None else pseudonymise(norm, project.secret())
        idx = prepared.column_names.index(f.name)
        prepared = prepared.set_column(idx, f.name, stored)
        raw_idx = prepared.column_names.index(RAW + f.name)
        prepared = prepared.set_column(raw_idx, RAW + f.name, stored)
        prepared = prepared.append_column(f"{f.name}_masked", masked)
    return prepared


def _store(wh: Warehouse, spec: TableSpec, src: Source, chosen: Mapping, prepared: pa.Table,
           load_id: str, started: dt.datetime, step: Progress) -> LoadReport:
    con = wh.con
    members = wh.table("members") if spec.name != "members" and wh.count("members") else None
    stored = wh.table(spec.name) if spec.key and wh.count(spec.name) else None
    ctx = Context(load_time=started, members=members, stored=stored)
    inp = register_arrow(con, "__ingest_input", prepared)
    checked = mark_key_duplicates(check(inp, spec, ctx, recode=chosen.values), spec, ctx)
    c = wh.materialize("__ingest_checked", checked)

    step("storing")
    keep = c.filter(c._rule.isnull() & c._dup.isnull())
    values = {n: keep[f"__{n}"] for n in spec.names}
    if spec.name == "order_items":
        values = lines.fill_line_amount(values)
    cols = []
    target = wh.table(spec.name).schema()
    for f in spec.fields:
        cols.append(values[f.name].cast(target[f.name]).name(f.name))
        if f.pii:
            masked = f"{f.name}_masked"
            cols.append(keep[masked].name(masked) if masked in keep.columns
                        else ibis.null("string").name(masked))
    wh.append(spec.name, keep.select(*cols, _load_id=ibis.literal(load_id)), load_id)

    bad = c.filter(c._rule.notnull() & c._dup.isnull())
    qcols = [(bad[RAW + n] if RAW + n in bad.columns else ibis.null("string")).cast("string").name(n)
             for n in spec.names]
    wh.append(f"_quarantine_{spec.name}",
              bad.select(*qcols, bad[LINE].name("_line"), "_rule", "_field", "_reason",
                         _load_id=ibis.literal(load_id)), load_id)

    counts = c.group_by(kind=ibis.coalesce(c._dup, c._rule, ibis.literal("stored"))).agg(
        n=ibis._.count()).to_pyarrow().to_pylist()
    by = {r["kind"]: int(r["n"]) for r in counts}
    rows_stored = by.pop("stored", 0)
    dups = sum(v for k, v in by.items() if k in ("duplicate_line", "duplicate_key", "already_stored"))
    quarantined = sum(by.values()) - dups

    derived: dict[str, int] = {}
    anonymous = 0
    if spec.name == "order_items":
        anonymous = int(keep.filter(keep.__member_id.isnull()).count().execute()) \
            if "member_id" in chosen.columns else 0
        if "ordered_at" in chosen.columns:
            step("deriving orders")
            derived["orders"] = lines.derive_orders(wh, load_id)
    wh.drop_temp("__ingest_checked")
    unregister(con, "__ingest_input")

    report = LoadReport(spec.name, src.label, load_id, src.table.num_rows, rows_stored,
                        quarantined, dups, dict(sorted(by.items())), dict(chosen.columns),
                        derived, anonymous)
    if report.rows_read != rows_stored + quarantined + dups:  # an internal invariant
        raise RuntimeError(f"counts do not reconcile for load {load_id}: {report}")
    _insert_load_record(wh, report, src, started)
    return report


def _insert_load_record(wh, report: LoadReport, src: Source, started: dt.datetime) -> None:
    """The load's line in ``_loads``, written last inside the load's transaction."""
    wh.record_load({
        "load_id": report.load_id, "table_name": report.table, "source": src.label,
        "fingerprint": src.fingerprint, "format": src.format, "encoding": src.encoding,
        "started_at": started, "finished_at": dt.datetime.now(),
        "rows_read": report.rows_read, "rows_stored": report.rows_stored,
        "rows_quarantined": report.rows_quarantined,
        "duplicates_dropped": report.duplicates_dropped,
        "anonymous_rows": report.anonymous_rows, "by_rule": json.dumps(report.by_rule),
        "mapping": json.dumps(report.mapping, ensure_ascii=False),
        "derived": json.dumps(report.derived),
    })
