"""The ``[ingest]`` section of ``memberlens.toml``: plausible values and per-table options.

```toml
[ingest]
max_amount = 10000000       # |amount|, price or quantity above it: quarantined (out_of_range)
max_id_length = 128         # longer ids: quarantined (value_too_long)
max_text_length = 10000     # longer names, pages, comments: quarantined (value_too_long)
# member fields stored generalised unless [privacy] keep_clear_pii = true: birthday -> birth
# month, day and age band; city -> none (province kept); gender -> none
generalise = ["birthday", "city", "gender"]
# exports that count days (dunnhumby's DAY 1..711) instead of writing dates: the date of day 1
day_one = 2000-01-01

[ingest.order_items]
drop_duplicate_lines = false  # keep lines repeated exactly (two scans of one item)
```
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from memberlens.exceptions import ConfigError
from memberlens.ingest.days import DEFAULT_DAY_ONE
from memberlens.ingest.rules import Limits
from memberlens.project import Project
from memberlens.schema import TABLES


@dataclass(frozen=True)
class TableOptions:
    """Per-table ingest options (``[ingest.<table>]``)."""

    #: drop lines equal in every field to an earlier line of the file (``duplicate_line``).
    drop_duplicate_lines: bool = True


def _section(project: Project | None) -> dict[str, Any]:
    if project is None:
        return {}
    raw = project.settings.get("ingest", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{project.file}: [ingest] must be a table of settings")
    return raw


def limits(project: Project | None) -> Limits:
    """The project's :class:`~memberlens.ingest.rules.Limits` (defaults where not set)."""
    raw = _section(project)
    values: dict[str, Any] = {}
    for f in fields(Limits):
        if f.name not in raw:
            continue
        value = raw[f.name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(
                f"{project.file if project else 'memberlens.toml'}: [ingest] {f.name} = "
                f"{value!r}; write a positive number such as {getattr(Limits(), f.name)}"
            )
        values[f.name] = int(value) if f.name != "max_amount" else float(value)
    return Limits(**values)


def day_one(project: Project | None) -> dt.date:
    """The date of day 1 for exports that count days (``[ingest] day_one``; default 2000-01-01)."""
    value = _section(project).get("day_one", DEFAULT_DAY_ONE)
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            pass
    if not isinstance(value, dt.date):
        raise ConfigError(
            f"{project.file if project else 'memberlens.toml'}: [ingest] day_one = {value!r}; "
            "write the date of day 1 as a TOML date, such as day_one = 2019-03-04"
        )
    return value


#: member fields that can be generalised (and the default: all of them).
GENERALISABLE = ("birthday", "city", "gender")


def generalised(project: Project | None) -> tuple[str, ...]:
    """The member fields stored generalised (none when the project keeps clear values)."""
    if project is not None and project.keep_clear_pii:
        return ()
    raw = _section(project).get("generalise", list(GENERALISABLE))
    if not isinstance(raw, list) or any(v not in GENERALISABLE for v in raw):
        raise ConfigError(
            f"{project.file if project else 'memberlens.toml'}: [ingest] generalise = {raw!r}; "
            f"write a list of some of {list(GENERALISABLE)} (or [] to keep them)"
        )
    return tuple(raw)


def table_options(project: Project | None, table: str) -> TableOptions:
    """The options of ``[ingest.<table>]`` (defaults where not set)."""
    raw = _section(project).get(table, {})
    known = {f.name for f in fields(TableOptions)}
    where = f"{project.file if project else 'memberlens.toml'}: [ingest.{table}]"
    if table not in TABLES or not isinstance(raw, dict):
        return TableOptions()
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where} has unknown option(s) {sorted(unknown)}; use {sorted(known)}")
    for k, v in raw.items():
        if not isinstance(v, bool):
            raise ConfigError(f"{where} {k} = {v!r}; write true or false")
    return TableOptions(**raw)
