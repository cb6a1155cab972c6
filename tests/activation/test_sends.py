"""Sending end to end: plan, guard rails, a real webhook receiver, the ledger's idempotency, a
channel that is down, and the warehouse's campaign tables read by ``campaign report``."""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import sqlalchemy as sa

from memberlens.activation import ledger
from memberlens.activation.campaigns import create_campaign
from memberlens.activation.sends import dry_run, send, status
from memberlens.activation.templates import load_template

NOW = dt.datetime(2026, 1, 5, 2, 0)  # 10:00 in Shanghai, outside the quiet hours


def _hook(url: str, extra: str = "") -> str:
    return (
        f'[channels.sms]\nkind = "webhook"\nurl = "{url}"\nsecret = "k"\nbatch_size = 100\n'
        f"max_retries = 1\nbackoff = 0.0\n{extra}"
    )


def _members(sim_shop) -> list[str]:
    return pq.read_table(sim_shop / "members.parquet").column("member_id").to_pylist()


def _campaign(store, project, holdout=0.2, campaign_id=None):
    return create_campaign(
        store.engine,
        project,
        name="春季回访",
        audience="all members",
        channel="sms",
        template=load_template(None),
        offer="满199减30",
        holdout=holdout,
        campaign_id=campaign_id,
    )


def test_send_delivers_treatment_only_and_never_twice(make_project, store, receiver, sim_shop):
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.experiments.projects import campaign_report_project

    project = make_project(_hook(receiver.url))
    ids = _members(sim_shop)
    c = _campaign(store, project, campaign_id="T-1")
    before = dry_run(store, project, c.campaign_id, now=NOW, members=ids)
    first = send(store, project, c.campaign_id, now=NOW, members=ids)
    assert first.sent == before.would_send == before.arms["treatment"]
    assert first.control == before.control and first.sent + first.control == len(ids)
    assert abs(first.control / len(ids) - 0.2) < 0.04
    delivered = receiver.delivered()
    assert sorted(delivered) == sorted(set(delivered)) and len(delivered) == first.sent
    again = send(store, project, c.campaign_id, now=NOW, members=ids)
    assert again.sent == 0 and len(receiver.delivered()) == first.sent
    # every targeted member is in the warehouse's contract tables with its group
    with open_warehouse(project, read_only=True) as wh:
        cm = wh.table("campaign_members").to_pandas()
        camp = wh.table("campaigns").to_pandas()
    mine = cm[cm.campaign_id == c.campaign_id]
    assert mine.group.value_counts().to_dict() == {
        "treatment": first.sent,
        "control": first.control,
    }
    assert set(mine[mine.group == "treatment"].member_id) == set(delivered)
    assert mine[mine.group == "control"].sent_at.isna().all()
    row = camp[camp.campaign_id == c.campaign_id].iloc[0]
    assert row["starts_at"] == dt.datetime(2026, 1, 5, 10, 0)  # shop time
    report = campaign_report_project(project, c.campaign_id, planned_control_share=0.2)
    assert {a.arm: a.n for a in report.arms} == {"treatment": first.sent, "control": first.control}
    assert status(store, c.campaign_id)["sent"] == first.sent


def test_guard_rails_are_counted_and_frozen(make_project, store, receiver, sim_shop, tmp_path):
    from memberlens.activation.audiences import add_opt_outs

    ids = _members(sim_shop)
    suppression = tmp_path / "suppress.csv"
    suppression.write_text("member_id\n" + "\n".join(ids[:30]) + "\n", encoding="utf-8")
    project = make_project(
        _hook(receiver.url)
        + f'\n[campaigns]\nsuppression_file = "{suppression}"\nmax_messages = 1\nwindow_days = 7\n'
    )
    add_opt_outs(project, ids[20:100], "sms", store=store)
    with store.engine.begin() as conn:
        conn.execute(
            ledger.SUPPRESSIONS.insert(),
            [{"member_id": ids[200], "reason": "open complaint", "created_at": NOW}],
        )
    earlier = _campaign(store, project, campaign_id="T-2")
    sent = send(
        store, project, earlier.campaign_id, now=NOW - dt.timedelta(days=2), members=ids[100:150]
    )
    later = _campaign(store, project, campaign_id="T-3")
    report = dry_run(store, project, later.campaign_id, now=NOW, members=ids)
    assert report.excluded == {
        "suppressed": 31,
        "opted_out": 70,  # 80 opted out, 10 of them suppressed first
        "no_address": 0,
        "frequency_cap": sent.sent,  # one message in the window already
    }
    assert report.audience == len(ids)
    # the plan is frozen at the first send: opting out later changes what is still pending only
    # through the next campaign, and the dry run now reads the frozen plan
    send(store, project, later.campaign_id, now=NOW, members=ids)
    frozen = dry_run(store, project, later.campaign_id, now=NOW)
    assert frozen.planned and frozen.excluded == report.excluded


