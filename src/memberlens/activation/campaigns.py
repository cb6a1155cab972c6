"""Campaigns: an audience, a channel, a template, an offer, arms and a holdout control group.

Assignment is a pure function of (campaign id, member id): the first 8 bytes of
``SHA-256(campaign_id + "\\x1f" + member_id)`` read as a number ``u`` in [0, 1); ``u < holdout``
is control, the rest is split over the arms by their weights. The same member always lands in the
same arm and nothing random is stored.

Guard rails apply to both arms alike (so they do not bias the comparison) and each is counted:
suppressed (the suppression list: ``[campaigns] suppression_file`` and the ``suppressions``
table; the data contract has no complaint status), opted out of the channel, no e-mail address
(e-mail channels), frequency cap (``max_messages`` sent in the last ``window_days`` across
campaigns). Quiet hours (``quiet_start``-``quiet_end`` in the shop's time zone) defer delivery:
the members stay pending and the next ``campaign send`` after the quiet hours delivers them.

Every targeted member (treatment and control, not the excluded) is written to the warehouse's
``campaign_members`` with its group, and the campaign to ``campaigns``, so ``memberlens campaign
report`` evaluates a campaign memberlens sent exactly as an imported one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from memberlens.activation import ledger
from memberlens.activation.templates import MessageTemplate
from memberlens.exceptions import ConfigError

__all__ = [
    "CONTROL",
    "Campaign",
    "CampaignSettings",
    "DryRun",
    "assign_arms",
    "campaign_settings",
    "check_schedule",
    "create_campaign",
    "find_campaign",
    "in_quiet_hours",
    "plan_rows",
]

CONTROL = "control"
DEFAULT_ARMS: tuple[tuple[str, float], ...] = (("treatment", 1.0),)
EXCLUSION_REASONS = ("suppressed", "opted_out", "no_address", "frequency_cap")


@dataclass(frozen=True)
class CampaignSettings:
    """``[campaigns]`` of memberlens.toml, with defaults."""

    holdout: float = 0.1
    max_messages: int = 3
    window_days: int = 7
    quiet_start: str = "22:00"
    quiet_end: str = "08:00"
    suppression_file: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    batch_size: int = 500


def campaign_settings(project: Any) -> CampaignSettings:
    known = set(CampaignSettings.__dataclass_fields__)  # the section also holds the report's keys
    raw = {k: v for k, v in dict(project.settings.get("campaigns", {})).items() if k in known}
    out = CampaignSettings(**raw)
    for key in ("quiet_start", "quiet_end"):
        _clock(getattr(out, key), f"{project.file}: [campaigns] {key}")
    return out


def _clock(text: str, where: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise ConfigError(f'{where} = "{text}" is not a time of day; write "HH:MM"') from None


def in_quiet_hours(now: dt.datetime, timezone: str, start: str, end: str) -> bool:
    """Whether UTC ``now`` falls in the quiet hours [start, end) of the shop's time zone (a
    window may wrap midnight: 22:00-08:00)."""
    local = now.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).time()
    lo, hi = _clock(start, "quiet_start"), _clock(end, "quiet_end")
    if lo == hi:
        return False
    return lo <= local < hi if lo < hi else (local >= lo or local < hi)


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str
    audience: str
    channel: str
    template: MessageTemplate
    offer: str | None
    holdout: float
    arms: tuple[tuple[str, float], ...]
    days: int
    created_at: dt.datetime
    created_by: str | None
    planned_at: dt.datetime | None
    trigger: str | None = None
    #: the schedule (naive UTC): no send before ``starts_at``, none at or after ``ends_at``
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["template"] = dict(self.template.sources)
        out["arms"] = [list(a) for a in self.arms]
        for key in ("created_at", "planned_at", "starts_at", "ends_at"):
            out[key] = None if out[key] is None else out[key].isoformat()
        return out


def assign_arms(
    member_ids: Sequence[str],
    campaign_id: str,
    *,
    holdout: float,
    arms: Sequence[tuple[str, float]] = DEFAULT_ARMS,
) -> np.ndarray:
    """Each member's arm (``control`` or an arm name), a pure function of the two ids (see the
    module docstring)."""
    prefix = campaign_id.encode("utf-8") + b"\x1f"
    u = np.fromiter(
        (
            int.from_bytes(hashlib.sha256(prefix + m.encode("utf-8")).digest()[:8], "big")
            for m in member_ids
        ),
        dtype=np.uint64,
        count=len(member_ids),
    ).astype(np.float64) / float(2**64)
    weights = np.array([w for _a, w in arms], dtype=float)
    edges = holdout + (1.0 - holdout) * np.cumsum(weights) / weights.sum()
    names = np.array([CONTROL, *(a for a, _w in arms)], dtype=object)
    index = np.where(u < holdout, 0, 1 + np.searchsorted(edges, u, side="right"))
    return names[np.minimum(index, len(arms))]


def _check_arms(arms: Sequence[tuple[str, float]], holdout: float) -> None:
    if not 0.0 <= holdout < 1.0:
        raise ConfigError(f"--holdout {holdout}: must be at least 0 and below 1 (e.g. 0.1)")
    names = [a for a, _w in arms]
    if not arms or any(w <= 0 for _a, w in arms) or len(set(names)) != len(names):
        raise ConfigError(f"--arms {arms}: give distinct arm names with positive weights")
    if CONTROL in names:
        raise ConfigError("--arms: 'control' is the holdout group's name; name arms otherwise")


def create_campaign(
    engine: Engine,
    project: Any,
    *,
    name: str,
    audience: str,
    channel: str,
    template: MessageTemplate,
    offer: str | None = None,
    holdout: float | None = None,
    arms: Sequence[tuple[str, float]] = DEFAULT_ARMS,
    days: int = 14,
    created_by: str | None = None,
    trigger: str | None = None,
    now: dt.datetime | None = None,
    campaign_id: str | None = None,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
) -> Campaign:
    """Check and store a campaign (it is planned, i.e. its members frozen, when first sent).
    ``campaign_id``: the id to use (default: ``ML<date>-<6 random hex>``); it seeds the
    assignment, so a fixed id gives a reproducible split. ``starts_at``/``ends_at`` (naive
    UTC): the schedule; a send before the start sends nothing (the scheduler of ``memberlens
    serve`` or ``campaign send-due`` sends it when due), none is made at or after the end.
    Without ``ends_at`` a scheduled campaign ends ``days`` after its start."""
    from memberlens.activation.channels import channel_settings

    channel_settings(project, channel)  # a clear error for an undeclared channel
    share = campaign_settings(project).holdout if holdout is None else holdout
    _check_arms(arms, share)
    if not name.strip():
        raise ConfigError("NAME: a campaign needs a name")
    if days < 1:
        raise ConfigError(f"--days {days}: the response window needs at least one day")
    created = now or ledger.utcnow()
    starts_at, ends_at = check_schedule(starts_at, ends_at, days=days, now=created)
    campaign_id = campaign_id or f"ML{created:%Y%m%d}-{secrets.token_hex(3)}"
    if not 1 <= len(campaign_id) <= 64:
        raise ConfigError(f"--id {campaign_id!r}: use 1-64 characters")
    with engine.begin() as conn:
        conn.execute(
            ledger.CAMPAIGNS.insert().values(
                campaign_id=campaign_id,
                name=name,
                audience=audience,
                channel=channel,
                template=template.to_json(),
                offer=offer,
                holdout=share,
                arms=json.dumps([[a, float(w)] for a, w in arms] + [["days", days]]),
                trigger=trigger,
                created_at=created,
                created_by=created_by,
                starts_at=starts_at,
                ends_at=ends_at,
            )
        )
    return find_campaign(engine, campaign_id)


def check_schedule(
    starts_at: dt.datetime | None,
    ends_at: dt.datetime | None,
    *,
    days: int,
    now: dt.datetime,
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A campaign's schedule, checked: the end follows the start and is in the future; without
    an end, a start gives ``start + days``; an end without a start starts when first sent."""
    if starts_at is not None and ends_at is None:
        ends_at = starts_at + dt.timedelta(days=days)
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ConfigError(
            f"--end {ends_at:%Y-%m-%d %H:%M} is not after --start {starts_at:%Y-%m-%d %H:%M} "
            "(UTC); give an end after the start, or --days N"
        )
    if ends_at is not None and ends_at <= now:
        raise ConfigError(
            f"--end {ends_at:%Y-%m-%d %H:%M} (UTC) has passed; a campaign must end in the "
            "future (a campaign that already ran is ingested as campaigns and campaign_members: "
            "docs/experiments.md)"
        )
    return starts_at, ends_at


