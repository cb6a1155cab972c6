"""Scheduled campaigns (``campaign create --start/--end``): nothing is sent before the start,
nothing at or after the end, ``send-due`` (and the scheduler of ``memberlens serve``) sends what
is due exactly once, and the warehouse's ``campaigns`` row carries the declared window, which is
what ``campaign report`` measures. On the audience tests' project (a 400-member mart) with a real
HTTP receiver; times are naive UTC, the project's shop time is Asia/Shanghai (UTC+8)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import time

import pytest

from memberlens.activation.campaign_scheduler import CampaignScheduler, due_campaigns, send_due
from memberlens.activation.campaigns import create_campaign
from memberlens.activation.sends import dry_run, send, status
from memberlens.activation.templates import load_template
from memberlens.exceptions import ConfigError

from .test_campaign_cli import _cli  # the CLI in a subprocess, as a user runs it

CREATED = dt.datetime(2026, 1, 5, 2, 0)  # 10:00 in Shanghai
START = dt.datetime(2026, 1, 10, 1, 0)  # 09:00 in Shanghai
END = dt.datetime(2026, 1, 20, 1, 0)
AUDIENCE = "clv > 300"


@pytest.fixture
def project(audience_project, receiver, tmp_path):
    from memberlens.project import Project

    root = tmp_path / "shop"
    shutil.copytree(audience_project.root, root)
    with (root / "memberlens.toml").open("a", encoding="utf-8") as fh:
        fh.write(
            f'\n[channels.sms]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "k"\n'
            '\n[campaigns]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
        )
    return Project.load(root)


def _create(store, project, campaign_id, starts_at=START, ends_at=END, **kw):
    return create_campaign(
        store.engine,
        project,
        name="新年",
        audience=AUDIENCE,
        channel="sms",
        template=load_template(None),
        campaign_id=campaign_id,
        now=CREATED,
        starts_at=starts_at,
        ends_at=ends_at,
        **kw,
    )


def test_nothing_before_the_start_nothing_after_the_end(project, store, receiver):
    c = _create(store, project, "S-1")
    assert (c.starts_at, c.ends_at) == (START, END)
    early = START - dt.timedelta(minutes=1)
    plan = dry_run(store, project, "S-1", now=early)
    assert plan.would_send == 0 and plan.arms["treatment"] > 0  # who it would reach, not yet
    assert plan.messages[0] == (
        "scheduled: starts 2026-01-10 09:00 (Asia/Shanghai); a send before then sends nothing"
    )
    waited = send(store, project, "S-1", now=early)
    assert waited.scheduled == "2026-01-10 09:00" and waited.sent == waited.sent_total == 0
    assert receiver.delivered() == []
    assert status(store, "S-1", project)["planned"] is False  # the audience is read at the start
    assert (status(store, "S-1", project)["starts_at"], status(store, "S-1")["starts_at"]) == (
        "2026-01-10 09:00",
        "2026-01-10 01:00",  # without the project: UTC
    )
    first = send(store, project, "S-1", now=START)
    assert first.scheduled is None and first.sent == plan.arms["treatment"]
    assert len(receiver.delivered()) == first.sent
    with pytest.raises(ConfigError, match="ended at 2026-01-20 09:00"):
        send(store, project, "S-1", now=END)
    after = dry_run(store, project, "S-1", now=END)
    assert after.would_send == 0 and after.messages[0].startswith("ended 2026-01-20 09:00")


def test_the_warehouse_records_the_declared_window(project, store):
    from memberlens.engine.warehouse import open_warehouse

    _create(store, project, "S-2")
    send(store, project, "S-2", now=START + dt.timedelta(days=2))  # sent two days late
    with open_warehouse(project, read_only=True) as wh:
        row = wh.table("campaigns").to_pandas().set_index("campaign_id").loc["S-2"]
    # the shop's local times of the schedule, not of the late send
    assert row.starts_at == dt.datetime(2026, 1, 10, 9, 0)
    assert row.ends_at == dt.datetime(2026, 1, 20, 9, 0)


def test_schedule_checks(project, store):
    with pytest.raises(ConfigError, match="is not after --start"):
        _create(store, project, "S-3", ends_at=START)
    with pytest.raises(ConfigError, match="has passed"):
        _create(store, project, "S-4", starts_at=None, ends_at=CREATED - dt.timedelta(hours=1))
    # a start alone ends --days later
    c = _create(store, project, "S-5", ends_at=None, days=7)
    assert c.ends_at == START + dt.timedelta(days=7)


def test_send_due_sends_what_is_due_once(project, store, receiver):
    _create(store, project, "DUE")
    _create(store, project, "LATER", starts_at=START + dt.timedelta(days=3))
    create_campaign(
        store.engine,
        project,
        name="manual",
        audience=AUDIENCE,
        channel="sms",
        template=load_template(None),
        campaign_id="MANUAL",
        now=CREATED,
    )  # fmt: skip  (no schedule: sent by hand only)
    at = START + dt.timedelta(hours=1)
    assert due_campaigns(store.engine, START - dt.timedelta(seconds=1)) == []
    assert due_campaigns(store.engine, at) == ["DUE"]
    (result,) = send_due(store, project, at)
    assert result.campaign_id == "DUE" and result.sent > 0
    assert len(receiver.delivered()) == result.sent
    assert send_due(store, project, at) == []  # planned, nothing pending: not due again
    assert due_campaigns(store.engine, START + dt.timedelta(days=3)) == ["LATER"]
    assert due_campaigns(store.engine, END + dt.timedelta(days=5)) == []  # both ended


def test_quiet_hours_leave_a_due_campaign_due(project, store, receiver):
    from memberlens.project import Project

    text = project.file.read_text(encoding="utf-8")
    quiet_hours = 'quiet_start = "08:00"\nquiet_end = "10:00"'
    project.file.write_text(
        text.replace('quiet_start = "00:00"\nquiet_end = "00:00"', quiet_hours), encoding="utf-8"
    )
    project = Project.load(project.root)
    _create(store, project, "Q")
    before = dry_run(store, project, "Q", now=START - dt.timedelta(hours=1))  # 08:00, quiet
    assert before.deferred == before.would_send == 0  # not started: the quiet hours do not apply
    assert before.messages == (
        "scheduled: starts 2026-01-10 09:00 (Asia/Shanghai); a send before then sends nothing",
    )
    quiet = START  # 09:00 in Shanghai: quiet hours 08:00-10:00
    (first,) = send_due(store, project, quiet)
    assert first.sent == 0 and first.deferred == first.pending > 0
    assert due_campaigns(store.engine, quiet) == ["Q"]  # pending rows: still due
    scheduler = CampaignScheduler(store, project)  # the server's round, as send-due
    (second,) = scheduler.tick(START + dt.timedelta(hours=1, minutes=5))
    assert scheduler.ticks == 1
    assert second.sent == first.pending and len(receiver.delivered()) == second.sent


def test_the_server_sends_a_due_campaign(project, store, receiver, tmp_path):
    from fastapi.testclient import TestClient

    from memberlens.project import Project
    from memberlens.web import create_app

    with project.file.open("a", encoding="utf-8") as fh:
        fh.write("scheduler = true\nscheduler_minutes = 0.1\n")  # appended to [campaigns]
    project = Project.load(project.root)
    url = f"sqlite:///{tmp_path / 'web.sqlite'}"
    app = create_app(project, database=url)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    create_campaign(
        app.state.ctx.store.engine, project, name="now", audience=AUDIENCE, channel="sms",
        template=load_template(None), campaign_id="LIVE", now=now,
        starts_at=now - dt.timedelta(minutes=1), ends_at=now + dt.timedelta(days=1),
    )  # fmt: skip
    with TestClient(app):
        (thread,) = [t for t in threading.enumerate() if t.name == "memberlens-campaigns"]
        deadline = time.monotonic() + 60
        while not receiver.delivered() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert receiver.delivered()
        time.sleep(7.0)  # another round (every 6 s): the campaign is no longer due
    assert not thread.is_alive()  # stopped with the app, at once
    assert len(set(receiver.delivered())) == len(receiver.delivered())


def test_schedule_from_the_cli(project, receiver):
    root = project.root
    both = _cli(
        "campaign", "create", "x", "--audience", AUDIENCE, "--channel", "sms",
        "--start", "2030-01-10", "--end", "2030-01-20", "--days", "3", root=root,
    )  # fmt: skip
    assert both.returncode == 2 and "--end or --days" in both.stderr
    bad = _cli(
        "campaign", "create", "x", "--audience", AUDIENCE, "--channel", "sms",
        "--start", "next monday", root=root,
    )  # fmt: skip
    assert bad.returncode == 2 and "'next monday' is not a time" in bad.stderr
    made = _cli(
        "campaign", "create", "新年", "--audience", AUDIENCE, "--channel", "sms", "--id", "C-1",
        "--start", "2030-01-10 09:00", "--end", "2030-01-20", "--json", root=root,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    out = json.loads(made.stdout)
    assert (out["starts_at"], out["ends_at"]) == ("2030-01-10T01:00:00", "2030-01-19T16:00:00")
    early = _cli("campaign", "send", "C-1", "--now", "2030-01-10T00:59", root=root)
    assert early.returncode == 0, early.stderr
    assert "scheduled: starts 2030-01-10 09:00 (Asia/Shanghai); nothing sent" in early.stderr
    assert early.stdout == ""  # no table of zeros before the start
    shown = _cli("campaign", "status", "C-1", root=root)
    assert "scheduled 2030-01-10 09:00 -> 2030-01-20 00:00 (Asia/Shanghai)" in shown.stdout
    due = _cli("campaign", "send-due", "--now", "2030-01-10T01:00", "--json", root=root)
    assert due.returncode == 0, due.stderr
    (result,) = json.loads(due.stdout)
    assert result["campaign_id"] == "C-1" and result["sent"] == len(receiver.delivered()) > 0
    again = _cli("campaign", "send-due", "--now", "2030-01-10T02:00", root=root)
    assert again.stdout.strip() == "no scheduled campaign is due"
    over = _cli("campaign", "send", "C-1", "--now", "2030-01-20T00:00+08:00", root=root)
    assert over.returncode == 2 and "ended at 2030-01-20 00:00" in over.stderr
