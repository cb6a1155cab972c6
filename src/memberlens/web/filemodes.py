"""Files that hold secrets or personal data and should be readable by their owner only (0600):
the state database (password hashes, audit log), the project's secret key (it pseudonymises
personal data) and exports. ``memberlens serve`` warns about each one that is wider."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy.engine import URL

from memberlens.project import Project
from memberlens.web.store import sqlite_path

PRIVATE = 0o600
#: where exports are expected (``memberlens members --export exports/list.xlsx``)
EXPORTS_DIR = "exports"
_EXPORT_SUFFIXES = (".csv", ".xlsx", ".parquet")


def wider_than_private(path: Path) -> bool:
    """Whether ``path`` can be read or written by its group or others."""
    return bool(stat.S_IMODE(path.stat().st_mode) & ~PRIVATE & 0o777)


def private_files(project: Project, database: URL | str | None) -> list[tuple[str, Path]]:
    """(what, path) of every existing file that should be 0600."""
    found: list[tuple[str, Path]] = []
    db = sqlite_path(str(database)) if database is not None else None
    if db is not None:
        for suffix in ("", "-wal", "-shm"):
            found.append(("state database", db.with_name(db.name + suffix)))
    found.append(("secret key", project.state_dir / "secret.key"))
    exports = project.root / EXPORTS_DIR
    if exports.is_dir():
        found += [("export", p) for p in sorted(exports.rglob("*")) if p.suffix in _EXPORT_SUFFIXES]
    return [(what, p) for what, p in found if p.is_file()]


def loose_files(project: Project, database: URL | str | None) -> list[str]:
    """A warning for each private file whose mode is wider than 0600."""
    return [
        f"{what} {path} is mode {stat.S_IMODE(path.stat().st_mode):04o}; it holds "
        f"secrets or personal data: `chmod 600 {path}`"
        for what, path in private_files(project, database)
        if wider_than_private(path)
    ]
