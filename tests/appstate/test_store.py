"""The app-state store as a core module: it opens and migrates a real SQLite database, and the
layers import it one way only (core <- services <- interfaces)."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

import memberlens.activation
import memberlens.appstate
from memberlens.appstate import MIGRATIONS, open_store

_UPWARD = re.compile(r"^\s*(from|import)\s+(memberlens\.(web|cli)|fastapi|typer)\b", re.M)


def _importing_up(package) -> list[str]:
    folder = Path(package.__file__).parent
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*.py")
        if _UPWARD.search(p.read_text(encoding="utf-8"))
    )


def test_neither_the_store_nor_activation_imports_the_web_or_the_cli():
    assert _importing_up(memberlens.appstate) == []
    assert _importing_up(memberlens.activation) == []
    services = re.compile(r"^\s*(from|import)\s+memberlens\.activation\b", re.M)
    folder = Path(memberlens.appstate.__file__).parent
    assert not [p for p in folder.rglob("*.py") if services.search(p.read_text("utf-8"))]


def test_open_store_migrates_sqlite_to_the_newest_revision(tmp_path):
    # reference: Alembic's own script directory names the head revision
    from alembic.script import ScriptDirectory

    store = open_store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    try:
        with store.engine.connect() as conn:
            version = conn.execute(sa.text("select version_num from alembic_version")).scalar()
            tables = set(sa.inspect(conn).get_table_names())
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        assert version == head
        # the web layer's accounts and activation's tables, from one history
        assert {"users", "audit_events", "audiences", "opt_outs", "campaign_sends"} <= tables
    finally:
        store.engine.dispose()
    assert (tmp_path / "state.sqlite").stat().st_mode & 0o077 == 0  # owner only
