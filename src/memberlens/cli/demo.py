"""``memberlens demo``: the main job of the README."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from memberlens.cli._app import app, state
from memberlens.cli._output import progress_steps

console = Console()


@app.command()
def demo(
    directory: Path = typer.Option(Path("memberlens-demo"), "--dir", help="Project folder to "
                                   "create or reuse."),
) -> None:
    """Build a demo project end to end (currently: the real CDNOW sample) and summarise it."""
    from memberlens.pipeline.demo import run_demo

    with progress_steps("demo", quiet=state.quiet) as step:
        result = run_demo(directory, progress=step)
    for r in result.loads:
        verb = "already loaded" if r.already_loaded else "loaded"
        console.print(f"{verb} {r.table} from {Path(r.source).name}: read {r.rows_read:,}, "
                      f"stored {r.rows_stored:,}, quarantined {r.rows_quarantined:,}, "
                      f"duplicates {r.duplicates_dropped:,}")
    for t in result.status.tables:
        console.print(f"[bold]{t.table}[/]: {t.rows_stored:,} rows from {(t.first_at or '')[:10]} "
                      f"to {(t.last_at or '')[:10]}")
    console.print(f"project: {result.project.root}  (try: memberlens status --project "
                  f"{directory})")
