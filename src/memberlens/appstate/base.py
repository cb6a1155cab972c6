"""The declarative base every app-state table shares, and the store's clock."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import DeclarativeBase

__all__ = ["Base", "utcnow"]


def utcnow() -> dt.datetime:
    """Naive UTC time (stored as such in every database)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass
