"""Mapping a user's column names to the canonical ones, once, at the edge.

Without a mapping file, each canonical field takes the first source column whose normalised
header equals the field name or one of its synonyms (``会员ID`` -> ``member_id``). A mapping file
(TOML, written by ``memberlens ingest --write-mapping``) pins the choice for later loads.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from memberlens.exceptions import MappingError
from memberlens.ingest.days import DAY_HEADERS, TIME_HEADERS
from memberlens.schema import TableSpec, normalise_header


@dataclass(frozen=True)
class Mapping:
    """canonical field -> source column, for one table."""

    table: str
    columns: dict[str, str]
    #: source columns that were not used (kept out of the warehouse).
    unused: tuple[str, ...] = ()
    #: how the mapping was made: "auto" or the mapping file's path.
    origin: str = "auto"
    #: extra spellings for coded fields: {"status": {"ok": "paid"}}.
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    #: date/time fields whose column counts days (1, 2, ...; see :mod:`memberlens.ingest.days`).
    days: tuple[str, ...] = ()
    #: date/time field -> column holding its clock time (``HHMM`` such as 1631, or ``HH:MM``).
    times: dict[str, str] = field(default_factory=dict)

    @property
    def read(self) -> tuple[str, ...]:
        """The source columns the load reads: the mapped ones and the clock-time columns."""
        return tuple(dict.fromkeys([*self.columns.values(), *self.times.values()]))

    def to_toml(self, missing: tuple[str, ...] = ()) -> str:
        """The mapping as a file to edit; ``missing`` required fields are left for the user to
        fill in (as commented lines naming the field)."""
        lines = [
            f"# memberlens column mapping for table {self.table!r}.",
            '# canonical field = "column in your file"; delete a line to leave it out.',
            f'table = "{self.table}"',
            "",
            "[columns]",
        ]
        lines += [
            f'# {k} = "..."   # required: no column found; write the name of your column '
            "and remove the leading #"
            for k in missing
        ]
        lines += [
            f'{k} = "{_esc(v)}"'
            if not v.startswith("_")
            else f"# {k}: none in the file; generated as <file name>:<line>"
            for k, v in self.columns.items()
        ]
        if self.unused:
            lines += ["", "# columns of the file that are not loaded:"]
            lines += [f"#   {c}" for c in self.unused]
        if self.days:
            lines += [
                "",
                "[day_numbers]  # these fields' columns count days: day 1 is [ingest] day_one "
                "in memberlens.toml",
                "fields = [" + ", ".join(f'"{d}"' for d in self.days) + "]",
            ]
        if self.times:
            lines += ["", "[time_of_day]  # clock time (HHMM such as 1631, or HH:MM) of a field"]
            lines += [f'{k} = "{_esc(v)}"' for k, v in self.times.items()]
        for fname, spellings in self.values.items():
            lines += ["", f"[values.{fname}]"]
            lines += [f'"{_esc(k)}" = "{_esc(v)}"' for k, v in spellings.items()]
        return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def propose_mapping(columns: list[str], spec: TableSpec) -> Mapping:
    """The automatic mapping of ``columns`` onto ``spec``'s fields."""
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise_header(col), col)
    taken: set[str] = set()
    chosen: dict[str, str] = {}
    # exact canonical names first, so that a file already in canonical form maps one to one
    for f in spec.fields:
        col = by_norm.get(normalise_header(f.name))
        if col is not None and col not in taken:
            chosen[f.name] = col
            taken.add(col)
    for f in spec.fields:
        if f.name in chosen:
            continue
        for syn in f.synonyms:
            col = by_norm.get(normalise_header(syn))
            if col is not None and col not in taken:
                chosen[f.name] = col
                taken.add(col)
                break
    ordered = {f.name: chosen[f.name] for f in spec.fields if f.name in chosen}
    days = tuple(
        f.name
        for f in spec.fields
        if f.type in ("timestamp", "date")
        and f.name in ordered
        and normalise_header(ordered[f.name]) in DAY_HEADERS
    )
    times: dict[str, str] = {}
    clock = next(
        (c for c in columns if c not in taken and normalise_header(c) in TIME_HEADERS), None
    )
    when = spec.time_field if spec.time_field in days else (days[0] if len(days) == 1 else None)
    if clock is not None and when is not None and spec.field(when).type == "timestamp":
        times[when] = clock
        taken.add(clock)
    unused = tuple(c for c in columns if c not in taken and not c.startswith("_"))
    return Mapping(table=spec.name, columns=ordered, unused=unused, days=days, times=times)


