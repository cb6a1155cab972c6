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
    response: str | None = typer.Option(
        None,
        "--response",
        help="What counts as a response: auto (click, else open, else an order), click, open, "
        "open_or_click, visit or order (default: [campaigns] response, else auto).",
    ),
    alpha: float | None = typer.Option(
        None, "--alpha", help="1 - confidence level of the intervals (default 0.05)."
    ),
    by: str | None = typer.Option(
        None,
        "--by",
        help="Also per segment: a member attribute (channel, province, city, gender, age_band) "
        "or from the member mart: segment (RFM class), cn8, tier, cluster, lifecycle.",
    ),
    control_share: float | None = typer.Option(
        None,
        "--control-share",
        help="Planned share of the control group (e.g. 0.2): checks the split (SRM).",
    ),
    retention_days: int | None = typer.Option(
        None, "--retention-days", help="Retention: buying within N days after the window (30)."
    ),
    cuped: bool | None = typer.Option(
        None, "--cuped/--no-cuped", help="Also revenue per member CUPED-adjusted by pre-spend."
    ),
    export: Path | None = typer.Option(
        None, "--export", help="Also write the report to a .xlsx or a self-contained .html file."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Per arm: reach, response, conversion, AOV, revenue per member, retention; each treatment
    against control with lift, CI, p-value, Bayesian read-out; incremental revenue, cost, ROI."""
    from memberlens.exceptions import ConfigError
    from memberlens.experiments.campaigns import RESPONSES
    from memberlens.experiments.projects import campaign_report_project
    from memberlens.experiments.srm import SampleRatioMismatchWarning
    from memberlens.project import Project

    if response is not None and response not in RESPONSES:
        raise ConfigError(f"--response must be one of {', '.join(RESPONSES)}, found {response!r}")
    if alpha is not None and not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must be between 0 and 1, found {alpha}")
    if control_share is not None and not 0.0 < control_share < 1.0:
        raise ConfigError(f"--control-share must be between 0 and 1, found {control_share}")
    if retention_days is not None and retention_days < 1:
        raise ConfigError(f"--retention-days must be at least 1, found {retention_days}")
    if export is not None and export.suffix.lower() not in (".xlsx", ".html", ".htm"):
        raise ConfigError(f"--export {export}: use a .xlsx or .html file name")
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
            response=cast("Response | None", response),
            alpha=alpha,
            by=by,
            planned_control_share=control_share,
            retention_days=retention_days,
            cuped=cuped,
        )
    if result.srm is not None and result.srm.mismatch:
        typer.secho(result.srm.message, fg="red", err=True)
    if export is not None:
        from memberlens.experiments.export import write_report

        write_report(result, export)
        if not as_json:
            typer.echo(f"wrote {export}")
    if as_json:
        emit_json(result.to_dict())
        return
    _echo_report(result)


def _echo_report(result) -> None:  # type: ignore[no-untyped-def]
    level = f"{1 - result.alpha:.0%}"
    typer.echo(
        f"{result.campaign_id} {result.name or ''}: {result.starts_at} -> {result.ends_at}  "
        f"(response = {result.response}, retention {result.retention_days} days)"
    )
    for a in result.arms:
        aov = f"{a.aov:,.2f}" if a.aov is not None else "-"
        typer.echo(
            f"  {a.arm:<12} n {a.n:>8,}  response {a.response_rate:7.2%}  "
            f"conversion {a.conversion_rate:7.2%}  AOV {aov:>9}  "
            f"revenue/member {a.revenue_per_member:,.2f}  retention {a.retention_rate:7.2%}"
        )
    _echo_comparisons(result.comparisons, result.messages, level, "Holm")
    for e in result.economics:
        typer.echo(
            f"  {e.arm}: incremental revenue {e.incremental_revenue:,.2f} "
            f"({level} CI [{e.ci_low:,.2f}, {e.ci_high:,.2f}])"
            + (f", cost {e.cost:,.2f}" if e.cost is not None else "")
            + (
                f", ROI {e.roi:+.1%} [{e.roi_ci_low:+.1%}, {e.roi_ci_high:+.1%}]"
                if e.roi is not None and e.roi_ci_low is not None and e.roi_ci_high is not None
                else f", ROI blank: {e.reason}"
            )
        )
    for part in result.segments:
        sizes = ", ".join(f"{a.arm} {a.n:,}" for a in part.arms)
        typer.echo(f"{result.by} = {part.segment} ({sizes}):")
        _echo_comparisons(part.comparisons, part.messages, level, "BH")


def _echo_comparisons(comparisons, messages, level: str, adjustment: str) -> None:  # type: ignore[no-untyped-def]
    for c in comparisons:
        lift = "n/a" if c.relative_lift != c.relative_lift else f"{c.relative_lift:+.1%}"
        typer.echo(
            f"  {c.arm} vs control, {c.metric}: {c.difference:+.4g} ({lift}), "
            f"{level} CI [{c.ci_low:.4g}, {c.ci_high:.4g}], p = {c.p_value:.3g} "
            f"({adjustment} {c.p_value_adjusted:.3g}; all {c.p_value_holm:.3g}), "
            f"P(beats control) {c.probability_to_beat_control:.1%}, "
            f"expected loss {c.expected_loss:.3g}, "
            f"always-valid CI [{c.sequential_ci_low:.4g}, {c.sequential_ci_high:.4g}]"
        )
    for message in messages:
        typer.secho(f"  note: {message}", fg="yellow")
