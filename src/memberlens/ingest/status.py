"""What the warehouse holds: rows per table, quarantine by rule, duplicates, dates, the load log."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ibis
import pyarrow as pa

from memberlens.engine.protocol import WarehouseProtocol
from memberlens.engine.warehouse import open_warehouse
from memberlens.exceptions import MissingTableError
from memberlens.project import Project
from memberlens.schema import TABLES, table_spec


@dataclass(frozen=True)
class TableStatus:
    table: str
    rows_stored: int
    rows_read: int
    rows_quarantined: int
    duplicates_dropped: int
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    first_at: str | None = None
    last_at: str | None = None
    last_load: str | None = None
    loads: int = 0
    #: orders (or lines) without a member id, kept as anonymous sales.
    anonymous_rows: int = 0
    #: rows stored by derivation from another table (orders from order lines).
    derived_rows: int = 0
    #: rows whose member id is not (yet) in ``members`` (counted when members are loaded): kept,
    #: and linked as soon as a members export holds them.
    unlinked_rows: int = 0


@dataclass(frozen=True)
class WarehouseStatus:
    warehouse: str
    tables: list[TableStatus]
    loads: list[dict]
    #: plain-language warnings (e.g. many orders of members that are not loaded).
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def warehouse_status(
    project: Project | str | Path | None = None, *, log_limit: int = 50
) -> WarehouseStatus:
    """Per-table counts and the most recent loads. Counts reconcile per table:
    ``rows_read == rows_stored - derived_rows + rows_quarantined + duplicates_dropped``."""
    proj = project if isinstance(project, Project) else Project.load(project)
    if not proj.warehouse.exists():
        raise MissingTableError(
            f"{proj.warehouse}: no warehouse yet; load data with `memberlens ingest TABLE FILE`"
        )
    with open_warehouse(proj, read_only=True) as wh:
        return status_of(wh, str(proj.warehouse), log_limit=log_limit)


def status_of(wh: WarehouseProtocol, warehouse: str, *, log_limit: int = 50) -> WarehouseStatus:
    """:func:`warehouse_status` of an open warehouse (``warehouse``: the name to report), e.g.
    the dashboard's read side."""
    loads = wh.table("_loads").order_by(ibis.desc("finished_at")).to_pyarrow().to_pylist()
    tables = []
    for name in wh.canonical_tables():
        spec = table_spec(name)
        t = wh.table(name)
        mine = [r for r in loads if r["table_name"] == name]
        derived = sum(json.loads(r["derived"] or "{}").get(name, 0) for r in loads)
        q = wh.table(f"_quarantine_{name}")
        by_rule = {
            r["_rule"]: int(r["n"])
            for r in q.group_by("_rule").agg(n=q.count()).to_pyarrow().to_pylist()
        }
        first = last = None
        if spec.time_field:
            rng = t.aggregate(lo=t[spec.time_field].min(), hi=t[spec.time_field].max())
            row = rng.to_pyarrow().to_pylist()[0]
            first = str(row["lo"]) if row["lo"] is not None else None
            last = str(row["hi"]) if row["hi"] is not None else None
        anonymous = 0
        if "member_id" in t.columns and name in ("orders", "order_items"):
            anonymous = int(t.filter(t.member_id.isnull()).count().execute())
        unlinked = _unlinked(wh, name, t)
        tables.append(
            TableStatus(
                table=name,
                rows_stored=int(t.count().execute()),
                rows_read=sum(int(r["rows_read"]) for r in mine),
                rows_quarantined=sum(by_rule.values()),
                duplicates_dropped=sum(int(r["duplicates_dropped"]) for r in mine),
                quarantined_by_rule=by_rule,
                first_at=first,
                last_at=last,
                last_load=str(mine[0]["finished_at"]) if mine else None,
                loads=len(mine),
                anonymous_rows=anonymous,
                derived_rows=derived,
                unlinked_rows=unlinked,
            )
        )
    log = [
        {k: (str(v) if not isinstance(v, (int, float, type(None))) else v) for k, v in r.items()}
        for r in loads[:log_limit]
    ]
    return WarehouseStatus(warehouse, tables, log, _warnings(tables))


#: the share of a table's rows with member ids not in ``members`` above which status warns.
UNLINKED_WARN = 0.05


def _unlinked(wh, name: str, t) -> int:
    """Rows of ``t`` whose member id is not in ``members`` (0 while no members are loaded)."""
    if name == "members" or "member_id" not in t.columns or not wh.count("members"):
        return 0
    members = wh.table("members").select(_m="member_id")
    with_id = t.filter(t.member_id.notnull())
    return int(with_id.anti_join(members, with_id.member_id == members._m).count().execute())


def _warnings(tables: list[TableStatus]) -> list[str]:
    out = []
    for t in tables:
        if t.unlinked_rows and t.unlinked_rows > UNLINKED_WARN * max(t.rows_stored, 1):
            out.append(
                f"{t.table}: {t.unlinked_rows:,} of {t.rows_stored:,} rows reference members "
                "that are not in the members table; load the members export that holds them "
                "(the rows are kept and link as soon as it is loaded)"
            )
    return out


def quarantine_rows(
    table: str,
    project: Project | str | Path | None = None,
    *,
    rule: str | None = None,
    limit: int | None = None,
) -> pa.Table:
    """Rejected rows of ``table`` with their source file, line, field, rule and reason."""
    table_spec(table)  # an unknown table is an error before the warehouse is opened
    proj = project if isinstance(project, Project) else Project.load(project)
    with open_warehouse(proj, read_only=True) as wh:
        return quarantine_of(wh, table, rule=rule, limit=limit)


def quarantine_of(
    wh: WarehouseProtocol, table: str, *, rule: str | None = None, limit: int | None = None
) -> pa.Table:
    """:func:`quarantine_rows` of an open warehouse (e.g. the dashboard's read side)."""
    spec = table_spec(table)
    name = f"_quarantine_{spec.name}"
    if not wh.has(name):
        return pa.table({"source": pa.array([], pa.string())})
    q = wh.table(name)
    loads = wh.table("_loads").select("load_id", "source")
    j = q.join(loads, q._load_id == loads.load_id)
    if rule:
        j = j.filter(j._rule == rule)
    out = j.select(
        j.source,
        j._line.name("line"),
        j._field.name("field"),
        j._rule.name("rule"),
        j._reason.name("reason"),
        *[j[n] for n in spec.names],
    ).order_by(["source", "line"])
    if limit:
        out = out.limit(limit)
    return out.to_pyarrow()


__all__ = [
    "TABLES",
    "TableStatus",
    "WarehouseStatus",
    "quarantine_of",
    "quarantine_rows",
    "status_of",
    "warehouse_status",
]