def test_quiet_hours_defer_then_deliver(make_project, store, receiver, sim_shop):
    ids = _members(sim_shop)[:200]
    project = make_project(_hook(receiver.url))
    c = _campaign(store, project, campaign_id="T-4")
    night = dt.datetime(2026, 1, 5, 15, 0)  # 23:00 in Shanghai
    deferred = send(store, project, c.campaign_id, now=night, members=ids)
    assert deferred.sent == 0 and deferred.deferred == deferred.pending > 0
    assert receiver.requests == []
    morning = send(store, project, c.campaign_id, now=NOW + dt.timedelta(days=1))
    assert morning.sent == deferred.deferred and morning.pending == 0


def test_channel_down_keeps_the_ledger_consistent(make_project, store, receiver, sim_shop):
    ids = _members(sim_shop)[:300]
    project = make_project(_hook(receiver.url))
    c = _campaign(store, project, holdout=0.1, campaign_id="T-5")
    receiver.answers = [200, 503, 503]  # the second batch fails twice (1 retry): down
    first = send(store, project, c.campaign_id, now=NOW, members=ids)
    assert first.down and first.sent == 100 and first.pending == len(ids) - first.control - 100
    with store.engine.connect() as conn:
        statuses = dict(
            conn.execute(
                sa.select(ledger.SENDS.c.status, sa.func.count())
                .where(ledger.SENDS.c.campaign_id == c.campaign_id)
                .group_by(ledger.SENDS.c.status)
            ).all()
        )
    assert "sending" not in statuses  # nothing half-written
    second = send(store, project, c.campaign_id, now=NOW)
    assert second.pending == 0 and second.sent_total == len(ids) - first.control
    assert second.retried == 100  # the batch that met the outage went twice
    assert sorted(receiver.delivered()) == sorted(set(receiver.delivered()))


_SENDER = """
import datetime as dt, sys
from memberlens.project import Project
from memberlens.web.store import open_store
from memberlens.activation.sends import send
project, url, campaign_id, ids = Project.load(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
send(open_store(url), project, campaign_id, now=dt.datetime(2026, 1, 5, 2, 0),
     members=open(ids).read().split())
"""


def test_a_send_killed_half_way_and_rerun_never_sends_twice(
    make_project, receiver, sim_shop, tmp_path
):
    import os
    import signal
    import subprocess
    import sys
    import time

    from memberlens.web.store import open_store

    ids = _members(sim_shop)[:1000]
    project = make_project(_hook(receiver.url).replace("batch_size = 100", "batch_size = 10"))
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = open_store(url)
    c = _campaign(store, project, holdout=0.1, campaign_id="T-6")
    (tmp_path / "ids.txt").write_text("\n".join(ids))
    receiver.delay = 0.02
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SENDER,
            str(project.root),
            url,
            c.campaign_id,
            str(tmp_path / "ids.txt"),
        ],
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 300
        while len(receiver.requests) < 20 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the sender finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(60)
    half = len(set(receiver.delivered()))
    assert 0 < half < 900
    receiver.delay = 0.0
    result = send(store, project, c.campaign_id, now=NOW)
    delivered = receiver.delivered()
    assert len(delivered) == len(set(delivered)), "a member got the message twice"
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(ledger.SENDS.c.member_id, ledger.SENDS.c.status).where(
                ledger.SENDS.c.campaign_id == c.campaign_id
            )
        ).all()
    sent = {m for m, s in rows if s == "sent"}
    unknown = {m for m, s in rows if s == "unknown"}
    assert sent <= set(delivered)  # the ledger never claims a delivery that did not happen
    assert set(delivered) - sent <= unknown  # at most the batch in flight is in doubt
    assert len(unknown) <= 10 and result.unknown == len(unknown)
    assert result.pending == 0 and len(sent) + len(unknown) + result.control == len(ids)
    store.engine.dispose()