def find_campaign(engine: Engine, campaign_id: str) -> Campaign:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(ledger.CAMPAIGNS).where(ledger.CAMPAIGNS.c.campaign_id == campaign_id)
        ).first()
    if row is None:
        from memberlens.exceptions import NotFoundError

        raise NotFoundError(
            f"campaign {campaign_id!r} does not exist; create it with `memberlens campaign "
            "create` (the id it prints)"
        )
    arms_days = json.loads(row.arms)
    days = next((int(w) for a, w in arms_days if a == "days"), 14)
    return Campaign(
        campaign_id=row.campaign_id,
        name=row.name,
        audience=row.audience,
        channel=row.channel,
        template=MessageTemplate.from_json(row.template),
        offer=row.offer,
        holdout=float(row.holdout),
        arms=tuple((str(a), float(w)) for a, w in arms_days if a != "days"),
        days=days,
        created_at=row.created_at,
        created_by=row.created_by,
        planned_at=row.planned_at,
        trigger=row.trigger,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
    )


@dataclass(frozen=True)
class DryRun:
    """Who a send would reach: per arm, and the excluded per guard rail."""

    campaign_id: str
    audience: int
    arms: Mapping[str, int]
    control: int
    excluded: Mapping[str, int]
    deferred: int
    would_send: int
    planned: bool
    messages: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["excluded_total"] = sum(self.excluded.values())
        out["messages"] = list(self.messages)
        return out


