"""The send ledger: one row per (campaign, member, channel) in the application-state store.

The tables are declared here with SQLAlchemy Core and created by the Alembic revision
``0004_campaigns``; the functions take a SQLAlchemy :class:`~sqlalchemy.engine.Engine` (SQLite
or PostgreSQL), so the services layer never imports the web layer that opens the store.

A row's ``status`` moves one way::

    planned: control | excluded | pending
    pending -> sending -> sent | failed (attempts + 1, retried while attempts < limit)
                                | pending (channel down: nothing was delivered, retried later)
    sending (its sender died) -> unknown (counted "in doubt"; resent only when asked)

The unique key (campaign_id, member_id, channel) and the claim-then-confirm steps make a send
idempotent: a re-run only delivers rows still ``pending``, so a crash half way and a re-run never
deliver a message twice (a message in flight when the sender died is ``unknown``, not resent).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = [
    "CAMPAIGNS",
    "METADATA",
    "SENDS",
    "STATUSES",
    "SUPPRESSIONS",
    "TRIGGER_RULES",
    "TRIGGER_RUNS",
    "LedgerCounts",
    "Status",
    "claim",
    "counts",
    "exclude",
    "finish",
    "finish_claimed",
    "insert_plan",
    "recently_sent",
    "release_in_flight",
    "utcnow",
]

Status = Literal["pending", "sending", "sent", "failed", "unknown", "control", "excluded", "dead"]
STATUSES: tuple[str, ...] = (
    "pending",
    "sending",
    "sent",
    "failed",
    "unknown",
    "control",
    "excluded",
    "dead",
)

METADATA = sa.MetaData()

CAMPAIGNS = sa.Table(
    "activation_campaigns",
    METADATA,
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("audience", sa.Text, nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("template", sa.Text, nullable=True),  # JSON: {"subject": {...}, "body": {...}}
    sa.Column("offer", sa.String(200), nullable=True),
    sa.Column("holdout", sa.Float, nullable=False),
    sa.Column("arms", sa.Text, nullable=False),  # JSON: [["treatment", 1.0], ...]
    sa.Column("starts_at", sa.DateTime, nullable=True),
    sa.Column("ends_at", sa.DateTime, nullable=True),
    sa.Column("trigger", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("planned_at", sa.DateTime, nullable=True),
)

SENDS = sa.Table(
    "campaign_sends",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "campaign_id",
        sa.String(64),
        sa.ForeignKey("activation_campaigns.campaign_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("member_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("arm", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=True),
    sa.UniqueConstraint("campaign_id", "member_id", "channel", name="uq_campaign_sends_key"),
    sa.Index("ix_campaign_sends_status", "campaign_id", "status"),
    sa.Index("ix_campaign_sends_member", "member_id", "sent_at"),
)

SUPPRESSIONS = sa.Table(
    "suppressions",
    METADATA,
    sa.Column("member_id", sa.String(64), primary_key=True),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("until", sa.DateTime, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

TRIGGER_RULES = sa.Table(
    "trigger_rules",
    METADATA,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("template", sa.Text, nullable=True),
    sa.Column("offer", sa.String(200), nullable=True),
    sa.Column("holdout", sa.Float, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=True),
)

TRIGGER_RUNS = sa.Table(
    "trigger_runs",
    METADATA,
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("run_date", sa.Date, nullable=False),
    sa.Column("campaign_id", sa.String(64), nullable=True),
    sa.Column("fired", sa.Integer, nullable=False),
    sa.Column("ran_at", sa.DateTime, nullable=False),
    sa.PrimaryKeyConstraint("rule", "run_date", name="pk_trigger_runs"),
)

_CHUNK = 5_000


def utcnow() -> dt.datetime:
    """Naive UTC now (the app-state store keeps naive UTC times)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class LedgerCounts:
    """Rows of one campaign per status, and how many were retried (attempts > 1)."""

    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    control: int = 0
    excluded: int = 0
    dead: int = 0
    retried: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def insert_plan(
    engine: Engine,
    campaign_id: str,
    channel: str,
    rows: Sequence[dict],
    *,
    at: dt.datetime | None = None,
) -> int:
    """Write the planned rows (``member_id``, ``arm``, ``status``, ``reason``) of a campaign and
    mark it planned at ``at`` (UTC), in one transaction; nothing when it was planned already.
    Rows written."""
    now = at or utcnow()
    with engine.begin() as conn:
        planned = conn.execute(
            sa.select(CAMPAIGNS.c.planned_at).where(CAMPAIGNS.c.campaign_id == campaign_id)
        ).scalar_one()
        if planned is not None:
            return 0
        # the driver's executemany with plain tuples: SQLAlchemy's per-row parameter handling
        # cost more than the insert itself for a million rows
        cols = ["campaign_id", "member_id", "channel", "arm", "status", "reason"]
        cols += ["attempts", "updated_at"]
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"INSERT INTO {SENDS.name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
        )
        bind = SENDS.c.updated_at.type.bind_processor(conn.dialect)
        stamp = bind(now) if bind is not None else now
        for start in range(0, len(rows), _CHUNK):
            conn.exec_driver_sql(
                sql,
                [
                    (campaign_id, r["member_id"], channel, r["arm"], r["status"])
                    + (r.get("reason"), 0, stamp)
                    for r in rows[start : start + _CHUNK]
                ],
            )
        conn.execute(
            CAMPAIGNS.update().where(CAMPAIGNS.c.campaign_id == campaign_id).values(planned_at=now)
        )
    return len(rows)


