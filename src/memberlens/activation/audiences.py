"""Audiences: named, saved filters over the member mart, sized, compared, exported and frozen.

API (stable; the campaign code builds on it). ``project`` is a :class:`~memberlens.project.Project`
or a project folder; ``store`` (optional everywhere) is an open app-state store, the dashboard's
own, else the project's (:func:`~memberlens.activation.audiences_store.state_store`)::

    create_audience(project, name, where, *, description=None, owner=None, replace=False)
        -> Audience                      # ExpressionError (exit 2, HTTP 400) if `where` is bad
    get_audience(project, name) -> Audience            # NotFoundError (exit 5, HTTP 404)
    list_audiences(project) -> list[Audience]
    delete_audience(project, name) -> Audience
    audience_members(project, name_or_expression, as_of=None, *, columns=("member_id",))
        -> pyarrow.Table                 # the members matching now (sorted by member_id)
    audience_size(project, name_or_expression, *, as_of=None, breakdowns=True) -> AudienceSize
    audience_overlap(project, names_or_expressions) -> Overlap
    freeze_audience(project, name, *, as_of=None, owner=None) -> Snapshot
    frozen_members(project, name, *, as_of=None) -> Snapshot   # .member_ids: list[str]
    target_member_ids(project, name) -> (ids, Snapshot | None)  # who a campaign targets
    opted_out(project, channel) -> frozenset[str]              # member ids opted out
    add_opt_outs(project, member_ids, channel, *, source=None) -> int   # new ones
    remove_opt_outs(project, member_ids, channel) -> int
    audience_export(project, name, *, frozen=False, allowed=None) -> pyarrow.Table

The app-state store of a project: ``memberlens.activation.audiences_store.state_store(project)``
(a :class:`memberlens.appstate.Store`; call it for a SQLAlchemy session). Snapshot ids are
stable: a campaign may record ``Snapshot.id`` to say which frozen list it targeted.

``name_or_expression``: a saved audience's name, else an expression of the filter language
(:mod:`memberlens.activation.audience_language`). ``as_of``: a ``datetime.date``; None is the
latest run of the marts.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from memberlens.activation import audiences_store as _store
from memberlens.activation.audience_language import parse
from memberlens.activation.audiences_query import (
    BREAKDOWNS,
    Breakdown,
    Overlap,
    absent_values,
    audience_frame,
    breakdown,
    condition,
    latest_as_of,
    needed_columns,
    overlap,
)
from memberlens.activation.audiences_store import AudienceRow, SnapshotRow, utcnow
from memberlens.engine.warehouse import open_warehouse
from memberlens.exceptions import ConfigError, NotFoundError
from memberlens.project import Project

if TYPE_CHECKING:
    from memberlens.appstate import Store

__all__ = [
    "Audience",
    "AudienceSize",
    "Snapshot",
    "add_opt_outs",
    "audience_columns",
    "audience_export",
    "audience_members",
    "audience_overlap",
    "audience_size",
    "create_audience",
    "delete_audience",
    "freeze_audience",
    "frozen_members",
    "get_audience",
    "list_audiences",
    "opted_out",
    "remove_opt_outs",
    "target_member_ids",
]

#: a project, its folder, or None for $MEMBERLENS_PROJECT / the current folder
ProjectRef = Project | str | os.PathLike[str] | None
NAME_RULE = re.compile(r"^[\w][\w\-.]{0,63}$")


@dataclass(frozen=True)
class Audience:
    name: str
    expression: str
    description: str | None
    owner: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "expression": self.expression,
            "description": self.description,
            "owner": self.owner,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class AudienceSize:
    """How many members of ``mart_members`` match, out of ``total``, and by segment/tier/
    province (``breakdowns``, empty when not asked for)."""

    name: str | None
    expression: str
    size: int
    total: int
    as_of: dt.date | None
    breakdowns: tuple[Breakdown, ...] = ()
    #: why an audience may be empty: text values asked for that no member holds, with the
    #: nearest values held (checked only when nobody matches)
    notes: tuple[str, ...] = ()

    @property
    def share(self) -> float:
        return self.size / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "expression": self.expression,
            "size": self.size,
            "total": self.total,
            "share": self.share,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "breakdowns": {b.column: b.to_dict()["rows"] for b in self.breakdowns},
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Snapshot:
    """A frozen member list: exactly who an audience held as of ``as_of``."""

    id: int
    audience: str
    as_of: dt.date
    expression: str
    size: int
    member_ids: tuple[str, ...]
    created_by: str | None
    created_at: dt.datetime

    def to_dict(self, *, with_members: bool = False) -> dict:
        out = {
            "id": self.id,
            "audience": self.audience,
            "as_of": self.as_of.isoformat(),
            "expression": self.expression,
            "size": self.size,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }
        if with_members:
            out["member_ids"] = list(self.member_ids)
        return out


def _project(project: ProjectRef) -> Project:
    return project if isinstance(project, Project) else Project.load(project)


def _state(project: Project, store: Store | None) -> Store:
    return store if store is not None else _store.state_store(project)


def _audience(row: AudienceRow) -> Audience:
    return Audience(
        row.name, row.expression, row.description, row.owner, row.created_at, row.updated_at
    )


def _row(db, name: str) -> AudienceRow:
    row = db.scalar(select(AudienceRow).where(AudienceRow.name == name))
    if row is None:
        known = list(db.scalars(select(AudienceRow.name).order_by(AudienceRow.name)).all())
        shown = ", ".join(known[:10]) if known else "none yet"
        raise NotFoundError(
            f"no audience named {name!r} (audiences: {shown}); create it with "
            f'`memberlens audience create {name} --where "..."`'
        )
    return row


def audience_columns(project: ProjectRef = None) -> dict[str, str]:
    """The columns an expression may name (column -> number/string/date/timestamp/boolean),
    aliases included."""
    proj = _project(project)
    with open_warehouse(proj, read_only=True) as wh:
        vocabulary = audience_frame(wh).columns
    kinds = dict(sorted(vocabulary.kinds.items()))
    return {**kinds, **{a: kinds[c] for a, c in sorted(vocabulary.aliases.items())}}


def _validate(proj: Project, where: str) -> None:
    """Parse and type-check ``where`` against the current marts (the columns it may name)."""
    from memberlens.activation.audience_language import check

    expr = parse(where)
    with open_warehouse(proj, read_only=True) as wh:
        check(expr, audience_frame(wh, needed=set()).columns)


def create_audience(
    project: ProjectRef,
    name: str,
    where: str,
    *,
    description: str | None = None,
    owner: str | None = None,
    replace: bool = False,
    store: Store | None = None,
) -> Audience:
    """Save audience ``name`` as ``where`` (checked against the marts first); with ``replace``
    an existing one is updated, else a second with the same name is an error."""
    proj = _project(project)
    if not isinstance(name, str) or not NAME_RULE.match(name):
        raise ConfigError(
            f"audience name {name!r}: use 1-64 letters, digits, _, - or . (starting with a "
            "letter or digit), e.g. vip_guangdong"
        )
    _validate(proj, where)
    text = " ".join(where.split())
    with _state(proj, store)() as db:
        row = db.scalar(select(AudienceRow).where(AudienceRow.name == name))
        now = utcnow()
        if row is not None and not replace:
            raise ConfigError(
                f"audience {name!r} exists (where {row.expression}); pass --replace to change it "
                "or choose another name"
            )
        if row is None:
            row = AudienceRow(name=name, created_at=now, owner=owner)
            db.add(row)
        row.expression = text
        row.description = description if description is not None else row.description
        row.updated_at = now
        db.commit()
        return _audience(row)


def get_audience(project: ProjectRef, name: str, *, store: Store | None = None) -> Audience:
    """The saved audience ``name``; :class:`NotFoundError` naming the ones there are."""
    proj = _project(project)
    with _state(proj, store)() as db:
        return _audience(_row(db, name))


def list_audiences(project: ProjectRef, *, store: Store | None = None) -> list[Audience]:
    """Every saved audience, by name."""
    proj = _project(project)
    with _state(proj, store)() as db:
        return [_audience(r) for r in db.scalars(select(AudienceRow).order_by(AudienceRow.name))]


def delete_audience(project: ProjectRef, name: str, *, store: Store | None = None) -> Audience:
    """Delete audience ``name`` and its snapshots; what was deleted."""
    proj = _project(project)
    with _state(proj, store)() as db:
        row = _row(db, name)
        gone = _audience(row)
        db.query(SnapshotRow).filter(SnapshotRow.audience_id == row.id).delete()
        db.delete(row)
        db.commit()
        return gone


def _resolve(proj: Project, name_or_expression: str, store: Store | None) -> tuple[str | None, str]:
    """(name or None, expression) of a saved audience's name or an expression."""
    text = name_or_expression.strip()
    if not NAME_RULE.match(text):
        return None, text
    with _state(proj, store)() as db:
        row = db.scalar(select(AudienceRow).where(AudienceRow.name == text))
        if row is not None:
            return row.name, row.expression
        names = list(db.scalars(select(AudienceRow.name).order_by(AudienceRow.name)).all())
    if text.isidentifier():  # a bare word: a boolean column (e.g. refunder), else a lost name
        with open_warehouse(proj, read_only=True) as wh:
            vocabulary = audience_frame(wh, needed=set()).columns
        if text not in vocabulary.kinds and text not in vocabulary.aliases:
            near = difflib.get_close_matches(text, names, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(near)}? " if near else ""
            shown = ", ".join(names[:10]) if names else "none yet"
            raise NotFoundError(
                f"no audience named {text!r} and no column of that name; {hint}"
                f"(audiences: {shown}); create it with "
                f'`memberlens audience create {text} --where "..."`'
            )
    return None, text