def plan_rows(
    campaign: Campaign,
    member_ids: Sequence[str],
    *,
    suppressed: set[str],
    opted_out: set[str],
    addressable: set[str] | None,
    capped: set[str],
) -> list[dict[str, Any]]:
    """The planned ledger rows: each member's arm, then ``excluded`` with the first guard rail
    that applies (to either arm alike), else ``control`` or ``pending``."""
    ids = sorted(set(member_ids))
    groups = assign_arms(ids, campaign.campaign_id, holdout=campaign.holdout, arms=campaign.arms)
    rows = []
    for member, arm in zip(ids, groups, strict=True):
        reason = (
            "suppressed"
            if member in suppressed
            else "opted_out"
            if member in opted_out
            else "no_address"
            if addressable is not None and member not in addressable
            else "frequency_cap"
            if member in capped
            else None
        )
        status = "excluded" if reason else CONTROL if arm == CONTROL else "pending"
        rows.append({"member_id": member, "arm": str(arm), "status": status, "reason": reason})
    return rows


def summarise_plan(
    campaign: Campaign, rows: Sequence[Mapping[str, Any]], *, deferred: bool, planned: bool
) -> DryRun:
    arms = {a: 0 for a, _w in campaign.arms}
    excluded = dict.fromkeys(EXCLUSION_REASONS, 0)
    control = pending = 0
    for r in rows:
        if r["status"] == "excluded":
            excluded[r["reason"]] = excluded.get(r["reason"], 0) + 1
        elif r["status"] == CONTROL:
            control += 1
        else:
            arms[r["arm"]] = arms.get(r["arm"], 0) + 1
            pending += r["status"] == "pending"
    messages = []
    if deferred and pending:
        messages.append(f"{pending:,}: quiet hours, deferred until they end")
    return DryRun(
        campaign_id=campaign.campaign_id,
        audience=len(rows),
        arms=arms,
        control=control,
        excluded=excluded,
        deferred=pending if deferred else 0,
        would_send=0 if deferred else pending,
        planned=planned,
        messages=tuple(messages),
    )


def suppressed_members(engine: Engine, project: Any, now: dt.datetime) -> set[str]:
    """The suppression list: the ``suppressions`` table (rows still in force) and the CSV file
    ``[campaigns] suppression_file`` (a ``member_id`` column)."""
    import csv
    from pathlib import Path

    with engine.connect() as conn:
        table = ledger.SUPPRESSIONS
        out = {
            str(m)
            for (m,) in conn.execute(
                sa.select(table.c.member_id).where(
                    sa.or_(table.c.until.is_(None), table.c.until > now)
                )
            )
        }
    name = campaign_settings(project).suppression_file
    if name:
        path = Path(name) if Path(name).is_absolute() else project.root / name
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                reader = csv.DictReader(fh)
                if "member_id" not in (reader.fieldnames or []):
                    raise ConfigError(
                        f"{path}: the suppression list needs a member_id column (found "
                        f"{', '.join(reader.fieldnames or []) or 'none'}); add a header line"
                    )
                out.update(str(r["member_id"]).strip() for r in reader if r.get("member_id"))
        except FileNotFoundError:
            raise ConfigError(
                f"{project.file}: [campaigns] suppression_file = {name!r}: no such file; "
                "create it (a member_id column) or remove the setting"
            ) from None
    return out


def capped_members(engine: Engine, project: Any, now: dt.datetime) -> set[str]:
    conf = campaign_settings(project)
    recent = ledger.recently_sent(engine, now - dt.timedelta(days=conf.window_days))
    return {m for m, n in recent.items() if n >= conf.max_messages}


ProgressFn = Callable[[int, int], None]
