"""Dry-running and sending a campaign, its status and a member's preview.

``send`` (under the campaign's send lock, ``.memberlens/send-CAMPAIGN.lock``, so two senders of
one campaign take turns):

1. rows a dead sender left ``sending`` become ``unknown`` (in doubt: maybe delivered);
2. the first send plans the campaign: audience, arms, guard rails, frozen in the ledger;
3. outside the quiet hours, batches of ``pending`` rows are claimed (``sending``, committed),
   rendered, delivered and confirmed (``sent``, ``failed``, or back to ``pending`` when the
   channel is down, which ends this run: the next ``campaign send`` retries them);
4. the campaign and its targeted members (both groups) are written to the warehouse's
   ``campaigns``/``campaign_members`` under the writer lock.

A scheduled campaign (``campaign create --start``) sends nothing before its start (the audience
is read when it starts, not when it was created) and refuses to send at or after its end, so
the response window the report measures is the one declared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from memberlens.activation import ledger
from memberlens.activation.campaigns import (
    CONTROL,
    Campaign,
    DryRun,
    campaign_settings,
    capped_members,
    find_campaign,
    in_quiet_hours,
    plan_rows,
    summarise_plan,
    suppressed_members,
)
from memberlens.activation.channels import (
    Channel,
    Message,
    channel_settings,
    message_id,
    open_channel,
    unsubscribe_token,
)
from memberlens.activation.recipients import (
    MemberFacts,
    campaign_member_ids,
    opted_out_members,
)
from memberlens.activation.templates import Rendered

__all__ = ["SendResult", "dry_run", "preview", "send", "status"]


@dataclass(frozen=True)
class SendResult:
    """One ``campaign send``: what this run delivered and where the whole campaign stands."""

    campaign_id: str
    sent: int  # delivered by this run
    failed: int  # failed for good by this run (dead-letter)
    excluded: int  # the campaign's excluded members (all guard rails)
    control: int
    pending: int  # still to deliver (channel down, quiet hours, or limited run)
    deferred: int  # pending because of the quiet hours
    unknown: int  # in doubt: a sender died while delivering them
    sent_total: int
    retried: int
    down: str | None = None
    #: members this run withheld because a guard rail applied after the campaign was planned
    #: (an opt-out or a suppression recorded since), per reason; both groups alike
    withheld: Mapping[str, int] = field(default_factory=dict)
    #: the scheduled start (shop time, ISO) this run waited for: nothing was sent
    scheduled: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["withheld"] = dict(self.withheld)
        return out


def shop_time(value: dt.datetime | None, timezone: str) -> str | None:
    """Naive UTC as the shop's local time, ``YYYY-MM-DD HH:MM``."""
    local = _local(value, timezone)
    return None if local is None else f"{local:%Y-%m-%d %H:%M}"


def _check_not_over(project: Any, campaign: Campaign, at: dt.datetime) -> None:
    if campaign.ends_at is not None and at >= campaign.ends_at:
        from memberlens.exceptions import ConfigError

        raise ConfigError(
            f"campaign {campaign.campaign_id} ended at {shop_time(campaign.ends_at, project.timezone)} "
            f"({project.timezone}): nothing more is sent, so the report measures the window it "
            "declared; create a new campaign to reach these members again"
        )


def _waiting(project: Any, campaign: Campaign, at: dt.datetime) -> str | None:
    """The campaign's start (shop time) when it has not started at ``at``, else None."""
    if campaign.starts_at is not None and at < campaign.starts_at:
        return shop_time(campaign.starts_at, project.timezone)
    return None


def _utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return ledger.utcnow()
    return now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now


def _plan(
    store: Any,
    project: Any,
    campaign: Campaign,
    now: dt.datetime,
    members: Sequence[str] | None = None,
) -> list[dict]:
    engine = store.engine
    if members is None:
        ids = campaign_member_ids(project, campaign.audience, store)
    else:
        ids = list(members)
    kind = channel_settings(project, campaign.channel)["kind"]
    addressable = None
    if kind == "smtp":
        with MemberFacts(project) as facts:
            addressable = facts.addressable(ids)
    return plan_rows(
        campaign,
        ids,
        suppressed=suppressed_members(engine, project, now),
        opted_out=set(opted_out_members(project, campaign.channel, store)),
        addressable=addressable,
        capped=capped_members(engine, project, now),
    )


