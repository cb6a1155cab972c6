"""Sending campaigns: ``memberlens campaign create|dry-run|send|status|preview`` (on the
``campaign`` group of :mod:`memberlens.cli.campaign`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from memberlens.cli._output import emit_json
from memberlens.cli.campaign import campaign_app

_PROJECT = typer.Option(
    None,
    "--project",
    "-p",
    help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
)
_DATABASE = typer.Option(
    None,
    "--database",
    help="SQLAlchemy URL of the application state "
    "(default: [web] database_url, else DIR/.memberlens/web.sqlite).",
)
_JSON = typer.Option(False, "--json", help="Print the result as JSON.")
_NOW = typer.Option(
    None,
    "--now",
    help="Act as if it were this time (ISO, UTC unless it has an offset): back-dated sends "
    "in a simulated shop.",
)


def _open(project: Path | None, database: str | None) -> tuple[Any, Any]:
    from memberlens.appstate import database_url, open_store
    from memberlens.project import Project

    proj = Project.load(project)
    return proj, open_store(database or database_url(proj))


def _now(text: str | None) -> dt.datetime | None:
    from memberlens.exceptions import ConfigError

    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--now {text!r} is not a time; write e.g. 2025-12-01T10:00") from None
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _shop_time(text: str | None, option: str, timezone: str) -> dt.datetime | None:
    """``--start``/``--end``: a day or a time in the shop's time zone (or with an offset), as
    naive UTC; a day alone is its midnight."""
    from zoneinfo import ZoneInfo

    from memberlens.exceptions import ConfigError

    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{option} {text!r} is not a time; write e.g. 2026-12-10 or '2026-12-10 09:00' "
            f"(shop time, {timezone})"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _audit(store: Any, action: str, target: str, detail: dict) -> None:
    import getpass

    from memberlens.web.store import audit

    with store() as db:
        audit(db, action, username=f"cli:{getpass.getuser()}", target=target, detail=detail)


def _arms(text: str | None) -> list[tuple[str, float]]:
    from memberlens.exceptions import ConfigError

    if not text:
        return [("treatment", 1.0)]
    out = []
    for part in text.split(","):
        name, _, weight = part.strip().partition(":")
        try:
            out.append((name.strip(), float(weight or 1)))
        except ValueError:
            raise ConfigError(f"--arms {text!r}: write NAME[:WEIGHT],... e.g. a:1,b:1") from None
    return out


@campaign_app.command("create")
def create(
    name: str = typer.Argument(..., help="The campaign's name."),
    audience: str = typer.Option(..., "--audience", help="A saved audience (or an expression)."),
    channel: str = typer.Option(..., "--channel", help="A [channels.NAME] of memberlens.toml."),
    holdout: float | None = typer.Option(
        None, "--holdout", help="Share kept as control (default: [campaigns] holdout, 0.1)."
    ),
    template: Path | None = typer.Option(
        None, "--template", help="A TOML template file ([zh-CN]/[en] subject and body)."
    ),
    offer: str | None = typer.Option(None, "--offer", help="The offer, e.g. 满199减30."),
    arms: str | None = typer.Option(
        None, "--arms", help="Treatment arms NAME[:WEIGHT],... (default: one, 'treatment')."
    ),
    days: int | None = typer.Option(
        None, "--days", help="Response window the report measures (default 14)."
    ),
    start: str | None = typer.Option(
        None,
        "--start",
        help="Schedule: send from this day or time (shop time, e.g. '2026-12-10 09:00'); a send "
        "before it sends nothing, `serve`'s scheduler or `campaign send-due` sends it then.",
    ),
    end: str | None = typer.Option(
        None,
        "--end",
        help="Schedule: no send from this time on; the report's window ends here (default: "
        "--days after --start).",
    ),
    campaign_id: str | None = typer.Option(
        None, "--id", help="The campaign id (default: ML<date>-<random>); it seeds the split."
    ),
    project: Path | None = _PROJECT,
    database: str | None = _DATABASE,
    as_json: bool = _JSON,
) -> None:
    """Create a campaign (checked now: channel, template fields, arms, schedule); `send`
    delivers it."""
    from memberlens.activation.campaigns import create_campaign
    from memberlens.activation.templates import load_template
    from memberlens.exceptions import ConfigError

    proj, store = _open(project, database)
    if end is not None and days is not None:
        raise ConfigError("give --end or --days, not both (--days N ends N days after --start)")
    campaign = create_campaign(
        store.engine,
        proj,
        name=name,
        audience=audience,
        channel=channel,
        template=load_template(template),
        offer=offer,
        holdout=holdout,
        arms=_arms(arms),
        days=14 if days is None else days,
        campaign_id=campaign_id,
        starts_at=_shop_time(start, "--start", proj.timezone),
        ends_at=_shop_time(end, "--end", proj.timezone),
    )
    _audit(store, "campaign.create", campaign.campaign_id, {"name": name, "channel": channel})
    out = campaign.to_dict()
    if as_json:
        emit_json(out)
        return
    typer.echo(
        f"{campaign.campaign_id}  {name}: {audience} via {channel}, holdout {campaign.holdout:.0%}"
    )
    if campaign.starts_at is not None or campaign.ends_at is not None:
        from memberlens.activation.sends import shop_time

        typer.echo(
            f"  scheduled {shop_time(campaign.starts_at, proj.timezone) or 'first send'} -> "
            f"{shop_time(campaign.ends_at, proj.timezone)} ({proj.timezone})"
        )


def _print_counts(title: str, counts: dict[str, Any]) -> None:
    typer.echo(title)
    for key, value in counts.items():
        if isinstance(value, dict):
            for k, v in value.items():
                typer.echo(f"  {key} {k}: {v:,}")
        elif isinstance(value, int) and not isinstance(value, bool):
            typer.echo(f"  {key}: {value:,}")


@campaign_app.command("dry-run")
def dry_run_cmd(
    campaign_id: str = typer.Argument(..., help="The campaign id `create` printed."),
    project: Path | None = _PROJECT,
    database: str | None = _DATABASE,
    now: str | None = _NOW,
    as_json: bool = _JSON,
) -> None:
    """Who a send would reach: per arm, control, and the excluded per guard rail."""
    from memberlens.activation.sends import dry_run

    proj, store = _open(project, database)
    result = dry_run(store, proj, campaign_id, now=_now(now))
    if as_json:
        emit_json(result.to_dict())
        return
    _print_counts(f"{campaign_id}: {result.audience:,} members in the audience", result.to_dict())
    for message in result.messages:
        typer.secho(f"  {message}", fg="yellow")


@campaign_app.command("send")
def send_cmd(
    campaign_id: str = typer.Argument(..., help="The campaign id `create` printed."),
    retry_unknown: bool = typer.Option(
        False, "--retry-unknown", help="Resend messages in doubt (a sender died delivering them)."
    ),
    project: Path | None = _PROJECT,
    database: str | None = _DATABASE,
    now: str | None = _NOW,
    as_json: bool = _JSON,
) -> None:
    """Send what is pending (idempotent: a re-run never sends a message twice)."""
    from memberlens.activation.sends import send

    proj, store = _open(project, database)
    result = send(store, proj, campaign_id, now=_now(now), retry_unknown=retry_unknown)
    _audit(store, "campaign.send", campaign_id, result.to_dict())
    if as_json:
        emit_json(result.to_dict())
    elif not result.scheduled:  # before the start there is nothing to count
        _print_counts(f"{campaign_id}: sent {result.sent:,} now", result.to_dict())
    if result.scheduled:
        typer.secho(
            f"scheduled: starts {result.scheduled} ({proj.timezone}); nothing sent. "
            "`memberlens serve` with [campaigns] scheduler = true, or `memberlens campaign "
            "send-due` from cron, sends it then",
            fg="yellow",
            err=True,
        )
    if result.down:
        typer.secho(
            f"channel down: {result.down}; {result.pending:,} stay pending, run "
            "`memberlens campaign send` again later",
            fg="yellow",
            err=True,
        )


@campaign_app.command("status")
def status_cmd(
    campaign_id: str = typer.Argument(..., help="The campaign id `create` printed."),
    project: Path | None = _PROJECT,
    database: str | None = _DATABASE,
    as_json: bool = _JSON,
) -> None:
    """Sent, failed, pending, retried, in doubt, control and excluded of a campaign."""
    from memberlens.activation.sends import status

    proj, store = _open(project, database)
    result = status(store, campaign_id, proj)
    if as_json:
        emit_json(result)
        return
    _print_counts(f"{campaign_id} {result['name']} ({result['channel']})", result)
    if result["starts_at"] or result["ends_at"]:
        typer.echo(
            f"  scheduled {result['starts_at'] or 'first send'} -> {result['ends_at']} "
            f"({result['timezone']})"
        )


@campaign_app.command("send-due")
def send_due_cmd(
    project: Path | None = _PROJECT,
    database: str | None = _DATABASE,
    now: str | None = _NOW,
    as_json: bool = _JSON,
) -> None:
    """Send every scheduled campaign that is due (started, not ended, something pending): what
    `memberlens serve`'s scheduler does; safe to run from cron as often as you like."""
    from memberlens.activation.campaign_scheduler import send_due

    proj, store = _open(project, database)
    results = send_due(store, proj, _now(now))
    for result in results:
        _audit(store, "campaign.send", result.campaign_id, result.to_dict())
    if as_json:
        emit_json([r.to_dict() for r in results])
        return
    if not results:
        typer.echo("no scheduled campaign is due")
    for r in results:
        typer.echo(
            f"{r.campaign_id}: sent {r.sent:,} now, {r.sent_total:,} in all, {r.pending:,} pending"
            + (f" (channel down: {r.down})" if r.down else "")
        )


@campaign_app.command("preview")
def preview_cmd(
    campaign_id: str = typer.Argument(..., help="The campaign id `create` printed."),
    member: str = typer.Option(..., "--member", help="A member id."),
    project: Path | None = _PROJECT,
    database: str | None = _DATABASE,
    as_json: bool = _JSON,
) -> None:
    """The message a member would get (subject and body in the member's language)."""
    from memberlens.activation.sends import preview

    proj, store = _open(project, database)
    rendered, fields = preview(store, proj, campaign_id, member)
    if as_json:
        emit_json({"member_id": member, **rendered.__dict__, "fields": fields})
        return
    if rendered.subject:
        typer.echo(rendered.subject)
        typer.echo("")
    typer.echo(rendered.body)
