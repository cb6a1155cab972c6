"""Where audiences live: the app-state tables (``audiences``, ``audience_snapshots``,
``opt_outs``; Alembic revision ``0003_audiences``) and the store that holds them.

The app-state store is the one the dashboard uses (SQLite in ``DIR/.memberlens/web.sqlite`` by
default, PostgreSQL through ``[web] database_url`` or ``$MEMBERLENS_WEB_DATABASE_URL``); member
data stays in the warehouse. A frozen member list is stored compactly: the sorted member ids,
newline-joined and zlib-compressed, with their count and SHA-256 digest (1M ids of 10 characters
take about 3 MB).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import zlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

# the app-state store (a core module the dashboard uses too): these tables share its
# declarative base and its Alembic history
from memberlens.appstate import Base, Store, database_url, open_store, utcnow
from memberlens.exceptions import ConfigError, DataError

if TYPE_CHECKING:
    from memberlens.project import Project

__all__ = [
    "AudienceRow",
    "OptOutRow",
    "SnapshotRow",
    "add_opt_outs",
    "decode_members",
    "encode_members",
    "opted_out_ids",
    "remove_opt_outs",
    "state_store",
    "utcnow",
]


class AudienceRow(Base):
    __tablename__ = "audiences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    expression: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SnapshotRow(Base):
    __tablename__ = "audience_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    audience_id: Mapped[int] = mapped_column(
        ForeignKey("audiences.id", ondelete="CASCADE"), index=True
    )
    as_of: Mapped[dt.date] = mapped_column(Date)
    #: the expression as it was when frozen (the audience may change later)
    expression: Mapped[str] = mapped_column(Text)
    member_count: Mapped[int] = mapped_column(Integer)
    #: sorted member ids, "\n"-joined, zlib-compressed (:func:`encode_members`)
    members: Mapped[bytes] = mapped_column(LargeBinary)
    #: SHA-256 of the uncompressed id text: proof the list read back is the list frozen
    digest: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class OptOutRow(Base):
    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("member_id", "channel", name="uq_opt_outs_member_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32), index=True)
    #: where it came from: "unsubscribe_link", "sms_keyword", "import", "cli", a user name...
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


_STORES: dict[str, Store] = {}
_LOCK = threading.Lock()


def state_store(project: Project) -> Store:
    """The app-state store of ``project`` (migrated to the newest revision), one per database
    URL and process."""
    url = database_url(project)
    with _LOCK:
        if url not in _STORES:
            _STORES[url] = open_store(url)
        return _STORES[url]


def encode_members(member_ids: Iterable[str]) -> tuple[bytes, int, str]:
    """(compressed blob, count, digest) of a set of member ids (sorted, duplicates dropped)."""
    ids = sorted({str(m) for m in member_ids})
    bad = next((m for m in ids if "\n" in m), None)
    if bad is not None:
        raise DataError(f"member_id {bad!r} holds a line break; it cannot be frozen")
    text = "\n".join(ids).encode("utf-8")
    return zlib.compress(text, 6), len(ids), hashlib.sha256(text).hexdigest()


def decode_members(blob: bytes, count: int, digest: str) -> list[str]:
    """The member ids of :func:`encode_members`; a :class:`DataError` if they do not match."""
    text = zlib.decompress(blob)
    ids = text.decode("utf-8").split("\n") if text else []
    if len(ids) != count or hashlib.sha256(text).hexdigest() != digest:
        raise DataError(
            "a frozen audience snapshot does not match its digest (the app-state database was "
            "changed outside memberlens); freeze the audience again"
        )
    return ids


def _channel(channel: str) -> str:
    name = (channel or "").strip().lower()
    if not name or len(name) > 32:
        raise ConfigError(f"channel {channel!r}: give a channel name of 1-32 characters, e.g. sms")
    return name


def opted_out_ids(store: Store, channel: str) -> frozenset[str]:
    """Member ids that opted out of ``channel``."""
    with store() as db:
        rows = db.scalars(select(OptOutRow.member_id).where(OptOutRow.channel == _channel(channel)))
        return frozenset(rows.all())


def add_opt_outs(
    store: Store, member_ids: Sequence[str], channel: str, *, source: str | None = None
) -> int:
    """Record that ``member_ids`` opted out of ``channel``; how many were new."""
    name = _channel(channel)
    wanted = {str(m).strip() for m in member_ids if str(m).strip()}
    long = next((m for m in wanted if len(m) > 64), None)
    if long is not None:
        raise DataError(f"member_id {long[:20]!r}...: longer than 64 characters")
    with store() as db:
        have = set(db.scalars(select(OptOutRow.member_id).where(OptOutRow.channel == name)).all())
        new = sorted(wanted - have)
        now = utcnow()
        db.add_all(
            OptOutRow(member_id=m, channel=name, source=(source or "")[:64] or None, at=now)
            for m in new
        )
        db.commit()
    return len(new)


def remove_opt_outs(store: Store, member_ids: Sequence[str], channel: str) -> int:
    """Forget opt-outs of ``member_ids`` from ``channel`` (the member opted back in); how many."""
    name = _channel(channel)
    with store() as db:
        result = db.execute(
            delete(OptOutRow).where(
                OptOutRow.channel == name, OptOutRow.member_id.in_([str(m) for m in member_ids])
            )
        )
        db.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