def audience_size(
    project: ProjectRef,
    name_or_expression: str,
    *,
    as_of: dt.date | None = None,
    breakdowns: bool = True,
    store: Store | None = None,
) -> AudienceSize:
    """How many members match (of all in the mart), with the breakdown by segment, tier and
    province unless ``breakdowns`` is False."""
    proj = _project(project)
    name, expression = _resolve(proj, name_or_expression, store)
    expr = parse(expression)
    needed = needed_columns(expr) | (set(BREAKDOWNS) if breakdowns else set())
    state = _state(proj, store)
    with open_warehouse(proj, read_only=True) as wh:
        frame = audience_frame(wh, needed=needed, as_of=as_of)
        cond = condition(frame, expr, lambda ch: _store.opted_out_ids(state, ch))
        table = frame.table
        # the matching count as a WHERE (its plain comparisons are pushed into the scan), the
        # total and the as-of date in a second, unfiltered aggregate
        matched = table.filter(cond)
        size = int(matched.count().to_pyarrow().as_py())
        figures = {"total": table.count()}
        if frame.as_of is None and "as_of" in table.columns:
            figures["as_of"] = table.as_of.max()
        counts = table.aggregate(**figures).to_pyarrow().to_pylist()[0]
        total = int(counts["total"])
        when = frame.as_of or counts.get("as_of")
        if isinstance(when, dt.datetime):
            when = when.date()
        parts: tuple[Breakdown, ...] = ()
        if breakdowns and size:
            parts = tuple(breakdown(matched, c) for c in BREAKDOWNS if c in table.columns)
        notes = () if size else tuple(absent_values(frame, expr))
    return AudienceSize(name, expression, size, total, when, parts, notes)


