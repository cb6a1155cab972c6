"""Experiment design: ``memberlens experiment plan`` (sample size and duration of an A/B test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from memberlens.cli._app import app
from memberlens.cli._output import emit_json

experiment_app = typer.Typer(
    help="A/B test design (实验设计): sample size and duration for a minimum detectable effect.",
    no_args_is_help=True,
)
app.add_typer(experiment_app, name="experiment")


@experiment_app.command("plan")
def plan(
    baseline: float = typer.Option(
        ..., "--baseline", help="Control's rate, e.g. 0.03 for a 3 % conversion rate."
    ),
    mde: float = typer.Option(
        ..., "--mde", help="Minimum detectable effect, relative: 0.1 = a 10 % lift."
    ),
    power: float = typer.Option(0.8, "--power", help="Chance of detecting a true MDE lift."),
    alpha: float = typer.Option(0.05, "--alpha", help="Two-sided significance level."),
    daily: int | None = typer.Option(
        None, "--daily", help="Members entering the test per day (both arms), for the duration."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """Members per arm (equal split) and days needed to detect a relative lift of a rate."""
    from memberlens.exceptions import ConfigError
    from memberlens.experiments.planning import sample_size_for_rate

    try:
        result = sample_size_for_rate(
            baseline=baseline, mde=mde, power=power, alpha=alpha, daily=daily
        )
    except ValueError as exc:
        raise ConfigError(f"experiment plan: {exc}") from None
    if as_json:
        emit_json(result.to_dict())
        return
    typer.echo(
        f"Detect {result.baseline:.2%} -> {result.target_rate:.2%} (+{result.mde:.0%} relative) "
        f"with power {result.power:.0%} at alpha {result.alpha:g} (two-sided):"
    )
    typer.echo(f"  members per arm: {result.n_per_arm:,}")
    typer.echo(f"  members in all:  {result.n_total:,}")
    if result.days is not None:
        typer.echo(f"  duration:        {result.days} days at {result.daily:,} members a day")


@experiment_app.command("roi")
def roi(
    members: int | None = typer.Option(
        None, "--members", help="Members a blanket send would message (with -p: the project's)."
    ),
    message_cost: float | None = typer.Option(
        None,
        "--message-cost",
        help="Cost of one message (e.g. 0.05 per SMS; with -p and --channel: [costs] message).",
    ),
    baseline: float | None = typer.Option(
        None,
        "--baseline",
        help="Share who buy in a campaign window without a message (with -p: past controls).",
    ),
    lift: float | None = typer.Option(
        None,
        "--lift",
        help="Absolute conversion lift of a blanket send (0.01 = one point); with -p: the "
        "member-weighted conversion difference of past campaigns.",
    ),
    aov: float | None = typer.Option(
        None, "--aov", help="Average order value of an incremental order (with -p: past arms')."
    ),
    margin: float | None = typer.Option(
        None, "--margin", help="Product margin as a share of revenue (with -p: [costs] margin)."
    ),
    coupon_cost: float | None = typer.Option(
        None, "--coupon-cost", help="Coupon cost per treated buyer (with -p: [costs] coupon; 0)."
    ),
    campaigns: int = typer.Option(12, "--campaigns-per-year", help="Campaigns a year."),
    target_share: float = typer.Option(
        0.3, "--target-share", help="Share of members the targeted programme messages."
    ),
    captured_share: float = typer.Option(
        0.6,
        "--captured-share",
        help="Share of the incremental buyers that share reaches (the uplift model's gain "
        "curve at that depth; random targeting = --target-share).",
    ),
    baseline_ratio: float = typer.Option(
        1.0, "--baseline-ratio", help="Baseline rate of the targeted members relative to all."
    ),
    model_cost: float = typer.Option(0.0, "--model-cost", help="Yearly cost of the model."),
    staff_cost: float = typer.Option(0.0, "--staff-cost", help="Yearly staff cost."),
    project: Path | None = typer.Option(
        None,
        "--project",
        "-p",
        help="Fill what is not typed in from past campaigns (mart_campaign_results) and [costs].",
    ),
    channel: str | None = typer.Option(
        None, "--channel", help="With -p: past campaigns on this channel, its message cost."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Expected yearly return, ROI and break-even of a targeted programme against blanket sends."""
    from memberlens.exceptions import ConfigError
    from memberlens.experiments.programme import ProgrammeInputs, programme_roi

    given: dict[str, Any] = {
        "members": members,
        "message_cost": message_cost,
        "baseline_rate": baseline,
        "lift": lift,
        "aov": aov,
        "margin": margin,
        "coupon_cost": coupon_cost,
    }
    source: dict[str, Any] = {}
    if project is not None:
        from memberlens.experiments.projects import past_campaign_inputs
        from memberlens.project import Project

        source = past_campaign_inputs(Project.load(project), channel)
    values: dict[str, Any] = {k: v if v is not None else source.get(k) for k, v in given.items()}
    values["coupon_cost"] = values["coupon_cost"] or 0.0
    options = {
        "members": "--members",
        "message_cost": "--message-cost",
        "baseline_rate": "--baseline",
        "lift": "--lift",
        "aov": "--aov",
        "margin": "--margin",
    }
    missing = [flag for key, flag in options.items() if values[key] is None]
    if missing:
        raise ConfigError(
            f"experiment roi: give {', '.join(missing)}"
            + ("" if project else " (or -p PROJECT to take them from past campaigns and [costs])")
        )
    inputs = ProgrammeInputs(
        members=int(values["members"]),
        message_cost=float(values["message_cost"]),
        baseline_rate=float(values["baseline_rate"]),
        lift=float(values["lift"]),
        aov=float(values["aov"]),
        margin=float(values["margin"]),
        coupon_cost=float(values["coupon_cost"]),
        campaigns_per_year=campaigns,
        target_share=target_share,
        captured_share=captured_share,
        baseline_ratio=baseline_ratio,
        model_cost=model_cost,
        staff_cost=staff_cost,
    )
    if source and not as_json:
        taken = [k for k, v in given.items() if v is None and k in source]
        typer.echo(
            f"from {source.get('campaigns', 0)} past campaigns and [costs]: "
            + ", ".join(f"{k} = {source[k]:.4g}" for k in taken)
        )
    try:
        result = programme_roi(inputs)
    except ValueError as exc:
        raise ConfigError(f"experiment roi: {exc}") from None
    if as_json:
        emit_json({**result.to_dict(), "from_campaigns": source or None})
        return
    typer.echo(f"{'':<28}{'blanket':>16}{'targeted':>16}")
    rows = (
        ("members messaged", "messaged", "{:,.0f}"),
        ("incremental buyers", "incremental_buyers", "{:,.1f}"),
        ("incremental margin", "incremental_margin", "{:,.2f}"),
        ("message cost", "message_cost", "{:,.2f}"),
        ("coupon cost", "coupon_cost", "{:,.2f}"),
        ("net per campaign", "net_per_campaign", "{:,.2f}"),
        ("fixed cost per year", "fixed_cost_per_year", "{:,.2f}"),
        ("net per year", "net_per_year", "{:,.2f}"),
        ("ROI", "roi", "{:.1%}"),
        ("break-even lift", "break_even_lift", "{:.4f}"),
    )
    for label, key, fmt in rows:
        cells = []
        for plan in (result.blanket, result.targeted):
            value = getattr(plan, key)
            cells.append("-" if value is None else fmt.format(value))
        typer.echo(f"{label:<28}{cells[0]:>16}{cells[1]:>16}")
    if result.break_even_campaigns is not None:
        typer.echo(
            f"targeting pays back its fixed costs from {result.break_even_campaigns:.1f} "
            f"campaigns a year (advantage at {campaigns}: {result.advantage_per_year:,.2f})"
        )
    for message in result.messages:
        typer.secho(f"note: {message}", fg="yellow")
