"""``memberlens simulate``: write a simulated shop with known ground truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from memberlens.cli._app import app, state


@app.command("simulate")
def simulate(
    out_dir: Path = typer.Argument(..., help="Directory to write <table>.parquet and truth/ to."),
    members: int = typer.Option(10_000, "--members", "-n", min=1, help="Number of members."),
    seed: int = typer.Option(0, "--seed", "-s", help="Random seed (same seed, same tables)."),
    start: str = typer.Option(
        "2023-01-01", "--start", help="First day of the period (YYYY-MM-DD)."
    ),
    days: int = typer.Option(1096, "--days", min=30, help="Length of the period in days."),
    dirty: bool = typer.Option(
        False,
        "--dirty",
        help="Also write messy CSV exports to dirty/ "
        "(GBK orders, UTF-8-BOM members) with counted defects.",
    ),
    chunk_members: int = typer.Option(
        100_000, "--chunk-members", min=1, help="Members buffered per write (memory vs. speed)."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bar (same as the global --quiet)."
    ),
) -> None:
    """Simulate a Chinese e-commerce shop (members, orders, items, events, campaigns, ...)
    with its latent truth in OUT_DIR/truth/ (模拟一个带真实参数的电商会员数据集)."""
    from rich.table import Table

    from memberlens.cli._output import console
    from memberlens.simulate import simulate_shop

    try:
        start_date = dt.date.fromisoformat(start)
    except ValueError:
        from memberlens.exceptions import ConfigError

        raise ConfigError(f"--start: expected a date like 2023-01-01, found {start!r}") from None
    if quiet or state.quiet:
        report = simulate_shop(
            out_dir,
            members=members,
            seed=seed,
            start=start_date,
            days=days,
            dirty=dirty,
            chunk_members=chunk_members,
        )
    else:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("simulating members"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("members", total=members)
            report = simulate_shop(
                out_dir,
                members=members,
                seed=seed,
                start=start_date,
                days=days,
                dirty=dirty,
                chunk_members=chunk_members,
                progress=lambda k: bar.advance(task, k),
            )
    table = Table(title=f"simulated shop in {report.out_dir} (seed {report.seed})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for name, rows in report.rows.items():
        table.add_row(name, f"{rows:,}", report.files[name])
    if report.dirty:
        for name, counts in report.dirty.items():
            defects = counts["rows"] - report.rows[name]
            table.add_row(
                f"{name} (dirty)",
                f"{counts['rows']:,}",
                f"dirty/{name}.csv ({defects:,} defect rows)",
            )
    console.print(table)
    console.print(
        f"{report.rows['orders']:,} orders in {report.seconds:.1f} s "
        f"({report.orders_per_second:,.0f} orders/s); truth in "
        f"{report.out_dir / 'truth'}"
    )
