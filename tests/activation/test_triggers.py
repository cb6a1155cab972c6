"""Triggers: who fires (checked against pandas on the simulator's files and the mart), sends
through the campaign machinery, idempotent per date, on/off, and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from memberlens.activation.templates import load_template
from memberlens.activation.triggers import (
    firing_members,
    list_rules,
    run_triggers,
    save_rule,
    set_enabled,
)

DAY = dt.date(2026, 1, 5)
NOW = dt.datetime(2026, 1, 5, 2, 0)


@pytest.fixture
def shop(make_project, receiver):
    from memberlens.pipeline.run import run_pipeline

    project = make_project(
        f'[channels.sms]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "k"\n'
    )
    run_pipeline(project, steps=["summary", "clv", "segments", "tiers", "lifecycle", "members"])
    return project


def _rule(store, project, name, kind, **params):
    return save_rule(
        store.engine, project, name=name, kind=kind, channel="sms", params=params,
        template=load_template(None), holdout=0.2,
    )  # fmt: skip


def test_birthday_fires_the_members_born_n_days_later_once_per_day(shop, store, receiver, sim_shop):
    members = pd.read_parquet(sim_shop / "members.parquet")
    target = DAY + dt.timedelta(days=7)
    born = pd.to_datetime(members.birthday)
    month = born.dt.month.fillna(members.birth_month)
    day = born.dt.day.fillna(members.birth_day)
    expected = set(members.member_id[(month == target.month) & (day == target.day)])
    assert expected  # the reference: pandas on the simulator's members file
    rule = _rule(store, shop, "bday", "birthday", days_before=7)
    assert set(firing_members(store, shop, rule, DAY)) == expected
    (first,) = run_triggers(store, shop, DAY, now=NOW)
    assert first.fired == len(expected) and not first.repeated
    assert first.sent + first.control + first.excluded == first.fired
    assert len(receiver.delivered()) == first.sent
    (again,) = run_triggers(store, shop, DAY, now=NOW)
    assert again.repeated and again.sent == 0 and len(receiver.delivered()) == first.sent
    set_enabled(store.engine, "bday", False)
    assert run_triggers(store, shop, DAY + dt.timedelta(days=1), now=NOW) == []
    assert not list_rules(store.engine)[0].enabled


def test_festival_winback_and_unknown_names(shop, store):
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.exceptions import ConfigError

    with open_warehouse(shop, read_only=True) as wh:
        mart = wh.table("mart_members").to_pandas()
    fest = _rule(store, shop, "d11", "festival", festival="double11", days_before=3)
    assert len(firing_members(store, shop, fest, dt.date(2025, 11, 8))) == len(mart)
    assert firing_members(store, shop, fest, dt.date(2025, 11, 9)) == []
    # win-back: days since the last order reach twice the member's own mean gap
    as_of = pd.Timestamp(mart.as_of.max()).date()
    day = as_of + dt.timedelta(days=10)
    repeat = mart[mart.frequency >= 1]
    due = (2.0 * repeat.recency / repeat.frequency).apply(lambda x: int(-(-x // 1)))
    expected = set(repeat.member_id[(repeat.days_since_last + 10) == due])
    win = _rule(store, shop, "winback", "winback", gap_multiple=2.0)
    assert set(firing_members(store, shop, win, day)) == expected
    with pytest.raises(ConfigError, match="unknown name"):
        _rule(store, shop, "bad", "festival", festival="christmas")
    with pytest.raises(ConfigError, match="days_before"):
        _rule(store, shop, "bad", "birthday", days_ahead=3)


def test_triggers_cli_run_is_idempotent_per_date(shop, receiver, tmp_path):
    env = {**os.environ, "MEMBERLENS_SECRET": "s"}

    def cli(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "memberlens", "triggers", *args, "--project", str(shop.root)],
            capture_output=True, text=True, timeout=300, env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    cli("add", "bday", "--kind", "birthday", "--channel", "sms", "--params", '{"days_before": 7}')
    listed = json.loads(cli("list", "--date", DAY.isoformat(), "--json"))
    (rule,) = listed["rules"]
    first = json.loads(cli("run", "--date", DAY.isoformat(), "--now", NOW.isoformat(), "--json"))
    again = json.loads(cli("run", "--date", DAY.isoformat(), "--now", NOW.isoformat(), "--json"))
    assert first[0]["fired"] == rule["would_fire"] > 0
    assert again[0]["repeated"] and again[0]["sent"] == 0
    assert len(receiver.delivered()) == first[0]["sent"] == len(set(receiver.delivered()))
