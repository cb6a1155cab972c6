"""The Alembic revision 0004_campaigns and the send ledger on SQLite and on a real PostgreSQL
server (the fixture of tests/web/test_postgres.py: a throwaway cluster under tmp_path)."""

from __future__ import annotations

import glob
import importlib.util
from pathlib import Path

import pytest
import sqlalchemy as sa

from memberlens.activation import ledger
from memberlens.appstate import MIGRATIONS

_spec = importlib.util.spec_from_file_location(
    "_postgres_fixture", Path(__file__).parents[1] / "web" / "test_postgres.py"
)
assert _spec is not None and _spec.loader is not None
_pg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pg)
postgres_url = _pg.postgres_url  # the fixture, reused


def _check_ledger(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from memberlens.web.store import open_store

    store = open_store(url)
    engine = store.engine
    try:
        tables = set(sa.inspect(engine).get_table_names())
        assert {
            "activation_campaigns",
            "campaign_sends",
            "suppressions",
            "trigger_rules",
            "trigger_runs",
        } <= tables
        now = ledger.utcnow()
        with engine.begin() as conn:
            conn.execute(ledger.SENDS.delete())
            conn.execute(ledger.CAMPAIGNS.delete())
            conn.execute(
                ledger.CAMPAIGNS.insert().values(
                    campaign_id="C1",
                    name="n",
                    audience="a",
                    channel="sms",
                    holdout=0.1,
                    arms="[]",
                    created_at=now,
                )
            )
        rows = [{"member_id": f"M{i}", "arm": "treatment", "status": "pending"} for i in range(7)]
        assert ledger.insert_plan(engine, "C1", "sms", rows) == 7
        assert ledger.insert_plan(engine, "C1", "sms", rows) == 0  # planned once
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(
                ledger.SENDS.insert().values(
                    campaign_id="C1",
                    member_id="M0",
                    channel="sms",
                    arm="treatment",
                    status="pending",
                    attempts=0,
                    updated_at=now,
                )
            )
        claimed = ledger.claim(engine, "C1", 5)
        assert len(claimed) == 5 and ledger.counts(engine, "C1").sending == 5
        ledger.finish(engine, [r["id"] for r in claimed[:3]], "sent")
        assert ledger.release_in_flight(engine, "C1") == 2  # the sender of the other two died
        counts = ledger.counts(engine, "C1")
        assert (counts.sent, counts.unknown, counts.pending) == (3, 2, 2)
        assert ledger.recently_sent(engine, now) == {"M0": 1, "M1": 1, "M2": 1}
        # down to the audiences' revision and back up
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003_audiences")
        assert "campaign_sends" not in sa.inspect(engine).get_table_names()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        assert "campaign_sends" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_ledger_on_sqlite(tmp_path):
    _check_ledger(f"sqlite:///{tmp_path / 'state.sqlite'}")


@pytest.mark.slow
@pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/initdb"),
    reason="PostgreSQL server binaries missing: apt-get install -y postgresql",
)
def test_ledger_on_postgresql(postgres_url):
    _check_ledger(postgres_url)
