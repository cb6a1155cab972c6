"""Lifetime value command: ``memberlens backtest`` (fit on a calibration period, check on the
holdout: tracking, conditional expectations, member-level error, P(alive) calibration)."""

from __future__ import annotations

from pathlib import Path

import typer

from memberlens.cli._app import app, state
from memberlens.cli._output import emit_json, progress_steps


@app.command()
def backtest(
    calibration_end: str = typer.Option(
        ..., "--calibration-end", help="Last day of the calibration period, YYYY-MM-DD."
    ),
    holdout_end: str = typer.Option(
        ..., "--holdout-end", help="Last day of the holdout period, YYYY-MM-DD."
    ),
    model: str = typer.Option("bgnbd", "--model", help="bgnbd, mbgnbd, pnbd or mbgcnbd."),
    time_unit: str = typer.Option("W", "--time-unit", help="D (days), W (weeks) or M (months)."),
    project: Path | None = typer.Option(
        None,
        "--project",
        "-p",
        help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
    ),
    plot: Path | None = typer.Option(
        None,
        "--plot",
        help="Also save the tracking and frequency plots to this PNG file (needs matplotlib).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Fit a purchase model on the calibration period and report it against the holdout."""
    from memberlens.clv.checking import backtest_orders
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.project import Project

    with progress_steps("backtest", quiet=state.quiet or as_json) as step:
        step("reading orders")
        proj = Project.load(project)
        warehouse = open_warehouse(proj, read_only=True)
        try:
            step(f"fitting {model}")
            fitted, report = backtest_orders(
                warehouse.table("orders"),
                calibration_end=calibration_end,
                holdout_end=holdout_end,
                model=model,
                time_unit=time_unit,
            )
        finally:
            warehouse.close()
    if plot is not None:
        _save_plot(report, plot)
    if as_json:
        emit_json(
            {
                "model": model,
                "calibration_end": calibration_end,
                "holdout_end": holdout_end,
                "time_unit": time_unit,
                "params": fitted.params_.to_dict(),
                "standard_errors": fitted.standard_errors_.to_dict(),
                "log_likelihood": fitted.log_likelihood_,
                "n_members": fitted.n_members_,
                **report.to_dict(),
            }
        )
        return
    _print(model, fitted, report)


def _save_plot(report, path: Path) -> None:
    from matplotlib.figure import Figure

    from memberlens.clv.plotting import plot_conditional_expectations, plot_tracking

    figure = Figure(figsize=(12, 4))
    left, right = figure.subplots(1, 2)
    plot_tracking(report.tracking, ax=left)
    plot_conditional_expectations(report.by_frequency, ax=right)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def _print(model: str, fitted, report) -> None:
    from rich.table import Table

    from memberlens.cli._output import console, say

    params = ", ".join(
        f"{k} {v:.4g} (±{fitted.standard_errors_[k]:.2g})" for k, v in fitted.params_.items()
    )
    say(
        "[bold]{}[/] on {} members: {}; log-likelihood {}",
        model,
        f"{fitted.n_members_:,.0f}",
        params,
        f"{fitted.log_likelihood_:,.2f}",
    )
    error = report.error
    console.print(
        f"holdout purchases: actual {error.actual_total:,.0f}, expected "
        f"{error.expected_total:,.1f}; member MAE {error.mae:.3f}, RMSE "
        f"{error.rmse:.3f}, correlation {error.correlation:.3f}"
    )
    grid = Table(
        "calibration frequency",
        "members",
        "actual mean",
        "expected mean",
        title="holdout purchases by calibration frequency",
    )
    for label, row in report.by_frequency.iterrows():
        grid.add_row(
            str(label),
            f"{row['members']:,}",
            f"{row['actual_mean']:.3f}",
            f"{row['expected_mean']:.3f}",
        )
    console.print(grid)
    track = report.tracking.to_frame()
    tail = Table(
        "period",
        "actual cum.",
        "expected cum.",
        "actual",
        "expected",
        title=f"repeat purchases per period ({report.tracking.time_unit}), last 8",
    )
    for row in track.tail(8).itertuples(index=False):
        tail.add_row(
            str(row.period),
            f"{row.actual_cumulative:,}",
            f"{row.expected_cumulative:,.1f}",
            f"{row.actual_incremental:,}",
            f"{row.expected_incremental:,.1f}",
        )
    console.print(tail)
    calib = Table(
        "P(alive)",
        "members",
        "share buying in holdout",
        "expected mean",
        "actual mean",
        title="P(alive) calibration",
    )
    for row in report.alive_calibration.itertuples(index=False):
        if row.members:
            calib.add_row(
                f"{row.lower:.1f}-{row.upper:.1f}",
                f"{row.members:,}",
                f"{row.share_active_in_holdout:.3f}",
                f"{row.expected_mean:.3f}",
                f"{row.actual_mean:.3f}",
            )
    console.print(calib)
