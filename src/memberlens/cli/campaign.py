"""Campaign evaluation: ``memberlens campaign list`` and ``memberlens campaign report``."""

from __future__ import annotations

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
    # a sample-ratio mismatch is the report's srm field: printed below in red, first message
    with progress_steps("campaign report", quiet=state.quiet or as_json) as step:
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
    if result.segments and result.segments_source != "members":
        typer.echo(f"{result.by} as of {result.segments_as_of} ({result.segments_source})")
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


def _campaign_ids(campaign_ids: list[str] | None, all_campaigns: bool) -> list[str] | None:
    from memberlens.exceptions import ConfigError

    if all_campaigns and campaign_ids:
        raise ConfigError("give campaign ids or --all, not both")
    if not all_campaigns and not campaign_ids:
        raise ConfigError("give one or more campaign ids, or --all for every campaign")
    return None if all_campaigns else list(campaign_ids or [])


def _echo_regression(result) -> None:  # type: ignore[no-untyped-def]
    kind = "OLS" if result.kind == "ols" else "logistic regression"
    typer.echo(
        f"{result.outcome}: {kind}, {result.n:,} members, robust ({result.cov_type}) standard "
        f"errors, {'R²' if result.kind == 'ols' else 'pseudo R²'} {result.r_squared:.3f}"
    )
    typer.echo(f"  model: {result.formula}")
    for c in result.coefficients:
        typer.echo(f"  {c.reading}  (p = {c.p_value:.3g})")
    if result.anova:
        stat = "F" if result.kind == "ols" else "chi²"
        typer.echo("  which factors matter (robust Wald test per factor):")
        for row in result.anova:
            typer.echo(
                f"    {row.term:<36} df {row.df:>3}  {stat} {row.statistic:10.3f}  "
                f"p = {row.p_value:.3g}"
            )
    for message in result.messages:
        typer.secho(f"  note: {message}", fg="yellow")


@campaign_app.command("drivers")
def drivers(
    campaign_ids: list[str] | None = typer.Argument(None, help="Campaign ids (or --all)."),
    all_campaigns: bool = typer.Option(False, "--all", help="Every campaign of the project."),
    project: Path | None = _PROJECT,
    factors: str | None = typer.Option(
        None,
        "--factors",
        help="Comma-separated factors (default: arm, channel, offer, send_time, gender, "
        "age_band, province, segment, tier, cluster, those present and varying).",
    ),
    interact: bool = typer.Option(
        False, "--interact", help="Also how the campaign's effect differs by each factor."
    ),
    response: str | None = typer.Option(None, "--response", help="As in `campaign report`."),
    alpha: float = typer.Option(0.05, "--alpha", help="1 - confidence level of the intervals."),
    as_json: bool = typer.Option(False, "--json", help="Print the models as JSON."),
) -> None:
    """Which factors drive spend (OLS) and response (logistic regression): campaign features and
    member attributes, each with its coefficient, robust CI and p-value."""
    from memberlens.exceptions import ConfigError
    from memberlens.experiments.campaigns import RESPONSES
    from memberlens.experiments.projects import campaign_drivers_project
    from memberlens.project import Project

    if response is not None and response not in RESPONSES:
        raise ConfigError(f"--response must be one of {', '.join(RESPONSES)}, found {response!r}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must be between 0 and 1, found {alpha}")
    ids = _campaign_ids(campaign_ids, all_campaigns)
    with progress_steps("campaign drivers", quiet=state.quiet or as_json) as step:
        step("fitting")
        results, notes = campaign_drivers_project(
            Project.load(project),
            ids,
            factors=[f.strip() for f in factors.split(",") if f.strip()] if factors else None,
            interact=interact,
            response=cast("Response | None", response),
            alpha=alpha,
        )
    if as_json:
        emit_json({"models": [r.to_dict() for r in results], "messages": notes})
        return
    for result in results:
        _echo_regression(result)
    for note in notes:
        typer.secho(f"note: {note}", fg="yellow")


@campaign_app.command("factorial")
def factorial(
    campaign_ids: list[str] | None = typer.Argument(None, help="Campaign ids (or --all)."),
    all_campaigns: bool = typer.Option(False, "--all", help="Every campaign of the project."),
    project: Path | None = _PROJECT,
    factors: str = typer.Option(
        "channel,offer,send_time",
        "--factors",
        help="Comma-separated campaign attributes crossed in the design (channel, offer, type, "
        "send_time, send_weekday, arm).",
    ),
    outcome: str = typer.Option(
        "bought", "--outcome", help="bought (logit), responded (logit) or spend (OLS)."
    ),
    with_control: bool = typer.Option(
        False,
        "--with-control",
        help="Add treated/control as a factor: its interactions are differences in lift.",
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="1 - confidence level of the intervals."),
    as_json: bool = typer.Option(False, "--json", help="Print the model as JSON."),
) -> None:
    """Factorial (multivariate) test: main effects and interactions of campaign attributes
    with a robust ANOVA table."""
    from memberlens.exceptions import ConfigError
    from memberlens.experiments.projects import campaign_factorial_project
    from memberlens.project import Project

    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must be between 0 and 1, found {alpha}")
    ids = _campaign_ids(campaign_ids, all_campaigns)
    with progress_steps("campaign factorial", quiet=state.quiet or as_json) as step:
        step("fitting")
        result, notes = campaign_factorial_project(
            Project.load(project),
            ids,
            [f.strip() for f in factors.split(",") if f.strip()],
            outcome=outcome,
            treated_only=not with_control,
            alpha=alpha,
        )
    if as_json:
        emit_json({**result.to_dict(), "notes": notes})
        return
    _echo_regression(result)
    for note in notes:
        typer.secho(f"note: {note}", fg="yellow")