def audience_members(
    project: ProjectRef,
    name_or_expression: str,
    as_of: dt.date | None = None,
    *,
    columns: Sequence[str] = ("member_id",),
    store: Store | None = None,
) -> pa.Table:
    """The members matching (``columns`` of them, sorted by ``member_id``)."""
    proj = _project(project)
    _, expression = _resolve(proj, name_or_expression, store)
    with open_warehouse(proj, read_only=True) as wh:
        expr = parse(expression)
        frame = audience_frame(wh, needed=needed_columns(expr) | set(columns), as_of=as_of)
        missing = [c for c in columns if c not in frame.table.columns]
        if missing:
            raise ConfigError(
                f"columns {', '.join(missing)} are not in the member table; use e.g. member_id, "
                "segment_cn8, clv, province"
            )
        state = _state(proj, store)
        cond = condition(frame, expr, lambda ch: _store.opted_out_ids(state, ch))
        return frame.table.filter(cond).select(*columns).order_by("member_id").to_pyarrow()


def audience_overlap(
    project: ProjectRef,
    names_or_expressions: Sequence[str],
    *,
    store: Store | None = None,
) -> Overlap:
    """Counts and shares of every intersection of 2 to 6 audiences (names or expressions)."""
    proj = _project(project)
    resolved = [_resolve(proj, n, store) for n in names_or_expressions]
    labels = [name or expression for name, expression in resolved]
    if len(set(labels)) != len(labels):
        raise ConfigError("overlap: an audience is named twice; name each one once")
    with open_warehouse(proj, read_only=True) as wh:
        exprs = [parse(e) for _, e in resolved]
        needed = set().union(*(needed_columns(e) for e in exprs))
        frame = audience_frame(wh, needed=needed)
        state = _state(proj, store)
        conditions = {
            label: condition(frame, e, lambda ch: _store.opted_out_ids(state, ch))
            for label, e in zip(labels, exprs, strict=True)
        }
        return overlap(frame.table, conditions)


