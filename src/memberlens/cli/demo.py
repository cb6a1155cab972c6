"""``memberlens demo``: the main job of the README."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from memberlens.cli._app import app, state
from memberlens.cli._output import progress_steps

console = Console()


@app.command()
def demo(
    directory: Path = typer.Option(
        Path("memberlens-demo"), "--dir", help="Project folder to create or reuse."
    ),
    members: int = typer.Option(20_000, "--members", help="Members of the simulated shop."),
    seed: int = typer.Option(7, help="Seed of the simulated shop."),
    data: str = typer.Option(
        "simulated",
        help="simulated (a Chinese e-commerce shop with "
        "known truth) or cdnow (the real CDNOW sample).",
    ),
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="Open the dashboard when done (Ctrl-C stops it)."
    ),
    port: int = typer.Option(8000, help="Dashboard port (on 127.0.0.1)."),
) -> None:
    """Simulate a shop, load it through the public ingest path, build every mart, summarise."""
    from memberlens.exceptions import ConfigError
    from memberlens.pipeline.demo import run_demo

    if data not in ("simulated", "cdnow"):
        raise ConfigError(f"--data {data!r}: use simulated or cdnow")
    with progress_steps("demo", quiet=state.quiet) as step:
        result = run_demo(directory, data=data, members=members, seed=seed, progress=step)
    loads = Table(
        "table",
        "read",
        "stored",
        "quarantined",
        "duplicates",
        title=f"loaded into {result.project.warehouse}",
    )
    for r in result.loads:
        loads.add_row(
            r.table,
            f"{r.rows_read:,}",
            f"{r.rows_stored:,}" + (" (loaded before)" if r.already_loaded else ""),
            f"{r.rows_quarantined:,}",
            f"{r.duplicates_dropped:,}",
        )
    console.print(loads)
    run = result.run
    if run is not None:
        _print_findings(result)
    console.print(
        f"\nproject: {result.project.root}\nnext: memberlens members --project "
        f"{directory} --segment important_value   |   memberlens status --project "
        f"{directory}"
    )
    if serve:
        _serve(result.project, port)


def _serve(project, port: int) -> None:
    """Start the dashboard; on first use create an admin account with a one-time password."""
    import secrets

    import uvicorn
    from sqlalchemy import func, select

    from memberlens.web import create_app
    from memberlens.web.models import User
    from memberlens.web.store import add_user, audit

    app_ = create_app(project, warm=True)
    with app_.state.ctx.store() as db:
        if not db.scalar(select(func.count()).select_from(User)):
            password = secrets.token_urlsafe(12)
            add_user(db, "admin", password, "admin")
            audit(
                db,
                "user_create",
                username=None,
                target="admin",
                detail={"role": "admin", "via": "demo"},
            )
            console.print(
                f"dashboard account: [bold]admin[/] / [bold]{password}[/] (shown once; "
                f"change it with `memberlens user passwd admin --project "
                f"{project.root}`)"
            )
    console.print(f"dashboard: http://127.0.0.1:{port}  (Ctrl-C to stop)")
    from memberlens.cli.web import uvicorn_options  # no X-Forwarded-For trusted from 127.0.0.1

    uvicorn.run(app_, **uvicorn_options("127.0.0.1", port, 1, quiet=True))


def _print_findings(result) -> None:
    from memberlens.engine import connect

    run = result.run
    con = connect(result.project, read_only=True)
    try:
        mart = con.table("mart_members")
        totals = mart.aggregate(
            members=mart.count(),
            revenue=mart.total_spend.sum(),
            clv=mart.clv.sum(),
            alive=mart.p_alive.mean(),
        ).to_pyarrow()
        t = totals.to_pylist()[0]
        console.print(
            f"\n[bold]as of {run.as_of}[/]: {t['members']:,} buying members, revenue "
            f"{t['revenue']:,.0f}, mean P(alive) {t['alive'] or 0:.2f}, expected "
            f"12-month value {t['clv'] or 0:,.0f}"
        )
        seg = con.table("mart_segments")
        rows = seg.filter(seg.scheme == "cn8").order_by(seg.revenue.desc()).to_pyarrow()
        grid = Table("segment", "members", "revenue share", "avg CLV", title="RFM segments (cn8)")
        for r in rows.to_pylist():
            grid.add_row(
                f"{r['segment_zh']} {r['segment_en']}",
                f"{r['members']:,}",
                f"{r['revenue_share']:.1%}",
                "" if r["avg_clv"] is None else f"{r['avg_clv']:,.0f}",
            )
        console.print(grid)
    finally:
        con.disconnect()
    for step in run.steps:
        if step.status != "ok":
            console.print(f"[yellow]{step.step}: {step.status}[/] {step.message}")