def test_email_campaign_through_a_real_smtp_server(make_project, store, sim_shop, tmp_path):
    import email
    import socket
    from email import policy

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message as Handler

    class Inbox(Handler):
        def __init__(self):
            super().__init__()
            self.mails = []

        def handle_message(self, message):
            self.mails.append(message)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        channel = (
            f'[channels.mail]\nkind = "smtp"\nhost = "127.0.0.1"\nport = {port}\n'
            'sender = "crm@shop.example"\nlanguage = "en"\n'
            '[campaigns]\nbase_url = "https://crm.shop.example"\n'
        )
        ids = _members(sim_shop)[:120]
        # pseudonymised addresses (the default privacy) cannot be mailed: all excluded
        hashed = make_project(channel, name="hashed")
        c1 = create_campaign(
            store.engine, hashed, name="m", audience="a", channel="mail",
            template=load_template(None), holdout=0.1, campaign_id="MAIL-0",
        )  # fmt: skip
        assert dry_run(store, hashed, c1.campaign_id, now=NOW, members=ids).excluded[
            "no_address"
        ] == len(ids)
        clear = make_project(channel, emails=True, name="clear")
        c2 = create_campaign(
            store.engine, clear, name="m", audience="a", channel="mail",
            template=load_template(None), offer="20% off", holdout=0.1, campaign_id="MAIL-1",
        )  # fmt: skip
        result = send(store, clear, c2.campaign_id, now=NOW, members=ids)
    finally:
        server.stop()
    assert result.sent == len(inbox.mails) > 0
    mail = email.message_from_bytes(inbox.mails[0].as_bytes(), policy=policy.default)
    member = mail["To"].split("@")[0].upper()
    assert member in ids and mail["From"] == "crm@shop.example"
    link = mail["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://crm.shop.example/unsubscribe/")
    assert link in mail.get_content() and "20% off" in mail.get_content()


def test_opt_outs_and_suppressions_recorded_after_the_plan_are_honoured_at_send(
    make_project, store, receiver, sim_shop
):
    """The plan (like a frozen audience) is fixed at the first send; a member who opts out or is
    suppressed (an open complaint) afterwards is still not sent to by a later run, in either
    group, and the run counts them."""
    from memberlens.activation.audiences import add_opt_outs

    ids = _members(sim_shop)[:300]
    project = make_project(_hook(receiver.url))
    c = _campaign(store, project, holdout=0.2, campaign_id="T-7")
    night = dt.datetime(2026, 1, 5, 15, 0)  # quiet hours: planned, nothing delivered
    planned = send(store, project, c.campaign_id, now=night, members=ids)
    assert planned.sent == 0 and planned.pending > 0 and planned.withheld == {}
    with store.engine.connect() as conn:
        arm = dict(
            conn.execute(
                sa.select(ledger.SENDS.c.member_id, ledger.SENDS.c.status).where(
                    ledger.SENDS.c.campaign_id == c.campaign_id
                )
            ).all()
        )
    pending = [m for m in ids if arm[m] == "pending"]
    control = [m for m in ids if arm[m] == "control"]
    opted = pending[:7] + control[:3]
    add_opt_outs(project, opted, "sms", store=store)
    add_opt_outs(project, pending[7:9], "email", store=store)  # another channel: still sent
    with store.engine.begin() as conn:
        conn.execute(
            ledger.SUPPRESSIONS.insert(),
            [
                {"member_id": m, "reason": "open complaint", "created_at": NOW}
                for m in pending[10:14]
            ],
        )
    morning = NOW + dt.timedelta(days=1)
    report = dry_run(store, project, c.campaign_id, now=morning)
    assert report.planned and report.excluded["opted_out"] == 10
    assert report.excluded["suppressed"] == 4
    assert report.would_send == len(pending) - 11 and report.control == len(control) - 3
    result = send(store, project, c.campaign_id, now=morning)
    assert result.withheld == {"opted_out": 10, "suppressed": 4}
    assert result.sent == len(pending) - 11 and result.pending == 0
    assert result.excluded == 14 and result.control == len(control) - 3
    delivered = set(receiver.delivered())
    assert not delivered & (set(opted) | set(pending[10:14]))
    assert set(pending[7:9]) <= delivered
    # the withheld members are not in campaign_members (either group), as a plan exclusion
    from memberlens.engine.warehouse import open_warehouse

    with open_warehouse(project, read_only=True) as wh:
        cm = wh.table("campaign_members").to_pandas()
    mine = set(cm[cm.campaign_id == c.campaign_id].member_id)
    assert not mine & (set(opted) | set(pending[10:14]))
    assert len(mine) == len(ids) - 14
