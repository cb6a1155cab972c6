"""Uplift models and segment evaluation: ``memberlens uplift fit|report|targets`` and
``memberlens segments evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import typer

from memberlens.cli._app import app, state
from memberlens.cli._output import emit_json, progress_steps

uplift_app = typer.Typer(
    help="Uplift models (增量响应模型): who buys *because of* the next message.",
    no_args_is_help=True,
)
app.add_typer(uplift_app, name="uplift")
segments_app = typer.Typer(
    help="Segment evaluation (分群评估): do a scheme's segments separate next-period buying?",
    no_args_is_help=True,
)
app.add_typer(segments_app, name="segments")

_PROJECT = typer.Option(
    None,
    "--project",
    "-p",
    help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
)


@uplift_app.command("fit")
def fit(
    campaign_id: str = typer.Argument(
        ..., help="The campaign (with a control group) to learn from."
    ),
    project: Path | None = _PROJECT,
    method: list[str] = typer.Option(
        [],
        "--method",
        help="Learners to compare: t_learner, x_learner, class_transformation (default: all).",
    ),
    test_share: float = typer.Option(0.3, "--test-share", help="Share of members held out."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split and of LightGBM."),
    margin: float | None = typer.Option(
        None,
        "--margin",
        help="Product margin as a share of revenue (e.g. 0.3), for profit (default: [costs]).",
    ),
    contact_cost: float | None = typer.Option(
        None,
        "--contact-cost",
        help="Cost of one message, e.g. 0.05 (default: [costs] message for the channel, else 0).",
    ),
    min_child_samples: int = typer.Option(
        100, "--min-child-samples", help="Fewest members in a LightGBM leaf (and in each arm)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the evaluation as JSON."),
) -> None:
    """Fit the learners on a campaign, compare them on held-out members (Qini, AUUC), score
    every member with the best one and write mart_uplift_scores."""
    from memberlens.exceptions import ConfigError
    from memberlens.experiments.uplift import UPLIFT_METHODS, UpliftMethod
    from memberlens.experiments.uplift_project import fit_uplift_project
    from memberlens.project import Project

    bad = [m for m in method if m not in UPLIFT_METHODS]
    if bad:
        raise ConfigError(f"--method must be one of {', '.join(UPLIFT_METHODS)}, found {bad}")
    with progress_steps("uplift fit", quiet=state.quiet or as_json) as step:
        step("features, learners, held-out evaluation, scores")
        result = fit_uplift_project(
            Project.load(project),
            campaign_id,
            methods=cast("tuple[UpliftMethod, ...]", tuple(method)) or None,
            test_share=test_share,
            seed=seed,
            margin=margin,
            contact_cost=contact_cost,
            min_child_samples=min_child_samples,
        )
    if as_json:
        emit_json(result.to_dict())
        return
    _echo_fit(result.to_dict())


def _echo_fit(r: dict[str, Any]) -> None:
    typer.echo(
        f"{r['campaign_id']} {r.get('name') or ''}: {r['n_members']:,} members "
        f"({r['treatment_share']:.0%} treated), held out {r['n_test']:,}"
    )
    for e in r["evaluations"]:
        mark = "*" if e["method"] == r["chosen_method"] else " "
        q = "n/a" if e["qini_coefficient"] is None else f"{e['qini_coefficient']:.3f}"
        a = "n/a" if e["auuc"] is None else f"{e['auuc']:.3f}"
        typer.echo(f" {mark} {e['method']:<22} Qini {q:>7}  AUUC {a:>7}")
    best = next(e for e in r["evaluations"] if e["method"] == r["chosen_method"])
    typer.echo("  decile  treated  control  observed uplift  predicted")
    for d in best["deciles"]:
        obs = "-" if d["observed_uplift"] is None else f"{d['observed_uplift']:+.2%}"
        typer.echo(
            f"  {d['decile']:>6}  {d['n_treatment']:>7,}  {d['n_control']:>7,}  {obs:>15}  "
            f"{d['predicted_uplift']:+.2%}"
        )
    typer.echo(
        f"scored {r['scored_members']:,} members as of {r['scored_as_of']} with "
        f"{r['chosen_method']} -> mart_uplift_scores"
    )
    for message in r["messages"]:
        typer.secho(f"  note: {message}", fg="yellow")


@uplift_app.command("report")
def report(
    campaign_id: str | None = typer.Argument(None, help="One campaign (default: all fitted)."),
    project: Path | None = _PROJECT,
    as_json: bool = typer.Option(False, "--json", help="Print the evaluations as JSON."),
) -> None:
    """The held-out evaluation of the last `uplift fit` (Qini, AUUC, deciles)."""
    from memberlens.experiments.uplift_project import uplift_report_project
    from memberlens.project import Project

    rows = uplift_report_project(Project.load(project), campaign_id)
    if as_json:
        emit_json(rows if campaign_id is None else rows[0])
        return
    if not rows:
        typer.echo("no uplift model fitted yet; run `memberlens uplift fit CAMPAIGN`")
    for r in rows:
        _echo_fit(r)


@uplift_app.command("targets")
def targets(
    campaign_id: str = typer.Argument(..., help="The campaign whose model scored the members."),
    project: Path | None = _PROJECT,
    top: int = typer.Option(100, "--top", help="Members to list."),
    by: str = typer.Option("uplift", "--by", help="Rank by uplift or by profit."),
    export: Path | None = typer.Option(
        None, "--export", help="Write the list to .xlsx, .csv or .parquet."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
    rescore: bool = typer.Option(
        False,
        "--rescore",
        help="Score every member now with the campaign's saved model (no refit) instead of "
        "reading mart_uplift_scores.",
    ),
) -> None:
    """The members with the highest expected incremental response (or profit)."""
    import pyarrow as pa

    from memberlens.experiments.uplift_project import uplift_targets_project
    from memberlens.project import Project

    frame = uplift_targets_project(
        Project.load(project), campaign_id, top=top, by=by, rescore=rescore
    )
    if export is not None:
        from memberlens.exports import write_export

        write_export(pa.Table.from_pandas(frame, preserve_index=False), export, sheet="uplift")
        if not as_json:
            typer.echo(f"wrote {len(frame):,} members to {export}")
    if as_json:  # a blank profit (no margin) is null, as in the API's answer
        from memberlens.experiments.campaigns import no_nan

        emit_json(no_nan(frame.to_dict(orient="records")))
        return
    if export is None:
        for row in frame.itertuples(index=False):
            profit = row.expected_incremental_profit
            shown = "-" if profit != profit else f"{profit:,.2f}"
            typer.echo(
                f"{row.member_id}  uplift {row.uplift:+.2%}  revenue "
                f"{row.expected_incremental_revenue:,.2f}  profit {shown}"
            )


@segments_app.command("evaluate")
def evaluate(
    project: Path | None = _PROJECT,
    horizon: int = typer.Option(90, "--horizon", help="Days of the next period."),
    as_json: bool = typer.Option(False, "--json", help="Print the evaluation as JSON."),
) -> None:
    """Per scheme: how far next-period spend differs across segments (ANOVA F, eta², lift,
    gain) and how stable members' segments are between as-of dates (adjusted Rand)."""
    from memberlens.experiments.segment_eval import evaluate_segments_project
    from memberlens.project import Project

    rows = evaluate_segments_project(Project.load(project), horizon_days=horizon)
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    for r in rows:
        s = r.spread
        typer.echo(
            f"{r.scheme} as of {r.as_of} (next {r.horizon_days} days): eta² {s.eta_squared:.3f}, "
            f"F {s.f_statistic:,.1f} (p {s.p_value:.2g}), gain Gini {s.gain_gini:.3f}"
        )
        if r.stability is not None:
            typer.echo(
                f"  stability since {r.previous_as_of}: {r.stability.share_kept:.1%} kept their "
                f"segment, adjusted Rand {r.stability.adjusted_rand:.3f} "
                f"({r.stability.members:,} members)"
            )
        for row in s.segments:
            lift = "-" if row.lift is None else f"{row.lift:.2f}"
            typer.echo(
                f"  {row.segment:<28} {row.members:>7,}  buy rate {row.buy_rate:6.1%}  "
                f"lift {lift:>5}  spend share {row.spend_share:6.1%}"
            )
