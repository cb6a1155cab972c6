"""Experiment design: ``memberlens experiment plan`` (sample size and duration of an A/B test)."""

from __future__ import annotations

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