def release_in_flight(engine: Engine, campaign_id: str) -> int:
    """Rows left ``sending`` by a sender that died become ``unknown`` (call while holding the
    campaign's send lock, so no live sender owns them). How many."""
    with engine.begin() as conn:
        result = conn.execute(
            SENDS.update()
            .where(SENDS.c.campaign_id == campaign_id, SENDS.c.status == "sending")
            .values(status="unknown", updated_at=utcnow())
        )
    return int(result.rowcount or 0)


def claim(
    engine: Engine,
    campaign_id: str,
    limit: int,
    *,
    statuses: Iterable[str] = ("pending",),
    max_attempts: int = 3,
) -> list[dict[str, Any]]:
    """Up to ``limit`` deliverable rows (``pending``, or ``failed`` with attempts left), marked
    ``sending`` and committed before anything is delivered."""
    wanted = tuple(statuses)
    with engine.begin() as conn:
        cond: sa.ColumnElement[bool] = SENDS.c.status.in_(wanted)
        if "failed" in wanted:
            cond = sa.or_(
                SENDS.c.status.in_([s for s in wanted if s != "failed"]),
                sa.and_(SENDS.c.status == "failed", SENDS.c.attempts < max_attempts),
            )
        rows = conn.execute(
            sa.select(SENDS.c.id, SENDS.c.member_id, SENDS.c.arm, SENDS.c.attempts)
            .where(SENDS.c.campaign_id == campaign_id, cond)
            .order_by(SENDS.c.id)
            .limit(limit)
        ).all()
        if rows:
            # the rows selected are the first ``limit`` matches by id: the matches between the
            # first and last id are exactly them (one range, not a list of ids to bind)
            conn.execute(
                SENDS.update()
                .where(
                    SENDS.c.campaign_id == campaign_id,
                    cond,
                    SENDS.c.id.between(rows[0].id, rows[-1].id),
                )
                .values(status="sending", updated_at=utcnow())
            )
    return [dict(r._mapping) for r in rows]


def finish_claimed(
    engine: Engine,
    campaign_id: str,
    claimed: Sequence[dict[str, Any]],
    status: Status,
    *,
    at: dt.datetime | None = None,
) -> None:
    """Confirm every row of one :func:`claim` still ``sending`` (the whole batch delivered):
    one update over the claimed id range."""
    if not claimed:
        return
    now = at or utcnow()
    values: dict[str, Any] = {"status": status, "updated_at": now, "error": None}
    values["attempts"] = SENDS.c.attempts + 1
    if status == "sent":
        values["sent_at"] = now
    lo, hi = claimed[0]["id"], claimed[-1]["id"]
    with engine.begin() as conn:
        conn.execute(
            SENDS.update()
            .where(
                SENDS.c.campaign_id == campaign_id,
                SENDS.c.status == "sending",
                SENDS.c.id.between(lo, hi),
            )
            .values(values)
        )


def finish(
    engine: Engine,
    ids: Sequence[int],
    status: Status,
    *,
    error: str | None = None,
    attempted: bool = True,
    at: dt.datetime | None = None,
) -> None:
    """Confirm claimed rows: ``sent``, ``failed``/``dead`` (a delivery attempt that failed) or
    ``pending`` (the channel was down; ``attempted=False`` keeps the attempt count)."""
    if not ids:
        return
    now = at or utcnow()
    values: dict[str, Any] = {"status": status, "updated_at": now, "error": error}
    if attempted:
        values["attempts"] = SENDS.c.attempts + 1
    if status == "sent":
        values["sent_at"] = now
    with engine.begin() as conn:
        for start in range(0, len(ids), _CHUNK):
            conn.execute(
                SENDS.update()
                .where(SENDS.c.id.in_(list(ids[start : start + _CHUNK])))
                .values(values)
            )


def exclude(engine: Engine, ids: Sequence[int], reason: str) -> None:
    """Rows a guard rail stops after the plan (an opt-out or suppression recorded since):
    ``excluded`` with ``reason``, never delivered."""
    with engine.begin() as conn:
        for start in range(0, len(ids), _CHUNK):
            conn.execute(
                SENDS.update()
                .where(SENDS.c.id.in_(list(ids[start : start + _CHUNK])))
                .values(status="excluded", reason=reason, updated_at=utcnow())
            )


def counts(engine: Engine, campaign_id: str) -> LedgerCounts:
    """The campaign's rows per status (``retried``: rows delivered or tried more than once)."""
    with engine.connect() as conn:
        by_status: dict[str, int] = dict(
            conn.execute(
                sa.select(SENDS.c.status, sa.func.count())
                .where(SENDS.c.campaign_id == campaign_id)
                .group_by(SENDS.c.status)
            ).all()
        )
        retried = conn.execute(
            sa.select(sa.func.count()).where(
                SENDS.c.campaign_id == campaign_id, SENDS.c.attempts > 1
            )
        ).scalar_one()
    return LedgerCounts(**{s: int(by_status.get(s, 0)) for s in STATUSES}, retried=int(retried))


def recently_sent(engine: Engine, since: dt.datetime) -> dict[str, int]:
    """Messages sent per member since ``since`` (UTC), across campaigns and channels."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(SENDS.c.member_id, sa.func.count())
            .where(SENDS.c.status == "sent", SENDS.c.sent_at >= since)
            .group_by(SENDS.c.member_id)
        ).all()
    return {str(m): int(n) for m, n in rows}
