"""``memberlens members``: the member list of the last ``run``, readable in a terminal."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.cells import cell_len
from rich.table import Table

from memberlens.cli._app import app
from memberlens.cli._output import command, console, emit_json, hint

#: what the terminal table shows, most important first; columns drop off the end to fit.
SHOWN = (
    "member_id",
    "segment_cn8",
    "clv",
    "p_alive",
    "total_spend",
    "frequency",
    "days_since_last",
    "value_tier",
    "lifecycle_stage",
)


@app.command()
def members(
    project: Path | None = typer.Option(None, "--project", "-p", help="Project folder."),
    segment: str | None = typer.Option(
        None, help="Segment key, e.g. important_value or champions."
    ),
    scheme: str = typer.Option(
        "cn8",
        help="Segment scheme: cn8 (8 classes), rfm11 (11 "
        "segments), rf_grid, or one from the project file.",
    ),
    tier: str | None = typer.Option(
        None, help="Value tier: high_value, medium_value, low_value, potential_value, churn_risk."
    ),
    stage: str | None = typer.Option(
        None, help="Lifecycle stage: new, active, loyal, declining, dormant, churned, won_back."
    ),
    order_by: str = typer.Option("clv", "--order-by", help="Sort column, largest first."),
    limit: int = typer.Option(20, help="Rows to show (export writes all)."),
    export: Path | None = typer.Option(
        None, "--export", help="Write the list to .xlsx, .csv or .parquet."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List members with their scores, segment, tier and stage (from the last `run`)."""
    from memberlens.cli.data import _export
    from memberlens.marts.members import member_page
    from memberlens.project import Project

    page = member_page(
        project,
        segment=segment,
        scheme=scheme,
        tier=tier,
        stage=stage,
        order_by=order_by,
        limit=None if export else limit,
    )
    if export:
        _export(page.rows, export)
        console.print(f"wrote {page.rows.num_rows:,} members to {export}")
        return
    if as_json:
        emit_json(page.rows.to_pylist())
        return
    proj = Project.load(project)
    grid, hidden = _fitting_table(page, proj.locale, proj.currency, scheme)
    console.print(grid)
    if hidden:
        console.print(
            ("未显示的列：" if proj.locale == "zh-CN" else "not shown at this width: ")
            + ", ".join(hidden)
        )
    if page.total > page.rows.num_rows:
        hint(
            "all of them" if proj.locale != "zh-CN" else "全部导出",
            command(
                "members",
                *_filters(segment, scheme, tier, stage),
                "--export",
                "members.xlsx",
                project=project,
            ),
        )


def _filters(segment, scheme, tier, stage) -> list[str]:
    out = []
    if segment is not None:
        out += ["--segment", segment, "--scheme", scheme]
    if tier is not None:
        out += ["--tier", tier]
    if stage is not None:
        out += ["--stage", stage]
    return out


def _cell(column: str, value, locale: str, currency: str, scheme: str) -> str:
    from memberlens.marts import money, segment_label, stage_label, tier_label

    if value is None:
        return ""
    if column in ("clv", "total_spend"):
        return money(value, currency)
    if column == "p_alive":
        return f"{value:.0%}"
    if column.startswith("segment_"):
        return segment_label(column.removeprefix("segment_"), value, locale)
    if column == "value_tier":
        return tier_label(value, locale)
    if column == "lifecycle_stage":
        return stage_label(value, locale)
    if isinstance(value, float):
        return f"{value:,.0f}" if column == "days_since_last" else f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _fitting_table(page, locale: str, currency: str, scheme: str) -> tuple[Table, list[str]]:
    """The widest table (most columns of :data:`SHOWN`) that fits the console, and the
    labels of the columns left out."""
    from memberlens.marts import column_label

    zh = locale == "zh-CN"
    shown = [c for c in SHOWN if c in page.rows.column_names]
    n = page.rows.num_rows
    title = (
        (f"会员 {n:,} / {page.total:,} 人" if zh else f"{n:,} of {page.total:,} members")
        if page.total > n
        else (f"会员 {n:,} 人" if zh else f"{n:,} members")
    )
    records = page.rows.select(shown).to_pylist()
    cells = {c: [_cell(c, r[c], locale, currency, scheme) for r in records] for c in shown}
    # a column is as wide as its widest value and the longest word of its header (headers wrap)
    need = {
        c: max(
            [cell_len(w) for w in column_label(c, locale).split()] + [cell_len(v) for v in cells[c]]
        )
        for c in shown
    }
    k = len(shown)
    while k > 2 and sum(need[c] + 3 for c in shown[:k]) + 1 > console.width:
        k -= 1
    cols = shown[:k]
    grid = Table(title=title)
    for c in cols:
        right = c not in ("member_id", "segment_cn8", "value_tier", "lifecycle_stage")
        grid.add_column(
            column_label(c, locale), justify="right" if right else "left", width=need[c]
        )
    for i in range(len(records)):
        grid.add_row(*(cells[c][i] for c in cols))
    return grid, [column_label(c, locale) for c in shown[len(cols) :]]
