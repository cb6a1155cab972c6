"""The trigger scheduler inside ``memberlens serve``: once a day, at ``[triggers] schedule_time``
(shop time, default 09:00), it runs the enabled rules for that day
(:func:`memberlens.activation.triggers.run_triggers`; idempotent per date, so a restart or a
cron job doing the same never sends twice). On with ``[triggers] scheduler = true``.

It is one thread (``memberlens-triggers``) that sleeps on an event, so :meth:`stop` ends it at
once; the app stops it when it shuts down.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from memberlens.activation.background import BackgroundLoop
from memberlens.exceptions import ConfigError, MemberlensError

__all__ = ["TriggerScheduler", "next_run"]

log = logging.getLogger(__name__)


def next_run(now: dt.datetime, at: str, timezone: str) -> dt.datetime:
    """The next time (naive UTC, after ``now``, naive UTC) the clock of ``timezone`` shows
    ``at`` (HH:MM)."""
    try:
        clock = dt.time.fromisoformat(at)
    except ValueError:
        raise ConfigError(
            f'[triggers] schedule_time = "{at}" is not a time; write "HH:MM"'
        ) from None
    zone = ZoneInfo(timezone)
    local = now.replace(tzinfo=dt.UTC).astimezone(zone)
    candidate = dt.datetime.combine(local.date(), clock, tzinfo=zone)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), clock, tzinfo=zone)
    return candidate.astimezone(dt.UTC).replace(tzinfo=None)


class TriggerScheduler(BackgroundLoop):
    """Runs the trigger rules of ``project`` once a day (see the module docstring)."""

    thread_name = "memberlens-triggers"

    def __init__(self, store: Any, project: Any) -> None:
        super().__init__()
        conf = dict(project.settings.get("triggers", {}))
        self.store = store
        self.project = project
        self.at = str(conf.get("schedule_time", "09:00"))
        next_run(dt.datetime(2026, 1, 1), self.at, project.timezone)  # a bad time: fail now
        self.runs: list[dt.date] = []

    def run_once(self, day: dt.date) -> None:
        """Run the day's rules (errors are logged: the scheduler keeps going)."""
        from memberlens.activation.triggers import run_triggers

        try:
            for r in run_triggers(self.store, self.project, day):
                log.info("trigger %s on %s: fired %d, sent %d", r.rule, day, r.fired, r.sent)
        except MemberlensError as exc:
            log.error("triggers on %s: %s", day, exc)
        self.runs.append(day)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            due = next_run(now, self.at, self.project.timezone)
            if self._stop.wait((due - now).total_seconds()):
                return
            local = due.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(self.project.timezone))
            self.run_once(local.date())
