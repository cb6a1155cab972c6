"""The app-state side of audiences: migration ``0003_audiences`` up and down on SQLite (Alembic's
own command API, the reference), the compact frozen-list encoding, and opt-out validation."""

from __future__ import annotations

import pytest

from memberlens.activation.audiences_store import (
    add_opt_outs,
    decode_members,
    encode_members,
    opted_out_ids,
)
from memberlens.appstate import MIGRATIONS
from memberlens.exceptions import ConfigError, DataError


def _config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def test_migration_0003_creates_and_drops_the_audience_tables(store):
    from alembic import command
    from sqlalchemy import inspect

    names = set(inspect(store.engine).get_table_names())
    assert {"audiences", "audience_snapshots", "opt_outs"} <= names
    unique = {
        tuple(u["column_names"]) for u in inspect(store.engine).get_unique_constraints("opt_outs")
    }
    assert ("member_id", "channel") in unique
    cfg = _config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    left = set(inspect(store.engine).get_table_names())
    assert not {"audiences", "audience_snapshots", "opt_outs"} & left and "users" in left
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert "audiences" in inspect(store.engine).get_table_names()


def test_frozen_lists_are_compact_and_round_trip():
    ids = [f"M{i:09d}" for i in range(100_000)]
    blob, count, digest = encode_members(reversed(ids + ids[:10]))  # order and repeats ignored
    assert count == 100_000 and len(digest) == 64
    assert len(blob) < 100_000 * 11 / 4  # well under the plain text
    assert decode_members(blob, count, digest) == ids
    assert decode_members(*encode_members([])) == []
    with pytest.raises(DataError, match="line break"):
        encode_members(["a\nb"])


def test_opt_out_channels_are_normalised_and_checked(store):
    assert add_opt_outs(store, ["m1", " m2 ", ""], " Email ") == 2
    assert opted_out_ids(store, "email") == {"m1", "m2"}
    with pytest.raises(ConfigError, match="channel"):
        add_opt_outs(store, ["m1"], "")
    with pytest.raises(DataError, match="longer than 64"):
        add_opt_outs(store, ["x" * 65], "sms")