def read_mapping(path: str | Path, spec: TableSpec, columns: list[str]) -> Mapping:
    """Read a mapping file and check it against the spec and the source's columns."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(
            f"{path}: mapping file not found; write one with "
            "`memberlens ingest TABLE FILE --dry-run --write-mapping "
            f"{path}`"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: invalid TOML ({exc})") from None
    if raw.get("table", spec.name) != spec.name:
        raise MappingError(
            f"{path}: this mapping is for table {raw['table']!r}, not "
            f"{spec.name!r}; pass the mapping written for {spec.name!r}"
        )
    cols = dict(raw.get("columns", {}))
    for canonical, source_col in cols.items():
        if canonical not in spec.names:
            raise MappingError(
                f"{path}: [columns] {canonical} is not a field of "
                f"{spec.name!r}; use one of {', '.join(spec.names)}"
            )
        if source_col not in columns:
            raise MappingError(
                f"{path}: [columns] {canonical} = {source_col!r}, but the file "
                f"has no such column; its columns are {columns}"
            )
    values = {k: {str(a): str(b) for a, b in v.items()} for k, v in raw.get("values", {}).items()}
    days, times = _day_sections(raw, path, spec, cols, columns)
    used = set(cols.values()) | set(times.values())
    return Mapping(
        table=spec.name,
        columns=cols,
        origin=str(path),
        values=values,
        unused=tuple(c for c in columns if c not in used and not c.startswith("_")),
        days=days,
        times=times,
    )


def _day_sections(
    raw: dict, path: Path, spec: TableSpec, cols: dict[str, str], columns: list[str]
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The ``[day_numbers]`` and ``[time_of_day]`` sections of a mapping file, checked."""
    dated = [f.name for f in spec.fields if f.type in ("timestamp", "date")]
    listed = raw.get("day_numbers", {}).get("fields", [])
    if not isinstance(listed, list):
        raise MappingError(f'{path}: [day_numbers] fields must be a list such as ["ordered_at"]')
    for name in listed:
        if name not in cols or name not in dated:
            raise MappingError(
                f"{path}: [day_numbers] lists {name!r}, which is not a date field mapped in "
                f"[columns]; list some of {[d for d in dated if d in cols]}"
            )
    times = {str(k): str(v) for k, v in raw.get("time_of_day", {}).items()}
    for name, col in times.items():
        if name not in cols or spec.field(name).type != "timestamp":
            raise MappingError(
                f"{path}: [time_of_day] {name} is not a time field mapped in [columns]; use one "
                f"of {[d for d in dated if d in cols and spec.field(d).type == 'timestamp']}"
            )
        if col not in columns:
            raise MappingError(
                f"{path}: [time_of_day] {name} = {col!r}, but the file has no such column; its "
                f"columns are {columns}"
            )
    return tuple(listed), times


def check_required(
    mapping: Mapping,
    spec: TableSpec,
    *,
    label: str,
    columns: list[str],
    optional: tuple[str, ...] = (),
) -> None:
    """Raise a :class:`MappingError` naming every required field that has no column."""
    missing = [f for f in spec.required if f not in mapping.columns and f not in optional]
    if missing:
        hints = "; ".join(
            f"{m} (headers we recognise: {', '.join((m,) + spec.field(m).synonyms[:5])})"
            for m in missing
        )
        relative = [c for c in columns if "since" in normalise_header(c)]
        if spec.time_field in missing and relative:
            hints += (
                f". {relative[0]!r} gives only the gap to the previous order: without a date or a "
                "day number per order, one customer's orders cannot be placed against another's "
                "(add the order date, or a day number counted from one common day 1)"
            )
        raise MappingError(
            f"{label}: no column for required field(s) of {spec.name!r}: {hints}. The file has "
            f"columns {[c for c in columns if not c.startswith('_')]}. Rename the column, or write "
            f"a mapping with `memberlens ingest {spec.name} {label} --dry-run --write-mapping "
            f"map.toml`, edit it, and pass --mapping map.toml"
        )
