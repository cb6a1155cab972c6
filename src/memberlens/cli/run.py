"""``memberlens run``: build the member marts for the as-of date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from memberlens.cli._app import app, state
from memberlens.cli._output import emit_json, progress_steps

console = Console()


@app.command()
def run(
    project: Path | None = typer.Option(None, "--project", "-p", help="Project folder."),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Analysis date YYYY-MM-DD (default: the project's, else the last order day).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the run record as JSON."),
) -> None:
    """Build the marts (member summary, CLV, segments, tiers, lifecycle, cohorts) atomically."""
    from memberlens.exceptions import ConfigError
    from memberlens.pipeline.run import run_pipeline

    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise ConfigError(f"--as-of {as_of!r} is not a date; write YYYY-MM-DD") from None
    with progress_steps("run", quiet=state.quiet or as_json) as step:
        result = run_pipeline(project, as_of=day, progress=step)
    if as_json:
        emit_json(result.to_dict())
        return
    grid = Table(
        "step",
        "rows in",
        "rows out",
        "seconds",
        "status",
        "note",
        title=f"run {result.run_id} as of {result.as_of}",
    )
    for r in result.steps:
        grid.add_row(
            r.step, f"{r.rows_in:,}", f"{r.rows_out:,}", f"{r.seconds:.2f}", r.status, r.message
        )
    console.print(grid)
    console.print("marts: " + ", ".join(f"{k} ({v:,})" for k, v in result.marts.items()))
