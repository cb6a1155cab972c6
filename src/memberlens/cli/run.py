"""``memberlens run``: build the member marts for the as-of date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from memberlens.cli._app import app, state
from memberlens.cli._output import emit_json, progress_steps, step_warnings

console = Console()


#: exit code of `memberlens run --strict` when the marts were written but a step degraded
EXIT_DEGRADED = 8


@app.command()
def run(
    project: Path | None = typer.Option(None, "--project", "-p", help="Project folder."),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Analysis date YYYY-MM-DD (default: the project's, else the last order day).",
    ),
    steps: str | None = typer.Option(
        None, "--steps", help="Run only these steps, comma-separated (e.g. summary,clv)."
    ),
    skip: str | None = typer.Option(
        None, "--skip", help="Leave these steps out, comma-separated (e.g. recommendations)."
    ),
    strict: bool = typer.Option(
        False, "--strict", help=f"Exit {EXIT_DEGRADED} when a step degraded (marts still written)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the run record as JSON."),
) -> None:
    """Build the marts (member summary, CLV, segments, tiers, lifecycle, cohorts, ...) atomically.

    Exit codes: 0 the marts were written (steps that degraded are listed); 8 the same with
    --strict when a step degraded; 1-6 a user error (bad setting, missing table, ...) and 70 an
    internal error, both with nothing written and the failed run recorded in the run log.
    """
    from memberlens.exceptions import ConfigError
    from memberlens.pipeline.run import run_pipeline

    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise ConfigError(f"--as-of {as_of!r} is not a date; write YYYY-MM-DD") from None
    with progress_steps("run", quiet=state.quiet or as_json) as step:
        result = run_pipeline(
            project,
            as_of=day,
            progress=step,
            steps=_names(steps) if steps is not None else None,
            skip=_names(skip) if skip is not None else (),
        )
    degraded = result.degraded
    if as_json:
        emit_json(result.to_dict())
    else:
        grid = Table(
            "step",
            "rows in",
            "rows out",
            "seconds",
            "peak MiB",
            "status",
            "note",
            title=f"run {result.run_id} as of {result.as_of}",
        )
        for r in result.steps:
            grid.add_row(
                r.step,
                f"{r.rows_in:,}",
                f"{r.rows_out:,}",
                f"{r.seconds:.2f}",
                f"{r.peak_memory / 2**20:,.0f}" if r.peak_memory else "",
                r.status,
                escape(r.message),
            )
        console.print(grid)
        console.print("marts: " + ", ".join(f"{k} ({v:,})" for k, v in result.marts.items()))
        for warning in step_warnings(result.steps):
            console.print(warning, style="yellow", markup=False)
        if degraded:
            console.print(
                "[yellow]degraded:[/] "
                + "; ".join(f"{s.step}: {escape(s.message)}" for s in degraded)
            )
    if strict and degraded:
        raise typer.Exit(EXIT_DEGRADED)


def _names(option: str) -> list[str]:
    return [n.strip() for n in option.split(",") if n.strip()]
