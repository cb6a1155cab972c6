"""Audience queries on the warehouse: the table an expression filters (``mart_members`` plus
the member attributes it lacks), sizes with a breakdown, member lists and overlaps.

Everything here is one Ibis expression per figure, so it runs where the warehouse runs (DuckDB
or Spark). Opt-outs come from the app-state store and reach the engine as an Ibis memtable.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.common.exceptions import TableNotFound

from memberlens.activation.audience_language import (
    And,
    Columns,
    Compare,
    Expression,
    Membership,
    Or,
    Value,
    channels_of,
    check,
    column_names,
    columns_of,
    compile_filter,
    flag,
)
from memberlens.engine.protocol import WarehouseProtocol
from memberlens.exceptions import ConfigError, ExpressionError, MissingTableError

__all__ = [
    "BREAKDOWNS",
    "AudienceFrame",
    "Breakdown",
    "Intersection",
    "Overlap",
    "absent_values",
    "audience_frame",
    "breakdown",
    "latest_as_of",
    "overlap",
]

#: the columns a size is broken down by (those the mart has), most useful first
BREAKDOWNS: tuple[str, ...] = ("segment_cn8", "value_tier", "province")
#: members attributes never offered to the language (raw personal data, load bookkeeping)
_HIDDEN = frozenset({"name", "phone", "email", "id_number", "_load_id"})
#: how many values of a breakdown are listed before the rest is summed as "other"
TOP_VALUES = 12
MAX_OVERLAP = 6


@dataclass(frozen=True)
class AudienceFrame:
    """The table an audience expression filters, its vocabulary and its as-of date."""

    table: ir.Table
    columns: Columns
    as_of: dt.date | None
    #: "mart_members", or "mart_member_history" for an earlier as-of date
    source: str


def latest_as_of(mart: ir.Table) -> dt.date | None:
    """The as-of date of ``mart_members`` (None when it has no ``as_of`` column)."""
    if "as_of" not in mart.columns:
        return None
    value = mart.as_of.max().to_pyarrow().as_py()
    if value is None:
        return None
    return value.date() if isinstance(value, dt.datetime) else value


def _table(wh: WarehouseProtocol, name: str) -> ir.Table | None:
    """Table ``name`` or None, in one catalogue look-up."""
    try:
        return wh.con.table(name)
    except TableNotFound:
        return None


def _member_attributes(wh: WarehouseProtocol, have: Sequence[str]) -> ir.Table | None:
    """The ``members`` columns ``have`` lacks (raw personal data left out), keyed by member."""
    members = _table(wh, "members")
    if members is None:
        return None
    extra = [c for c in members.columns if c not in have and c not in _HIDDEN]
    if not extra:
        return None
    return members.select("member_id", *extra)


def _latest_uplift(scores: ir.Table) -> ir.Table:
    """``mart_uplift_scores`` (one row per campaign and member) as each member's most recent
    scoring (latest ``scored_as_of``, then the greatest ``campaign_id``)."""
    order = [ibis.desc("scored_as_of"), ibis.desc("campaign_id")]
    ranked = scores.mutate(_rank=ibis.row_number().over(group_by="member_id", order_by=order))
    latest = ranked.filter(ranked._rank == 0)
    wanted = {
        "uplift": "uplift",
        "uplift_campaign_id": "campaign_id",
        "expected_incremental_revenue": "expected_incremental_revenue",
        "expected_incremental_profit": "expected_incremental_profit",
    }
    return latest.select(
        "member_id", **{k: latest[v] for k, v in wanted.items() if v in latest.columns}
    )


def _recommendation_count(recs: ir.Table) -> ir.Table:
    """``mart_recommendations`` (one row per member and product) as a count per member."""
    return recs.group_by("member_id").aggregate(recommendations_count=ibis._.count())


def _per_member(mart: ir.Table) -> ir.Table:
    """A mart with one row per member, as it is (its bookkeeping columns left out)."""
    return mart.drop(*[c for c in ("as_of", "run_id", "_load_id") if c in mart.columns])


#: marts keyed by member_id whose columns the language offers beside mart_members', each with
#: the expression that makes it one row per member (a missing mart offers nothing); a later
#: mart keyed by member_id joins the audiences by adding a line here
MEMBER_MARTS: dict[str, Callable[[ir.Table], ir.Table]] = {
    "mart_uplift_scores": _latest_uplift,  # `memberlens uplift targets`
    "mart_churn": _per_member,
    "mart_recommendations": _recommendation_count,
}
#: what a member missing from a mart counts as (None: unknown)
_MISSING_AS = {"recommendations_count": 0}


def _member_marts(wh: WarehouseProtocol, have: set[str]) -> list[ir.Table]:
    """The :data:`MEMBER_MARTS` present, one row per member, with the columns ``have`` lacks."""
    out = []
    for name, reduce in MEMBER_MARTS.items():
        mart = _table(wh, name)
        if mart is None or "member_id" not in mart.columns:
            continue
        reduced = reduce(mart)
        new = [c for c in reduced.columns if c != "member_id" and c not in have]
        if new:
            out.append(reduced.select("member_id", *new))
            have |= set(new)
    return out


def audience_frame(
    wh: WarehouseProtocol, *, needed: set[str] | None = None, as_of: dt.date | None = None
) -> AudienceFrame:
    """The member table for ``as_of`` (None: the latest run; the frame's ``as_of`` is then left
    None, see :func:`latest_as_of`) with the ``members`` attributes joined in when ``needed``
    names one of them (None: always, for the full vocabulary)."""
    mart = _table(wh, "mart_members")
    if mart is None:
        raise MissingTableError(
            "audiences select from mart_members, which is not built yet; run `memberlens run`"
        )
    source = "mart_members"
    if as_of is not None:
        latest = latest_as_of(mart)
        if latest is not None and as_of != latest:
            mart, source = _history(wh, as_of, latest), "mart_member_history"
    attributes = _member_attributes(wh, mart.columns)
    table = mart
    schema = dict(mart.schema())
    # scores kept only as they are now (uplift, churn, recommendations) join the latest marts
    joined = [] if source != "mart_members" else _member_marts(wh, set(mart.columns))
    if attributes is not None:
        joined.insert(0, attributes)
    for extra in joined:
        wanted = [c for c in extra.columns if c != "member_id" and c not in schema]
        schema = {**extra.select(*wanted).schema(), **schema}
        if needed is None or needed & set(wanted):
            joined_table = table.left_join(extra.select("member_id", *wanted), "member_id")
            table = joined_table.select(
                *table.columns,
                **{
                    c: joined_table[c].fill_null(_MISSING_AS[c])
                    if c in _MISSING_AS
                    else joined_table[c]
                    for c in wanted
                },
            )
    return AudienceFrame(table, columns_of(schema), as_of, source)


def _history(wh: WarehouseProtocol, as_of: dt.date, latest: dt.date) -> ir.Table:
    history = _table(wh, "mart_member_history")
    if history is None:
        raise ConfigError(
            f"as of {as_of}: the marts are as of {latest} and no history is kept; run "
            f"`memberlens run --as-of {as_of}` to build them as of that date"
        )
    dates = sorted(
        d for d in history.select("as_of").distinct().to_pyarrow()["as_of"].to_pylist() if d
    )
    if as_of not in dates:
        shown = ", ".join(str(d) for d in [*dates, latest][-8:])
        raise ConfigError(
            f"as of {as_of}: no members were kept for that date; use one of {shown}, or run "
            f"`memberlens run --as-of {as_of}`"
        )
    return history.filter(history.as_of == ibis.date(as_of)).drop("run_id")


def condition(
    frame: AudienceFrame,
    expr: Expression,
    opted_out: Callable[[str], frozenset[str]],
) -> ir.BooleanValue:
    """The Ibis condition of ``expr`` on ``frame``; opt-outs of each channel it names are
    read once (through ``opted_out``) and handed to the engine as a memtable."""
    try:
        checked = check(expr, frame.columns)
    except ExpressionError as exc:
        if frame.source == "mart_member_history":
            kept = ", ".join(sorted(frame.columns.kinds))
            raise ExpressionError(
                f"{exc}. As of {frame.as_of} the warehouse keeps only {kept}; run "
                f"`memberlens run --as-of {frame.as_of}` to filter on more"
            ) from None
        raise
    lists = {
        ch: ibis.memtable(pa.table({"member_id": pa.array(sorted(opted_out(ch)), pa.string())}))
        for ch in sorted(channels_of(checked))
    }
    return compile_filter(
        checked,
        frame.table,
        columns=frame.columns,
        opted_out=lambda ch: lists[ch].member_id,
    )


def needed_columns(expr: Expression, columns: Columns | None = None) -> set[str]:
    """The columns ``expr`` names, aliases resolved when ``columns`` is given."""
    names = column_names(expr)
    if columns is None:
        from memberlens.activation.audience_language import ALIASES

        return {ALIASES.get(n, n) for n in names} | names
    return {columns.aliases.get(n, n) for n in names}


@dataclass(frozen=True)
class Breakdown:
    """Members of an audience by the values of one column (largest first; the rest as one
    ``None``-keyed row labelled "other")."""

    column: str
    rows: tuple[tuple[str | None, int], ...]

    def to_dict(self) -> dict:
        return {
            "column": self.column,
            "rows": [{"key": k, "members": n} for k, n in self.rows],
        }


def breakdown(table: ir.Table, column: str, *, top: int = TOP_VALUES) -> Breakdown:
    """Counts of ``table`` (already filtered) by ``column``, ``top`` values then the rest."""
    counts = (
        table.group_by(column)
        .aggregate(members=ibis._.count())
        .order_by([ibis.desc("members"), column])
        .to_pyarrow()
    )
    keys = counts[column].to_pylist()
    values = counts["members"].to_pylist()
    rows = [(None if k is None else str(k), int(n)) for k, n in zip(keys, values, strict=True)]
    rest = sum(n for _, n in rows[top:])
    shown = rows[:top] + ([("__other__", rest)] if rest else [])
    return Breakdown(column, tuple(shown))


@dataclass(frozen=True)
class Intersection:
    """Members in every audience of ``audiences`` (whatever else they are in)."""

    audiences: tuple[str, ...]
    members: int
    share_of_union: float
    #: the share of the smallest audience of the set that is in all of them
    share_of_smallest: float

    def to_dict(self) -> dict:
        return {
            "audiences": list(self.audiences),
            "members": self.members,
            "share_of_union": self.share_of_union,
            "share_of_smallest": self.share_of_smallest,
        }


@dataclass(frozen=True)
class Overlap:
    """How audiences overlap: each one's size, the union, every intersection (pairs, triples,
    ...) and the exact regions (members in exactly this set of audiences, for a Venn chart)."""

    names: tuple[str, ...]
    sizes: Mapping[str, int]
    union: int
    intersections: tuple[Intersection, ...]
    regions: tuple[tuple[tuple[str, ...], int], ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "names": list(self.names),
            "sizes": dict(self.sizes),
            "union": self.union,
            "intersections": [i.to_dict() for i in self.intersections],
            "regions": [{"audiences": list(k), "members": n} for k, n in self.regions],
        }


def overlap(table: ir.Table, conditions: Mapping[str, ir.BooleanValue]) -> Overlap:
    """The overlap of the audiences ``conditions`` (name -> condition on ``table``), from one
    grouped count of members by the combination of audiences they are in."""
    names = tuple(conditions)
    if not 2 <= len(names) <= MAX_OVERLAP:
        raise ConfigError(f"overlap compares 2 to {MAX_OVERLAP} audiences; {len(names)} given")
    flags = {f"a{i}": flag(conditions[n]) for i, n in enumerate(names)}
    marked = table.select(**flags)
    any_flag = ibis.or_(*[marked[k] for k in flags])
    grouped = (
        marked.filter(any_flag).group_by(list(flags)).aggregate(members=ibis._.count()).to_pyarrow()
    )
    regions: dict[tuple[str, ...], int] = {}
    for row in grouped.to_pylist():
        key = tuple(n for i, n in enumerate(names) if row[f"a{i}"])
        regions[key] = regions.get(key, 0) + int(row["members"])
    union = sum(regions.values())
    sizes = {n: sum(c for k, c in regions.items() if n in k) for n in names}
    out: list[Intersection] = []
    for r in range(2, len(names) + 1):
        for combo in itertools.combinations(names, r):
            n = sum(c for k, c in regions.items() if set(combo) <= set(k))
            smallest = min(sizes[a] for a in combo)
            out.append(
                Intersection(
                    combo,
                    n,
                    n / union if union else 0.0,
                    n / smallest if smallest else 0.0,
                )
            )
    ordered = tuple(sorted(regions.items(), key=lambda kv: (len(kv[0]), kv[0])))
    return Overlap(names, sizes, union, tuple(out), ordered)


def _wanted_texts(expr: Expression) -> list[tuple[str, str]]:
    """(column, text) of every ``column == "text"`` and ``column in [...]`` in ``expr`` (checked:
    columns resolved), where a text no member holds would make the condition select nobody."""
    if isinstance(expr, And | Or):
        return [p for item in expr.items for p in _wanted_texts(item)]
    if isinstance(expr, Membership) and not expr.negated:
        return [(expr.column.name, str(v.value)) for v in expr.values if v.kind == "string"]
    if (
        isinstance(expr, Compare)
        and expr.op == "=="
        and isinstance(expr.right, Value)
        and expr.right.kind == "string"
    ):
        return [(expr.left.name, str(expr.right.value))]
    return []


def absent_values(frame: AudienceFrame, expr: Expression, *, limit: int = 500) -> list[str]:
    """Notes on text values ``expr`` asks for that no member holds, each with the nearest values
    the column does hold (``province == "广东"`` when provinces are stored as ``广东省``)."""
    wanted = _wanted_texts(check(expr, frame.columns))
    notes: list[str] = []
    for column in sorted({c for c, _ in wanted}):
        if frame.columns.kinds.get(column) != "string":
            continue
        col = frame.table[column]
        held = set(
            frame.table.filter(col.notnull())
            .select(col.name(column))
            .distinct()
            .limit(limit)
            .to_pyarrow()[column]
            .to_pylist()
        )
        for text in sorted({t for c, t in wanted if c == column} - held):
            near = difflib.get_close_matches(text, sorted(held), n=3, cutoff=0.5)
            fix = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            notes.append(f"no member has {column} {text!r}{fix}")
    return notes
