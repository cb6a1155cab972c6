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


_LOYALTY = '\n[loyalty]\ntiers = ["member", "silver", "gold"]\nthresholds = [0, {}, {}]\nwindow_days = {}\n'


def _loyalty_reference(sim_shop, day: dt.date, window: int, thresholds: list[float]):
    """The reference: pandas on the simulator's orders file (paid orders in the window)."""
    import numpy as np

    orders = pd.read_parquet(sim_shop / "orders.parquet")
    when = pd.to_datetime(orders.ordered_at).dt.date
    start = day - dt.timedelta(days=window - 1)
    paid = orders[(when >= start) & (when <= day) & (orders.status.fillna("paid") == "paid")]
    spend = paid.groupby("member_id").amount.sum().astype(float)
    level = np.searchsorted(np.asarray(thresholds), spend.to_numpy(), side="right") - 1
    nxt = np.asarray([*thresholds[1:], np.inf])[level]
    gap = nxt - spend.to_numpy()
    return spend, level, gap, nxt


def test_near_tier_fires_members_close_to_the_next_loyalty_tier(
    make_project, receiver, store, sim_shop
):
    import numpy as np

    from memberlens.activation.loyalty import loyalty_settings, member_tiers
    from memberlens.engine.warehouse import open_warehouse

    orders = pd.read_parquet(sim_shop / "orders.parquet")
    day = pd.to_datetime(orders.ordered_at).max().date()
    window = 365
    spend, _, _, _ = _loyalty_reference(sim_shop, day, window, [0.0, 1.0])
    silver, gold = (round(float(spend.quantile(q)), 2) for q in (0.5, 0.9))
    project = make_project(
        f'[channels.sms]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "k"\n'
        + _LOYALTY.format(silver, gold, window)
    )
    spend, level, gap, nxt = _loyalty_reference(sim_shop, day, window, [0.0, silver, gold])
    with open_warehouse(project, read_only=True) as wh:
        tiers = member_tiers(wh, loyalty_settings(project), day).to_pandas().set_index("member_id")
    tiers = tiers.loc[spend.index]
    names = np.asarray(["member", "silver", "gold"])
    assert (tiers.tier.to_numpy() == names[level]).all()
    assert np.allclose(tiers.net_spend.to_numpy(), spend.to_numpy())
    top = level == 2
    assert tiers.next_tier[top].isna().all() and tiers.gap[top].isna().all()
    assert np.allclose(tiers.gap[~top].to_numpy(), gap[~top])
    # the rule: within 10 % of the next threshold and at most 150 away
    share = np.divide(gap, nxt, out=np.full(len(gap), np.inf), where=~top)
    expected = set(spend.index[(~top) & (gap > 0) & (share <= 0.1) & (gap <= 150)])
    assert expected
    rule = _rule(store, project, "near", "near_tier", max_share=0.1, max_gap=150)
    assert set(firing_members(store, project, rule, day)) == expected
    now = dt.datetime.combine(day, dt.time(2, 0))  # 10:00 in Shanghai
    (run,) = run_triggers(store, project, day, now=now)
    assert run.fired == len(expected) and run.sent + run.control + run.excluded == run.fired
    assert set(receiver.delivered()) <= expected and len(receiver.delivered()) == run.sent
    # the next day within the cooldown: nobody fires again
    later = day + dt.timedelta(days=1)
    assert not set(firing_members(store, project, rule, later)) & expected


def test_loyalty_settings_are_checked_when_the_project_loads(make_project, store):
    from memberlens.exceptions import ConfigError

    with pytest.raises(ConfigError, match=r"\[loyalty\] thresholds .*start at 0 and rise"):
        make_project(_LOYALTY.format(5000, 1000, 365), name="falling")
    with pytest.raises(ConfigError, match=r"\[loyalty\] thresholds .*one number per tier"):
        make_project('\n[loyalty]\ntiers = ["a", "b"]\nthresholds = [0]\n', name="short")
    with pytest.raises(ConfigError, match=r"\[loyalty\] window_days"):
        make_project(_LOYALTY.format(10, 20, 0), name="window")
    with pytest.raises(ConfigError, match=r"did you mean \[loyalty\]"):
        make_project('\n[loyalti]\ntiers = ["a", "b"]\n', name="typo")
    # a near_tier rule without [loyalty] fails when it is saved
    project = make_project('[channels.sms]\nkind = "webhook"\nurl = "http://x"\nsecret = "k"\n')
    with pytest.raises(ConfigError, match=r"no \[loyalty\] section"):
        _rule(store, project, "near", "near_tier")
    tiered = make_project(
        '[channels.sms]\nkind = "webhook"\nurl = "http://x"\nsecret = "k"\n'
        + _LOYALTY.format(10, 20, 30),
        name="tiered",
    )
    with pytest.raises(ConfigError, match="max_share = 2"):
        _rule(store, tiered, "near", "near_tier", max_share=2)