def _blocked(store: Any, project: Any, campaign: Campaign, now: dt.datetime) -> dict[str, str]:
    """Members a guard rail stops now, whatever the plan said: suppressed (the suppression
    list, where open complaints go) or opted out of the campaign's channel; member -> reason."""
    out = dict.fromkeys(opted_out_members(project, campaign.channel, store), "opted_out")
    out.update(dict.fromkeys(suppressed_members(store.engine, project, now), "suppressed"))
    return out


#: planned rows a send-time guard rail still applies to (not yet delivered, or control)
_OPEN = ("pending", CONTROL)


def _withhold(
    engine: Engine, campaign_id: str, blocked: Mapping[str, str], statuses: Sequence[str]
) -> dict[str, int]:
    """Mark the campaign's rows in ``statuses`` of ``blocked`` members ``excluded`` with their
    reason (treatment and control alike, so the comparison stays fair); how many per reason."""
    if not blocked:
        return {}
    s = ledger.SENDS
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(s.c.id, s.c.member_id).where(
                s.c.campaign_id == campaign_id, s.c.status.in_(list(statuses))
            )
        ).all()
    by_reason: dict[str, list[int]] = {}
    for row_id, member in rows:
        reason = blocked.get(member)
        if reason is not None:
            by_reason.setdefault(reason, []).append(row_id)
    for reason, ids in by_reason.items():
        ledger.exclude(engine, ids, reason)
    return {reason: len(ids) for reason, ids in sorted(by_reason.items())}


def _ledger_rows(engine: Engine, campaign_id: str) -> list[dict]:
    s = ledger.SENDS
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(s.c.member_id, s.c.arm, s.c.status, s.c.reason, s.c.sent_at).where(
                s.c.campaign_id == campaign_id
            )
        ).all()
    return [dict(r._mapping) for r in rows]


def dry_run(
    store: Any,
    project: Any,
    campaign_id: str,
    *,
    now: dt.datetime | None = None,
    members: Sequence[str] | None = None,
) -> DryRun:
    """Who a send would reach now (from the frozen plan once the campaign was sent);
    ``members``: the audience's member ids when the campaign's audience is not a saved one
    (a trigger's members of the day)."""
    engine = store.engine
    at = _utc(now)
    campaign = find_campaign(engine, campaign_id)
    out = _dry_run(store, project, campaign, at, members)
    start = _waiting(project, campaign, at)
    if start is not None:
        note = f"scheduled: starts {start} ({project.timezone}); a send before then sends nothing"
        return replace(out, would_send=0, deferred=0, messages=(note,))  # quiet hours: later
    if campaign.ends_at is not None and at >= campaign.ends_at:
        end = shop_time(campaign.ends_at, project.timezone)
        note = f"ended {end} ({project.timezone}): nothing more is sent"
        return replace(out, would_send=0, deferred=0, messages=(note,))
    return out


def _dry_run(
    store: Any,
    project: Any,
    campaign: Campaign,
    at: dt.datetime,
    members: Sequence[str] | None,
) -> DryRun:
    engine = store.engine
    campaign_id = campaign.campaign_id
    conf = campaign_settings(project)
    quiet = in_quiet_hours(at, project.timezone, conf.quiet_start, conf.quiet_end)
    if campaign.planned_at is not None:
        blocked = _blocked(store, project, campaign, at)
        rows = [
            {**r, "status": "excluded", "reason": blocked[r["member_id"]]}
            if r["status"] in _OPEN and r["member_id"] in blocked
            else r
            for r in _ledger_rows(engine, campaign_id)
        ]
        return summarise_plan(campaign, rows, deferred=quiet, planned=True)
    rows = _plan(store, project, campaign, at, members)
    return summarise_plan(campaign, rows, deferred=quiet, planned=False)


def _messages(
    project: Any, campaign: Campaign, claimed: list[dict], facts: MemberFacts, secret: bytes
) -> list[Message]:
    conf = campaign_settings(project)
    kind = channel_settings(project, campaign.channel)["kind"]
    language_default = channel_settings(project, campaign.channel).get("language", project.locale)
    ids = [r["member_id"] for r in claimed]
    contexts = facts.contexts(ids, masked=kind == "export")
    out = []
    for member in ids:
        ctx = contexts[member]
        token = unsubscribe_token(secret, campaign.campaign_id, member, campaign.channel)
        url = f"{conf.base_url.rstrip('/')}/unsubscribe/{token}"
        ctx.update(offer=campaign.offer or "", campaign=campaign.name, unsubscribe_url=url)
        text = campaign.template.render(ctx, str(ctx.get("language") or language_default))
        points = {k: ctx.get(k) for k in ("name", "segment", "value_tier", "recommendations")}
        out.append(
            Message(
                campaign_id=campaign.campaign_id,
                member_id=member,
                message_id=message_id(campaign.campaign_id, member, campaign.channel),
                language=text.language,
                subject=text.subject,
                body=text.body,
                unsubscribe_url=url,
                address=ctx.get("address"),
                talking_points={**points, "offer": campaign.offer or ""},
            )
        )
    return out


