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
    unused = tuple(c for c in columns if c not in taken and not c.startswith("_"))
    return Mapping(table=spec.name, columns=ordered, unused=unused)


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
    used = set(cols.values())
    return Mapping(
        table=spec.name,
        columns=cols,
        origin=str(path),
        values=values,
        unused=tuple(c for c in columns if c not in used and not c.startswith("_")),
    )


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
        raise MappingError(
            f"{label}: no column for required field(s) of {spec.name!r}: {hints}. The file has "
            f"columns {[c for c in columns if not c.startswith('_')]}. Rename the column, or write "
            f"a mapping with `memberlens ingest {spec.name} {label} --dry-run --write-mapping "
            f"map.toml`, edit it, and pass --mapping map.toml"
        )
