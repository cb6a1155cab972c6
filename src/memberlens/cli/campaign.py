"""Campaign evaluation: ``memberlens campaign list`` and ``memberlens campaign report``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from memberlens.cli._app import app, state
from memberlens.cli._output import emit_json, progress_steps

if TYPE_CHECKING:
    from memberlens.experiments.campaigns import Response

campaign_app = typer.Typer(
    help="Campaign evaluation (活动效果评估): arms, lift against control, CI and p-value.",
    no_args_is_help=True,
)
app.add_typer(campaign_app, name="campaign")

_PROJECT = typer.Option(
    None,
    "--project",
    "-p",
    help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
)
_RESPONSES = ("click", "open", "open_or_click")


@campaign_app.command("list")
def list_campaigns(
    project: Path | None = _PROJECT,
    as_json: bool = typer.Option(False, "--json", help="Print the campaigns as JSON."),
) -> None:
    """The project's campaigns with their members and control-group sizes."""
    from memberlens.experiments.projects import campaign_list_project
    from memberlens.project import Project

    rows = campaign_list_project(Project.load(project))
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['campaign_id']}  {row.get('name') or ''}  {row.get('starts_at')}  "
            f"members {row.get('members') or 0:,}  control {row.get('control') or 0:,}"
        )


@campaign_app.command("report")
def report(
    campaign_id: str = typer.Argument(..., help="The campaign's campaign_id."),
    project: Path | None = _PROJECT,
    response: str = typer.Option(
        "click", "--response", help="What counts as a response: click, open or open_or_click."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="1 - confidence level of the intervals."),
    by: str | None = typer.Option(
        None,
        "--by",
        help="Also per value of a member attribute: channel, province, city, gender, age_band.",
    ),
    control_share: float | None = typer.Option(
        None,
        "--control-share",
        help="Planned share of the control group (e.g. 0.2): checks the split (SRM).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Per arm: reached, response and conversion rates, AOV, revenue; each treatment against
    control with lift, confidence interval and p-value."""
    from memberlens.exceptions import ConfigError
    from memberlens.experiments.projects import campaign_report_project
    from memberlens.experiments.srm import SampleRatioMismatchWarning
    from memberlens.project import Project

    if response not in _RESPONSES:
        raise ConfigError(f"--response must be one of {', '.join(_RESPONSES)}, found {response!r}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must be between 0 and 1, found {alpha}")
    if control_share is not None and not 0.0 < control_share < 1.0:
        raise ConfigError(f"--control-share must be between 0 and 1, found {control_share}")
    with (
        progress_steps("campaign report", quiet=state.quiet or as_json) as step,
        warnings.catch_warnings(),
    ):
        # a mismatch is printed below in red (and is in the JSON's messages), not as a warning
        warnings.simplefilter("ignore", SampleRatioMismatchWarning)
        step("aggregating arms")
        result = campaign_report_project(
            Project.load(project),
            campaign_id,
            response=cast("Response", response),
            alpha=alpha,
            by=by,
            planned_control_share=control_share,
        )
    if result.srm is not None and result.srm.mismatch:
        typer.secho(result.srm.message, fg="red", err=True)
    if as_json:
        emit_json(result.to_dict())
        return
    typer.echo(f"{result.campaign_id} {result.name or ''}: {result.starts_at} -> {result.ends_at}")
    for a in result.arms:
        aov = f"{a.aov:,.2f}" if a.aov is not None else "-"
        typer.echo(
            f"  {a.arm:<12} n {a.n:>8,}  response {a.response_rate:7.2%}  "
            f"conversion {a.conversion_rate:7.2%}  AOV {aov:>9}  revenue {a.revenue:,.2f}"
        )
    _echo_comparisons(result.comparisons, result.messages, f"{1 - result.alpha:.0%}", "Holm")
    for part in result.segments:
        sizes = ", ".join(f"{a.arm} {a.n:,}" for a in part.arms)
        typer.echo(f"{result.by} = {part.segment} ({sizes}):")
        _echo_comparisons(part.comparisons, part.messages, f"{1 - result.alpha:.0%}", "BH")


def _echo_comparisons(comparisons, messages, level: str, adjustment: str) -> None:
    for c in comparisons:
        lift = "n/a" if c.relative_lift != c.relative_lift else f"{c.relative_lift:+.1%}"
        typer.echo(
            f"  {c.arm} vs control, {c.metric}: {c.difference:+.4g} ({lift}), "
            f"{level} CI [{c.ci_low:.4g}, {c.ci_high:.4g}], p = {c.p_value:.3g} "
            f"({adjustment} {c.p_value_adjusted:.3g}), "
            f"P(beats control) {c.probability_to_beat_control:.1%}"
        )
    for message in messages:
        typer.secho(f"  note: {message}", fg="yellow")