def send(
    store: Any,
    project: Any,
    campaign_id: str,
    *,
    now: dt.datetime | None = None,
    retry_unknown: bool = False,
    members: Sequence[str] | None = None,
    channel: Channel | None = None,
    max_batches: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SendResult:
    """Send what is still pending (see the module docstring); safe to run again at any time.

    ``retry_unknown``: resend the in-doubt rows too (their receiver may see them twice: the
    message ids are the same, so a receiver that de-duplicates by ``message_id`` will not);
    ``members``: as for :func:`dry_run` (used when the campaign is first planned);
    ``max_batches``: stop after that many batches (the rest stays pending)."""
    from memberlens.engine.locking import WriterLock

    engine = store.engine
    at = _utc(now)
    campaign = find_campaign(engine, campaign_id)
    _check_not_over(project, campaign, at)
    start = _waiting(project, campaign, at)
    if start is not None:
        totals = ledger.counts(engine, campaign_id)
        return SendResult(
            campaign_id=campaign_id,
            sent=0,
            failed=0,
            excluded=totals.excluded,
            control=totals.control,
            pending=totals.pending,
            deferred=0,
            unknown=totals.unknown,
            sent_total=totals.sent,
            retried=totals.retried,
            scheduled=start,
        )
    conf = campaign_settings(project)
    lock = WriterLock(
        project.state_dir / f"send-{campaign_id}.lock", what=f"campaign send {campaign_id}"
    )
    sent = failed = 0
    down = None
    withheld: dict[str, int] = {}
    with lock:
        ledger.release_in_flight(engine, campaign_id)
        if campaign.planned_at is None:
            ledger.insert_plan(
                engine,
                campaign_id,
                campaign.channel,
                _plan(store, project, campaign, at, members),
                at=at,
            )
            campaign = find_campaign(engine, campaign_id)
        else:
            # a resend of the in-doubt rows checks them too (an opted-out member is not sent
            # to again, and leaves campaign_members)
            open_rows = (*_OPEN, "unknown") if retry_unknown else _OPEN
            blocked = _blocked(store, project, campaign, at)
            withheld = _withhold(engine, campaign_id, blocked, open_rows)
        quiet = in_quiet_hours(at, project.timezone, conf.quiet_start, conf.quiet_end)
        if not quiet:
            statuses = ("pending", "unknown") if retry_unknown else ("pending",)
            size = int(
                channel_settings(project, campaign.channel).get("batch_size", conf.batch_size)
            )
            chan = channel or open_channel(project, campaign.channel)
            batches = 0
            try:
                with MemberFacts(project) as facts:
                    secret = project.secret()
                    while max_batches is None or batches < max_batches:
                        claimed = ledger.claim(engine, campaign_id, size, statuses=statuses)
                        if not claimed:
                            break
                        batches += 1
                        delivery = chan.deliver(
                            _messages(project, campaign, claimed, facts, secret)
                        )
                        by_member = {r["member_id"]: r["id"] for r in claimed}
                        done = [by_member[m] for m in delivery.delivered]
                        bad = [by_member[m] for m in delivery.failed]
                        if len(done) == len(claimed):
                            ledger.finish_claimed(engine, campaign_id, claimed, "sent", at=at)
                        else:
                            ledger.finish(engine, done, "sent", at=at)
                        for m, error in delivery.failed.items():
                            ledger.finish(engine, [by_member[m]], "failed", error=error, at=at)
                        rest = sorted(set(by_member.values()) - set(done) - set(bad))
                        ledger.finish(engine, rest, "pending", error=delivery.down, at=at)
                        sent += len(done)
                        failed += len(bad)
                        if progress is not None:
                            progress(sent + failed, 0)
                        if delivery.down:
                            down = delivery.down
                            break
            finally:
                if channel is None:
                    chan.close()
        record_in_warehouse(engine, project, campaign)
    totals = ledger.counts(engine, campaign_id)
    return SendResult(
        campaign_id=campaign_id,
        sent=sent,
        failed=failed,
        excluded=totals.excluded,
        control=totals.control,
        pending=totals.pending,
        deferred=totals.pending if quiet else 0,
        unknown=totals.unknown,
        sent_total=totals.sent,
        retried=totals.retried,
        down=down,
        withheld=withheld,
    )


def status(store: Any, campaign_id: str, project: Any = None) -> dict[str, Any]:
    """The campaign, its schedule (shop time of ``project``, else UTC) and its ledger rows per
    status (sent, failed, pending, retried, ...)."""
    engine = store.engine
    campaign = find_campaign(engine, campaign_id)
    zone = "UTC" if project is None else project.timezone
    return {
        "campaign_id": campaign_id,
        "name": campaign.name,
        "channel": campaign.channel,
        "planned": campaign.planned_at is not None,
        "starts_at": shop_time(campaign.starts_at, zone),
        "ends_at": shop_time(campaign.ends_at, zone),
        "timezone": zone,
        **ledger.counts(engine, campaign_id).to_dict(),
    }


def preview(
    store: Any, project: Any, campaign_id: str, member_id: str
) -> tuple[Rendered, dict[str, Any]]:
    """The message ``member_id`` would get from the campaign, and the fields it used."""
    from memberlens.activation.recipients import check_member

    campaign = find_campaign(store.engine, campaign_id)
    check_member(project, member_id)
    with MemberFacts(project) as facts:
        claimed = [{"member_id": member_id, "id": 0}]
        message = _messages(project, campaign, claimed, facts, project.secret())[0]
        context = facts.contexts([member_id])[member_id]
    context.pop("address", None)
    rendered = Rendered(language=message.language, subject=message.subject, body=message.body)  # type: ignore[arg-type]
    return rendered, context


def _local(value: dt.datetime | None, timezone: str) -> dt.datetime | None:
    """Naive UTC as the shop's naive local time (how the warehouse stores times)."""
    from zoneinfo import ZoneInfo

    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


def record_in_warehouse(engine: Engine, project: Any, campaign: Campaign) -> int:
    """Write the campaign and its targeted members (treatment and control) to the warehouse's
    ``campaigns`` and ``campaign_members``, replacing what an earlier send wrote. Rows written."""
    import ibis

    from memberlens.engine.layout import canonical_layout
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.schema import table_spec

    sends = ledger.SENDS
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(sends.c.member_id, sends.c.arm, sends.c.sent_at).where(
                sends.c.campaign_id == campaign.campaign_id, sends.c.status != "excluded"
            )
        ).all()
    local: dict[dt.datetime | None, dt.datetime | None] = {}  # a send stamps few distinct times
    starts = _local(campaign.starts_at or campaign.planned_at, project.timezone)
    ends = _local(campaign.ends_at, project.timezone)
    kind = channel_settings(project, campaign.channel)
    load_id = f"send-{campaign.campaign_id}"
    head: dict[str, list[Any]] = {
        "campaign_id": [campaign.campaign_id],
        "name": [campaign.name],
        "channel": [str(kind.get("medium") or campaign.channel)],
        "starts_at": [starts],
        "ends_at": [
            ends
            if ends is not None or starts is None
            else starts + dt.timedelta(days=campaign.days)
        ],
        "offer": [campaign.offer],
        "type": ["memberlens" if campaign.trigger is None else f"trigger:{campaign.trigger}"],
        "_load_id": [load_id],
    }
    members: dict[str, list[Any]] = {
        "campaign_id": [campaign.campaign_id] * len(rows),
        "member_id": [r[0] for r in rows],
        "group": [r[1] for r in rows],
        "sent_at": [
            local[r[2]] if r[2] in local else local.setdefault(r[2], _local(r[2], project.timezone))
            for r in rows
        ],
        "opened_at": [None] * len(rows),
        "clicked_at": [None] * len(rows),
        "_load_id": [load_id] * len(rows),
    }
    with open_warehouse(project, what=f"campaign send {campaign.campaign_id}") as wh:
        for name, data in (("campaigns", head), ("campaign_members", members)):
            spec = table_spec(name)
            wh.ensure(spec)
            schema = canonical_layout(spec).arrow_schema()
            new = pa.Table.from_pydict(
                {f.name: data.get(f.name, [None] * len(data["campaign_id"])) for f in schema},
                schema=schema,
            )
            old = wh.table(name)
            keep = old.filter(old.campaign_id != campaign.campaign_id)
            with wh.transaction():
                wh.replace(name, keep.union(ibis.memtable(new).cast(keep.schema())))
    return len(rows)
