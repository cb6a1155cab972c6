"""Scheduled campaigns: ``campaign create --start/--end`` sends nothing before its start; this
sends it when it is due.

A campaign is *due* when it has a start, the start has come, its end has not, and it still has
something to deliver: it was never planned (the first send plans it, reading the audience as of
then), or rows are pending (quiet hours, a channel that was down, a member opted in again is not
one: the plan is frozen). Trigger campaigns have their own scheduler
(:mod:`memberlens.activation.trigger_scheduler`).

:func:`send_due` is ``memberlens campaign send-due`` (safe from cron: every send is idempotent
and takes the campaign's send lock); :class:`CampaignScheduler` runs it inside ``memberlens
serve`` every ``[campaigns] scheduler_minutes`` (default 5) when ``[campaigns] scheduler =
true``, in one thread (``memberlens-campaigns``) that sleeps on an event, so :meth:`stop` ends it
at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from memberlens.activation import ledger
from memberlens.activation.background import BackgroundLoop
from memberlens.exceptions import MemberlensError

__all__ = ["CampaignScheduler", "due_campaigns", "send_due"]

log = logging.getLogger(__name__)


def due_campaigns(engine: Engine, now: dt.datetime) -> list[str]:
    """The ids of the scheduled campaigns due at ``now`` (naive UTC), oldest start first."""
    c, s = ledger.CAMPAIGNS, ledger.SENDS
    pending = (
        sa.select(sa.literal(1))
        .where(s.c.campaign_id == c.c.campaign_id, s.c.status == "pending")
        .exists()
    )
    query = (
        sa.select(c.c.campaign_id)
        .where(
            c.c.trigger.is_(None),
            c.c.starts_at.is_not(None),
            c.c.starts_at <= now,
            sa.or_(c.c.ends_at.is_(None), c.c.ends_at > now),
            sa.or_(c.c.planned_at.is_(None), pending),
        )
        .order_by(c.c.starts_at, c.c.campaign_id)
    )
    with engine.connect() as conn:
        return [str(r) for (r,) in conn.execute(query)]


def send_due(store: Any, project: Any, now: dt.datetime | None = None) -> list[Any]:
    """Send every due campaign (see the module docstring); the :class:`SendResult` of each. A
    campaign that fails (a channel misconfigured, the warehouse busy) is logged and the others
    still go."""
    from memberlens.activation.sends import send

    at = now or ledger.utcnow()
    out = []
    for campaign_id in due_campaigns(store.engine, at):
        try:
            result = send(store, project, campaign_id, now=at)
        except MemberlensError as exc:
            log.error("scheduled campaign %s: %s", campaign_id, exc)
            continue
        log.info(
            "scheduled campaign %s: sent %d, pending %d", campaign_id, result.sent, result.pending
        )
        out.append(result)
    return out


class CampaignScheduler(BackgroundLoop):
    """Sends the due campaigns of ``project`` every few minutes (see the module docstring)."""

    thread_name = "memberlens-campaigns"

    def __init__(self, store: Any, project: Any) -> None:
        super().__init__()
        conf = dict(project.settings.get("campaigns", {}))
        self.store = store
        self.project = project
        self.every = dt.timedelta(minutes=float(conf.get("scheduler_minutes", 5)))
        self.ticks = 0

    def tick(self, now: dt.datetime | None = None) -> list[Any]:
        """One round: send what is due (unexpected errors are logged; the scheduler goes on)."""
        try:
            return send_due(self.store, self.project, now)
        except Exception:  # a scheduler thread must outlive a bad round
            log.exception("campaign scheduler")
            return []
        finally:
            self.ticks += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            if self._stop.wait(self.every.total_seconds()):
                return
