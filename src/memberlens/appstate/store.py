"""Opening the app-state database: its URL, the migrations, the :class:`Store`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

if TYPE_CHECKING:
    from memberlens.project import Project

__all__ = ["MIGRATIONS", "Store", "database_url", "migrate", "open_store", "sqlite_path"]

#: the Alembic script folder (``script_location``)
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(project: Project) -> str:
    """``$MEMBERLENS_WEB_DATABASE_URL``, else ``[web] database_url``, else SQLite in state_dir."""
    url = os.environ.get("MEMBERLENS_WEB_DATABASE_URL") or dict(
        project.settings.get("web", {})
    ).get("database_url")
    if url:
        return str(url)
    project.state_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{project.state_dir / 'web.sqlite'}"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@dataclass
class Store:
    """The state database: an engine and a session factory."""

    engine: Engine
    sessions: sessionmaker

    def __call__(self) -> DbSession:
        return self.sessions()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite ``url`` (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    return None if name.startswith("file:") else Path(name)


def _create_private(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600) before SQLite creates it with
    the umask's mode (usually 0644): it holds password hashes and the audit log. SQLite gives
    its -wal and -shm files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # an existing file keeps its mode; `memberlens serve` warns when it is wider


def open_store(url: str) -> Store:
    """Connect to ``url``, run the migrations and return the :class:`Store`."""
    kwargs = {}
    file = sqlite_path(url)
    if file is not None:
        _create_private(file)
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, future=True, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    migrate(engine)
    return Store(engine, sessionmaker(engine, expire_on_commit=False))
