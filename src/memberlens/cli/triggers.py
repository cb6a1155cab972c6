"""Marketing automation: ``memberlens triggers list|add|enable|disable|run``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from memberlens.cli._app import app
from memberlens.cli._output import emit_json
from memberlens.cli.campaign_send import _DATABASE, _JSON, _PROJECT, _audit, _now, _open

triggers_app = typer.Typer(
    help="Rules that send per member and day (birthday, festival, replenishment, win-back, "
    "churn risk) through the campaign machinery.",
    no_args_is_help=True,
)
app.add_typer(triggers_app, name="triggers")


@triggers_app.command("list")
def list_cmd(
    day: str | None = typer.Option(None, "--date", help="Count who would fire on this day."),
    project: Path | None = _PROJECT,
    database: str | None = _DATABASE,
    as_json: bool = _JSON,
) -> None:
    """The rules, on or off, and how many members each would fire for today (or --date)."""
    from memberlens.activation.triggers import firing_members, list_rules

    proj, store = _open(project, database)
    when = _day(day)
    rows = []
    for rule in list_rules(store.engine):
        row = rule.to_dict()
        row["would_fire"] = len(firing_members(store, proj, rule, when))
        rows.append(row)
    if as_json:
        emit_json({"date": when.isoformat(), "rules": rows})
        return
    for r in rows:
        state = "on " if r["enabled"] else "off"
        typer.echo(
            f"{state} {r['name']:<20} {r['kind']:<13} via {r['channel']:<10} "
            f"would fire {r['would_fire']:,} on {when}"
        )


def _day(text: str | None) -> dt.date:
    from memberlens.exceptions import ConfigError

    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--date {text!r} is not a date; write YYYY-MM-DD") from None


@triggers_app.command("add")
def add_cmd(
    name: str = typer.Argument(..., help="The rule's name."),
    kind: str = typer.Option(
        ..., "--kind", help="birthday, festival, replenishment, winback, churn_risk or near_tier."
    ),
    channel: str = typer.Option(..., "--channel", help="A [channels.NAME] of memberlens.toml."),
    params: str = typer.Option(
        "{}", "--params", help='The kind\'s parameters as JSON, e.g. {"days_before": 7}.'
    ),
    template: Path | None = typer.Option(None, "--template", help="A TOML template file."),
    offer: str | None = typer.Option(None, "--offer", help="The offer."),
    holdout: float | None = typer.Option(None, "--holdout", help="Control share."),
    disabled: bool = typer.Option(False, "--disabled", help="Add it switched off."),
    project: Path | None = _PROJECT,
    database: str | None = _DATABASE,
    as_json: bool = _JSON,
) -> None:
    """Add (or replace) a rule."""
    from memberlens.activation.templates import load_template
    from memberlens.activation.triggers import save_rule
    from memberlens.exceptions import ConfigError

    try:
        values = json.loads(params)
    except ValueError:
        raise ConfigError(
            f'--params {params!r} is not JSON; write e.g. {{"days_before": 7}}'
        ) from None
    if not isinstance(values, dict):
        raise ConfigError(f"--params {params!r}: give a JSON object")
    proj, store = _open(project, database)
    rule = save_rule(
        store.engine,
        proj,
        name=name,
        kind=kind,
        channel=channel,
        params=values,
        template=load_template(template),
        offer=offer,
        holdout=holdout,
        enabled=not disabled,
    )
    _audit(store, "trigger.save", name, {"kind": kind, "params": rule.to_dict()["params"]})
    if as_json:
        emit_json(rule.to_dict())
        return
    typer.echo(f"rule {name}: {kind} via {channel} ({'on' if rule.enabled else 'off'})")


def _switch(name: str, on: bool, project: Path | None, database: str | None) -> None:
    from memberlens.activation.triggers import set_enabled

    _proj, store = _open(project, database)
    set_enabled(store.engine, name, on)
    _audit(store, "trigger.enable" if on else "trigger.disable", name, {})
    typer.echo(f"rule {name}: {'on' if on else 'off'}")


@triggers_app.command("enable")
def enable_cmd(
    name: str = typer.Argument(..., help="The rule's name."),
    project: Path | None = _PROJECT,
    database: str | None = _DATABASE,
) -> None:
    """Switch a rule on."""
    _switch(name, True, project, database)


@triggers_app.command("disable")
def disable_cmd(
    name: str = typer.Argument(..., help="The rule's name."),
    project: Path | None = _PROJECT,
    database: str | None = _DATABASE,
) -> None:
    """Switch a rule off."""
    _switch(name, False, project, database)


@triggers_app.command("run")
def run_cmd(
    day: str | None = typer.Option(None, "--date", help="The day to evaluate (default today)."),
    rule: list[str] | None = typer.Option(None, "--rule", help="Only these rules (repeatable)."),
    project: Path | None = _PROJECT,
    database: str | None = _DATABASE,
    now: str | None = typer.Option(
        None, "--now", help="Send as if it were this time (ISO, UTC): simulated shops."
    ),
    as_json: bool = _JSON,
) -> None:
    """Evaluate the enabled rules for a day and send (idempotent per date: safe from cron)."""
    from memberlens.activation.triggers import run_triggers

    proj, store = _open(project, database)
    results = run_triggers(store, proj, _day(day), now=_now(now), rules=rule or None)
    for r in results:
        if r.fired and not r.repeated:
            _audit(store, "trigger.send", r.rule, r.to_dict())
    if as_json:
        emit_json([r.to_dict() for r in results])
        return
    for r in results:
        again = " (ran before: pending only)" if r.repeated else ""
        typer.echo(
            f"{r.rule}: fired {r.fired:,}, sent {r.sent:,}, control {r.control:,}, "
            f"excluded {r.excluded:,}, pending {r.pending:,}{again}"
        )
