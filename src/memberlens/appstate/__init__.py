"""The application-state store: users, saved audiences, campaigns, send ledgers, opt-outs,
trigger rules and the audit log, in a relational database through SQLAlchemy (SQLite in
``DIR/.memberlens/web.sqlite`` by default, PostgreSQL for teams), its schema made and upgraded by
the Alembic migrations in ``memberlens/appstate/migrations``.

A core module: the services (``memberlens.activation``) and the interfaces (``memberlens.web``,
``memberlens.cli``) import it, it imports neither. Each layer declares its own tables on
:class:`Base` (the web layer its accounts, activation its audiences and ledger).
"""

from memberlens.appstate.base import Base, utcnow
from memberlens.appstate.store import (
    MIGRATIONS,
    Store,
    database_url,
    migrate,
    open_store,
    sqlite_path,
)

__all__ = [
    "MIGRATIONS",
    "Base",
    "Store",
    "database_url",
    "migrate",
    "open_store",
    "sqlite_path",
    "utcnow",
]
