"""Writing a run's marts: one transaction, so readers see the old set of marts or the new one.

Also keeps ``mart_member_history`` (segment, tier and stage per member and as-of date, across
runs) and the dashboard's member_id indexes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from memberlens.engine.layout import MART_MEMBER_HISTORY
from memberlens.engine.protocol import WarehouseProtocol
from memberlens.pipeline.runs import record_run
from memberlens.pipeline.step import MartData, MartPatch, StepResult

HISTORY_COLUMNS = ("segment_cn8", "segment_rfm11", "value_tier", "lifecycle_stage")
#: tables the dashboard reads by member_id, with an index: a member's orders and profile (ingest
#: adds to them and keeps the index up to date) and the member list, whose pages ask for 50
#: members scattered over the ids at once (replaced whole by every run)
INDEXED_TABLES = ("orders", "members", "mart_members")
#: large marts the dashboard reads one member at a time (member 360's panels): written in
#: member_id order, without an index
MEMBER_ORDERED_MARTS = ("mart_member_history", "mart_recommendations")


def mart_rows(marts: dict[str, MartData]) -> dict[str, int]:
    """Rows of each mart (a staged Ibis table is counted in the warehouse)."""
    return {k: _rows(v) for k, v in marts.items()}


def _rows(mart: MartData) -> int:
    if isinstance(mart, MartPatch):
        return mart.size
    return int(mart.count().execute()) if isinstance(mart, ir.Table) else len(mart)


def publish(
    wh: WarehouseProtocol,
    marts: dict[str, MartData],
    *,
    run_id: str,
    as_of: dt.date,
    config_hash: str,
    records: Callable[[], Sequence[StepResult]],
) -> None:
    """Write ``marts`` (emptied as it goes) and the run's records in one transaction.

    ``records`` is called inside the transaction, after the marts are written, so the log holds
    the writing step's own time too.
    """
    with wh.transaction():
        mart = marts.get("mart_members")
        if isinstance(mart, pd.DataFrame):
            _append_history(wh, mart, as_of, run_id)
        del mart
        # one mart at a time, each pandas frame let go once it is in the warehouse, so
        # that a large shop never holds every mart twice (pandas and Arrow) at once
        for name in list(marts):
            frame = marts.pop(name)
            if isinstance(frame, MartPatch):  # the unchanged rows stay where they are
                rows = _in_lookup_order(name, frame.rows)
                wh.replace_rows(name, rows, key=frame.key, keep=frame.keep, load_id=run_id)
                continue
            if isinstance(frame, ir.Table):  # staged in the warehouse already
                wh.replace(name, _in_lookup_order(name, frame), run_id)
                continue
            table = wh.register_arrow(f"__new_{name}", to_arrow(frame))
            del frame
            wh.replace(name, _in_lookup_order(name, table), run_id)
            wh.drop_temp(f"__new_{name}")
        record_run(wh, run_id, as_of, config_hash, records())


def to_arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    """The frame as Arrow, text columns as strings; converted column by column (no copy of
    the whole frame)."""
    if isinstance(frame, pa.Table):
        return frame
    columns = []
    for col in frame.columns:
        one = frame[[col]]
        if one[col].dtype == object:
            one = one.astype("string")
        columns.append(pa.Table.from_pandas(one, preserve_index=False))
    if not columns:
        return pa.Table.from_pandas(frame, preserve_index=False)
    return pa.Table.from_arrays(
        [c.column(0) for c in columns], schema=pa.schema([c.schema.field(0) for c in columns])
    )


def _append_history(wh: WarehouseProtocol, mart: pd.DataFrame, day: dt.date, run_id: str) -> None:
    """Keep each member's segment, tier and stage per as-of date in ``mart_member_history``.

    One row per member and as-of date: a re-run for the same date replaces that date's rows
    (idempotent), other dates are kept, so Member 360 can show how a member moved. The table
    grows by a day of members per run date; it is changed in place (that date's rows deleted,
    the new ones added), never written again whole.
    """
    frame = pd.DataFrame(
        {"as_of": pd.Timestamp(day), "run_id": run_id, "member_id": mart["member_id"]}
    )
    for col in HISTORY_COLUMNS:
        frame[col] = mart[col] if col in mart.columns else None
    schema = MART_MEMBER_HISTORY.arrow_schema()  # as_of, run_id, member_id, HISTORY_COLUMNS
    frame["member_id"] = frame["member_id"].astype("string")
    for col in HISTORY_COLUMNS:
        frame[col] = frame[col].astype("string")
    frame["as_of"] = frame["as_of"].dt.date
    new = wh.register_arrow(
        "__new_mart_member_history",
        pa.Table.from_pandas(frame, schema=schema, preserve_index=False),
    )
    if not wh.has("mart_member_history"):
        wh.replace("mart_member_history", new, run_id)
        return
    old = wh.table("mart_member_history")
    if tuple(old.columns) == tuple(new.columns):
        # in place: the other dates' rows (a member per day and date kept) stay where they are
        other_days = old.filter(old.as_of != day).select("as_of").distinct()
        wh.replace_rows("mart_member_history", new, key="as_of", keep=other_days, load_id=run_id)
        return
    # a table of another layout (an older version's) is written again whole, computed once:
    # the old table must not be read while it is replaced
    kept = old.filter(old.as_of != day).select(*new.columns)
    wh.replace(
        "mart_member_history", wh.materialize("__member_history_next", kept.union(new)), run_id
    )


def _in_lookup_order(name: str, rows: ir.Table) -> ir.Table:
    """The rows of a mart of :data:`MEMBER_ORDERED_MARTS` sorted by member_id, others as they
    are: the engine's per-block minimum and maximum then lead a look-up of one member to the
    blocks that hold them (see :func:`index_member_ids`)."""
    return rows.order_by("member_id") if name in MEMBER_ORDERED_MARTS else rows


def index_member_ids(wh: WarehouseProtocol) -> None:
    """Indexes on member_id for the dashboard's look-ups (where the engine has them) on the
    tables of :data:`INDEXED_TABLES`.

    The marts of :data:`MEMBER_ORDERED_MARTS` have none: they are written in member_id order
    (the rows a run changes in place are added in that order too), so DuckDB's zone maps skip
    every row group but the member's. Their ART index was built again on every run (28 million
    recommendations at 10 million orders) or, on a mart changed in place, written again whole
    at every checkpoint, and it was about a third of the file that every publish copies. The
    dashboard reads them one member at a time, where the zone maps cost about 1-2 ms of CPU
    more than the index (``benchmarks/member_lookup.py``, docs/benchmarks/run.md); the member
    list asks for a page of members at once, which zone maps do not narrow, so mart_members
    keeps its index. The rows a run changes in place come after the others (in member_id order
    among themselves), so each such run adds a row group or so that a look-up reads too, until
    the mart is written whole again (recommendations: when ALS is refitted, at most
    ``retrain_days`` apart; the history: never, one more per run date).
    """
    for table in INDEXED_TABLES:
        if wh.has(table):
            wh.index(table, "member_id")
    for table in MEMBER_ORDERED_MARTS:
        if wh.has(table) and wh.drop_index(table, "member_id"):
            # written by an earlier version, with an index and in no order: sorted once (the
            # new table is written from the old one, then takes its name, in one transaction)
            with wh.transaction():
                wh.replace(table, _in_lookup_order(table, wh.table(table)))