def freeze_audience(
    project: ProjectRef,
    name: str,
    *,
    as_of: dt.date | None = None,
    owner: str | None = None,
    store: Store | None = None,
) -> Snapshot:
    """Store exactly who audience ``name`` holds as of ``as_of`` (None: the latest run), so a
    campaign targets the members that were counted."""
    proj = _project(project)
    audience = get_audience(proj, name, store=store)
    ids = audience_members(proj, audience.expression, as_of, store=store)["member_id"]
    with open_warehouse(proj, read_only=True) as wh:
        when = as_of or latest_as_of(audience_frame(wh, needed=set()).table)
    blob, count, digest = _store.encode_members(ids.to_pylist())
    with _state(proj, store)() as db:
        row = _row(db, name)
        snap = SnapshotRow(
            audience_id=row.id,
            as_of=when or dt.date.today(),
            expression=audience.expression,
            member_count=count,
            members=blob,
            digest=digest,
            created_by=owner,
            created_at=utcnow(),
        )
        db.add(snap)
        db.commit()
        return _snapshot(snap, name)


def _snapshot(row: SnapshotRow, name: str) -> Snapshot:
    ids = _store.decode_members(row.members, row.member_count, row.digest)
    return Snapshot(
        row.id,
        name,
        row.as_of,
        row.expression,
        row.member_count,
        tuple(ids),
        row.created_by,
        row.created_at,
    )


def frozen_members(
    project: ProjectRef,
    name: str,
    *,
    as_of: dt.date | None = None,
    store: Store | None = None,
) -> Snapshot:
    """The latest snapshot of audience ``name`` (the latest one as of ``as_of`` when given)."""
    proj = _project(project)
    with _state(proj, store)() as db:
        row = _row(db, name)
        q = select(SnapshotRow).where(SnapshotRow.audience_id == row.id)
        if as_of is not None:
            q = q.where(SnapshotRow.as_of == as_of)
        snap = db.scalar(q.order_by(SnapshotRow.created_at.desc(), SnapshotRow.id.desc()))
        if snap is None:
            when = f" as of {as_of}" if as_of else ""
            raise NotFoundError(
                f"audience {name!r} has no frozen member list{when}; freeze it with "
                f"`memberlens audience freeze {name}`"
            )
        return _snapshot(snap, name)


