"""The scheduler inside ``memberlens serve``: when it runs next, that it starts with the app and
stops cleanly with it (the session's conftest fails on leaked threads), and a run."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from memberlens.activation.trigger_scheduler import next_run
from memberlens.exceptions import ConfigError


def test_next_run_in_the_shop_time_zone():
    # 00:30 UTC is 08:30 in Shanghai: 09:00 local today is 01:00 UTC
    assert next_run(dt.datetime(2026, 1, 5, 0, 30), "09:00", "Asia/Shanghai") == dt.datetime(
        2026, 1, 5, 1, 0
    )
    # 02:00 UTC is 10:00 local: tomorrow
    assert next_run(dt.datetime(2026, 1, 5, 2, 0), "09:00", "Asia/Shanghai") == dt.datetime(
        2026, 1, 6, 1, 0
    )
    # London moves to summer time on 2026-03-29: 09:00 local is 08:00 UTC after it
    assert next_run(dt.datetime(2026, 3, 29, 12, 0), "09:00", "Europe/London") == dt.datetime(
        2026, 3, 30, 8, 0
    )
    with pytest.raises(ConfigError, match="schedule_time"):
        next_run(dt.datetime(2026, 1, 5), "9 am", "UTC")


def test_the_server_starts_and_stops_the_scheduler(make_project, receiver, tmp_path):
    from fastapi.testclient import TestClient

    from memberlens.activation.templates import load_template
    from memberlens.activation.triggers import save_rule
    from memberlens.web import create_app

    project = make_project(
        f'[channels.sms]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "k"\n'
        '\n[triggers]\nscheduler = true\nschedule_time = "09:00"\n'
    )
    app = create_app(project, database=f"sqlite:///{tmp_path / 'web.sqlite'}")
    save_rule(
        app.state.ctx.store.engine, project, name="bday", kind="birthday", channel="sms",
        template=load_template(None),
    )  # fmt: skip
    with TestClient(app):
        (thread,) = [t for t in threading.enumerate() if t.name == "memberlens-triggers"]
        assert thread.is_alive()
    assert not thread.is_alive()  # stopped with the app, at once (it sleeps on an event)


def test_a_scheduled_run_sends_the_day(make_project, receiver, store):
    from memberlens.activation.templates import load_template
    from memberlens.activation.trigger_scheduler import TriggerScheduler
    from memberlens.activation.triggers import save_rule

    project = make_project(
        f'[channels.sms]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "k"\n'
        '\n[campaigns]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
    )
    save_rule(
        store.engine, project, name="bday", kind="birthday", channel="sms",
        template=load_template(None), params={"days_before": 7},
    )  # fmt: skip
    scheduler = TriggerScheduler(store, project)
    scheduler.run_once(dt.date(2026, 1, 5))
    scheduler.run_once(dt.date(2026, 1, 5))  # a second run of the day sends nothing twice
    delivered = receiver.delivered()
    assert delivered and len(delivered) == len(set(delivered))
    assert scheduler.runs == [dt.date(2026, 1, 5)] * 2
