"""Rows as JSON: what the API sends of the read side's rows (member lists and the member 360 come
from :mod:`memberlens.marts`)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def _plain(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return [x if isinstance(x, (int, float, str, bool)) or x is None else str(x) for x in v]
    if v is not None and not isinstance(v, (int, float, str, bool)):
        v = float(v)
    if isinstance(v, float) and v != v:
        return None
    return v


def jsonable(rows: list[dict]) -> list[dict]:
    """Dates as ISO text, Decimals and NaN as JSON numbers / null."""
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def jsonable_tree(value: Any) -> Any:
    """:func:`jsonable` through nested dictionaries and lists of rows."""
    if isinstance(value, dict):
        return {k: jsonable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable_tree(v) for v in value]
    return _plain(value)