def target_member_ids(
    project: ProjectRef,
    name_or_expression: str,
    *,
    store: Store | None = None,
) -> tuple[list[str], Snapshot | None]:
    """Who a campaign on this audience targets, and the snapshot they came from: a saved
    audience that was frozen gives its latest frozen list (so the campaign reaches exactly the
    members that were counted, whatever the marts say now); any other audience or expression
    gives the members matching now (and ``None``)."""
    proj = _project(project)
    name, _ = _resolve(proj, name_or_expression, store)
    if name is not None:
        try:
            snap = frozen_members(proj, name, store=store)
        except NotFoundError:
            snap = None
        if snap is not None:
            return list(snap.member_ids), snap
    found = audience_members(proj, name_or_expression, store=store)
    return [str(m) for m in found.column("member_id").to_pylist()], None


def opted_out(project: ProjectRef, channel: str, *, store: Store | None = None) -> frozenset[str]:
    """Member ids that opted out of ``channel`` (e.g. "sms", "email")."""
    proj = _project(project)
    return _store.opted_out_ids(_state(proj, store), channel)


def add_opt_outs(
    project: ProjectRef,
    member_ids: Sequence[str],
    channel: str,
    *,
    source: str | None = None,
    store: Store | None = None,
) -> int:
    """Record opt-outs of ``member_ids`` from ``channel``; how many were new."""
    proj = _project(project)
    return _store.add_opt_outs(_state(proj, store), member_ids, channel, source=source)


def remove_opt_outs(
    project: ProjectRef,
    member_ids: Sequence[str],
    channel: str,
    *,
    store: Store | None = None,
) -> int:
    """Forget opt-outs of ``member_ids`` from ``channel`` (they opted back in); how many."""
    proj = _project(project)
    return _store.remove_opt_outs(_state(proj, store), member_ids, channel)


#: what an export holds, where the mart has it (contacts masked: ``*_masked`` only)
EXPORT_COLUMNS: tuple[str, ...] = (
    "member_id",
    "segment_cn8",
    "value_tier",
    "lifecycle_stage",
    "clv",
    "p_alive",
    "total_spend",
    "frequency",
    "days_since_last",
    "province",
    "city",
    "gender",
    "age_band",
    "name_masked",
    "phone_masked",
    "email_masked",
)
CONTACT_COLUMNS: tuple[str, ...] = ("name_masked", "phone_masked", "email_masked")


def audience_export(
    project: ProjectRef,
    name: str,
    *,
    frozen: bool = False,
    contacts: bool = True,
    allowed: Sequence[str] | None = None,
    store: Store | None = None,
) -> pa.Table:
    """The rows to export for audience ``name``: :data:`EXPORT_COLUMNS` the warehouse has
    (only ``allowed`` ones when given; masked contacts only when ``contacts``), for the members
    matching now or, with ``frozen``, those of its latest snapshot."""
    proj = _project(project)
    audience = get_audience(proj, name, store=store)
    with open_warehouse(proj, read_only=True) as wh:
        present = set(audience_frame(wh, needed=set()).columns.kinds)
    wanted = [
        c
        for c in EXPORT_COLUMNS
        if c in present
        and (contacts or c not in CONTACT_COLUMNS)
        and (allowed is None or c in allowed)
    ]
    if "member_id" not in wanted:
        wanted.insert(0, "member_id")
    if not frozen:
        return audience_members(proj, audience.expression, columns=wanted, store=store)
    snap = frozen_members(proj, name, store=store)
    ids = pa.table({"member_id": pa.array(snap.member_ids, pa.string())})
    everyone = audience_members(proj, "member_id is not null", columns=wanted, store=store)
    return everyone.filter(pc.is_in(everyone["member_id"], value_set=ids["member_id"]))
