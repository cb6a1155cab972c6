"""``memberlens demo``: the main job of the README."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from memberlens.cli._app import app, state
from memberlens.cli._output import command, console, hint, progress_steps, say


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
    console.print(f"\nproject: {result.project.root}")
    hint(
        "next",
        command("members", "--segment", "important_value", project=directory),
        command("status", project=directory),
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
            say("dashboard account: [bold]admin[/] / [bold]{}[/] (shown once)", password)
            hint("change it with", command("user", "passwd", "admin", project=project.root))
    console.print(f"dashboard: http://127.0.0.1:{port}  (Ctrl-C to stop)")
    from memberlens.cli.web import uvicorn_options  # no X-Forwarded-For trusted from 127.0.0.1

    uvicorn.run(app_, **uvicorn_options("127.0.0.1", port, 1, quiet=True))


def _print_findings(result) -> None:
    """The headline figures and the RFM classes, in the project's language and currency."""
    from memberlens.engine import connect
    from memberlens.marts import column_label, gloss, money, segment_label

    run, project = result.run, result.project
    lang, cur = project.locale, project.currency
    zh = lang == "zh-CN"
    con = connect(project, read_only=True)
    try:
        mart = con.table("mart_members")
        totals = mart.aggregate(
            members=mart.count(),
            revenue=mart.total_spend.sum(),
            clv=mart.clv.sum(),
            alive=mart.p_alive.mean(),
        ).to_pyarrow()
        t = totals.to_pylist()[0]
        revenue, clv = money(t["revenue"], cur), money(t["clv"] or 0, cur)
        if zh:
            headline = (
                f"截至 {run.as_of}：有购买的会员 {t['members']:,} 人，累计销售额 {revenue}，"
                f"平均{column_label('p_alive', lang)} {t['alive'] or 0:.0%}，"
                f"未来 12 个月预计价值合计 {clv}"
            )
        else:
            headline = (
                f"as of {run.as_of}: {t['members']:,} buying members, revenue {revenue}, "
                f"average {column_label('p_alive', lang).lower()} {t['alive'] or 0:.0%}, "
                f"expected value in the next 12 months {clv}"
            )
        say("\n[bold]{}[/]", headline)
        seg = con.table("mart_segments")
        rows = seg.filter(seg.scheme == "cn8").order_by(seg.revenue.desc()).to_pyarrow()
        grid = Table(
            column_label("segment", lang),
            column_label("members", lang),
            column_label("revenue_share", lang),
            column_label("avg_clv", lang) + f" ({cur})",
            title=column_label("segment_cn8", lang) if zh else "RFM segments (cn8)",
        )
        for r in rows.to_pylist():
            grid.add_row(
                segment_label("cn8", r["segment"], lang) or r["segment_zh"],
                f"{r['members']:,}",
                f"{r['revenue_share']:.1%}",
                "" if r["avg_clv"] is None else money(r["avg_clv"], cur),
            )
        console.print(grid)
        for term in ("cn8", "p_alive", "clv"):
            console.print("  " + gloss(term, lang), soft_wrap=False)
    finally:
        con.disconnect()
    for step in run.steps:
        if step.status != "ok":
            say("[yellow]{}: {}[/] {}", step.step, step.status, step.message)
