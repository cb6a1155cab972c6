"""Project and data commands: ``init``, ``ingest``, ``status``, ``quarantine``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer
from rich.table import Table

from memberlens.cli._app import app, state
from memberlens.cli._output import (
    command,
    console,
    emit_json,
    hint,
    progress_steps,
    say,
    shorten,
    step_warnings,
)

ProjectOpt = typer.Option(
    None,
    "--project",
    "-p",
    help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
)


@app.command()
def init(
    directory: Path = typer.Argument(..., help="Folder of the new project (created if needed)."),
    engine: str = typer.Option("duckdb", help="duckdb (embedded) or pyspark."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Analysis date YYYY-MM-DD (default: the last day in the data)."
    ),
    currency: str | None = typer.Option(
        None,
        help="Currency code used in reports (default: from the countries of the first load, "
        "else CNY).",
    ),
    locale: str | None = typer.Option(
        None, help="zh-CN or en (default: from the countries of the first load, else zh-CN)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing memberlens.toml."),
) -> None:
    """Create a project: memberlens.toml, the warehouse location and a private key for PII."""
    from memberlens.exceptions import ConfigError
    from memberlens.project import init_project

    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise ConfigError(f"--as-of {as_of!r} is not a date; write YYYY-MM-DD") from None
    project = init_project(
        directory, engine=engine, as_of=day, currency=currency, locale=locale, force=force
    )
    if not state.quiet:
        from memberlens.ingest.regional import regional_summary

        say(
            "created [bold]{}[/]  (engine {}, warehouse {}, locale {})",
            project.file,
            project.engine,
            project.warehouse.name,
            project.locale,
        )
        regional = regional_summary(project)
        say(
            "currency {}, locale {}, time zone {}: {}; to choose them yourself, {}",
            regional["currency"],
            regional["locale"],
            regional["timezone"],
            regional["source"],
            regional["change"],
        )
        hint("next", command("ingest", "orders", "FILE", project=directory))


@app.command()
def ingest(
    table: str = typer.Argument(
        ...,
        help="Canonical table: members, orders, order_items, "
        "products, events, interactions, campaigns, campaign_members, "
        "coupons, redemptions, identities.",
    ),
    source: str = typer.Argument(
        ...,
        help="CSV/TSV, .xlsx, .parquet, .jsonl, or a SQLAlchemy URL (with --sql-table or --query).",
    ),
    mapping: Path | None = typer.Option(
        None,
        "--mapping",
        "-m",
        help="Column mapping file (TOML); default: automatic from header names.",
    ),
    project: Path | None = ProjectOpt,
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Show the mapping and the first rows as they would be stored; store nothing.",
    ),
    write_mapping: Path | None = typer.Option(
        None, "--write-mapping", help="Save the mapping used to this file for editing."
    ),
    sql_table: str | None = typer.Option(
        None, "--sql-table", help="Table to read from a database URL."
    ),
    query: str | None = typer.Option(
        None, "--query", help="SQL query to read from a database URL."
    ),
    sheet: str | None = typer.Option(
        None, "--sheet", help="Excel sheet name (default: the first)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the load report as JSON."),
    reload: bool = typer.Option(
        False,
        "--reload",
        help="Replace what this file's earlier load stored and quarantined (e.g. after fixing "
        "the mapping), in one transaction.",
    ),
) -> None:
    """Load one source file into a canonical table: map, check, quarantine, store atomically."""
    from memberlens.ingest import load, preview

    if dry_run:
        pv = preview(
            table,
            source,
            mapping=mapping,
            project=_project_or_none(project),
            sql_table=sql_table,
            query=query,
            allow_missing=write_mapping is not None,
        )
        if write_mapping:
            write_mapping.write_text(pv.mapping.to_toml(pv.missing), encoding="utf-8")
        if pv.missing:
            from memberlens.exceptions import MappingError

            raise MappingError(
                f"{pv.source}: no column for required field(s) {', '.join(pv.missing)} of "
                f"{table!r}; the mapping is written to {write_mapping}: write your column's "
                f"name for each (remove the leading #), then pass --mapping {write_mapping}"
            )
        if as_json:
            emit_json(
                {
                    "table": table,
                    "source": pv.source,
                    "encoding": pv.encoding,
                    "mapping": pv.mapping.columns,
                    "unused": list(pv.mapping.unused),
                    "rows": pv.rows.to_pylist(),
                }
            )
            return
        _print_mapping(pv)
        if write_mapping:
            say("mapping written to [bold]{}[/]; edit it, then load with:", write_mapping)
            hint(
                "next",
                command("ingest", table, source, "--mapping", write_mapping, project=project),
            )
        return
    with progress_steps(f"ingest {table}", quiet=state.quiet or as_json) as step:
        report = load(
            table,
            source,
            mapping=mapping,
            project=project,
            sql_table=sql_table,
            query=query,
            sheet=sheet,
            progress=step,
            reload=reload,
        )
    if write_mapping:
        from memberlens.ingest import Mapping

        write_mapping.write_text(Mapping(table, report.mapping).to_toml(), encoding="utf-8")
    if as_json:
        emit_json(report.to_dict())
        return
    if report.already_loaded:
        console.print(
            f"{report.source} was loaded before (load {report.load_id}); nothing stored again"
        )
        again = ["--mapping", mapping] if mapping else []
        hint(
            "to replace that load (after fixing the mapping)",
            command("ingest", table, source, *again, "--reload", project=project),
        )
        return
    say(
        "[bold]{}[/]: read {}, stored [green]{}[/], quarantined [red]{}[/], duplicates dropped {}"
        "  (load {})",
        table,
        f"{report.rows_read:,}",
        f"{report.rows_stored:,}",
        f"{report.rows_quarantined:,}",
        f"{report.duplicates_dropped:,}",
        report.load_id,
    )
    if report.replaces:
        console.print(f"  replaced load(s) {', '.join(report.replaces)}", markup=False)
    for rule, n in report.by_rule.items():
        console.print(f"  {rule:<18} {n:>10,}")
    for other, n in report.derived.items():
        console.print(f"  derived {other}: {n:,} rows")
    if report.anonymous_rows:
        console.print(f"  anonymous lines (no member id, kept as sales): {report.anonymous_rows:,}")
    if report.duplicates_dropped and report.duplicates_amount:
        console.print(f"  amount on the dropped duplicate lines: {report.duplicates_amount:,.2f}")
    for fname, n in report.rounded.items():
        console.print(f"  {fname}: {n:,} values had more than 2 decimals and were rounded")
    for note in report.notes:
        console.print(f"  note: {note}", markup=False)
    if report.rows_quarantined:
        hint("see them with", command("quarantine", table, project=project))


def _project_or_none(project: Path | None):
    from memberlens.exceptions import ConfigError
    from memberlens.project import Project

    try:
        return Project.load(project)
    except ConfigError:
        return None


def _print_mapping(pv) -> None:
    console.print(f"source {pv.source}" + (f" (encoding {pv.encoding})" if pv.encoding else ""))
    grid = Table("canonical field", "your column", title=f"proposed mapping for {pv.table}")
    for k, v in pv.mapping.columns.items():
        grid.add_row(k, v)
    console.print(grid)
    if pv.mapping.unused:
        console.print(f"not loaded: {', '.join(pv.mapping.unused)}")
    rows = Table(*pv.rows.column_names, title="first rows as they would be stored")
    for r in pv.rows.to_pylist():
        rows.add_row(*["" if v is None else str(v) for v in r.values()])
    console.print(rows)


@app.command()
def status(
    project: Path | None = ProjectOpt,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Rows stored, quarantined by rule, duplicates, date range and last load per table; run log."""
    from memberlens.ingest.regional import regional_summary
    from memberlens.ingest.status import warehouse_status
    from memberlens.project import Project

    st = warehouse_status(project)
    regional = regional_summary(Project.load(project))
    if as_json:
        from memberlens.pipeline.runs import last_run

        emit_json({**st.to_dict(), "regional": regional, "last_run": last_run(project)})
        return
    source = str(regional["source"])
    console.print(
        source
        if source.startswith("currency")  # the note names them already
        else f"currency {regional['currency']}, locale {regional['locale']}, time zone "
        f"{regional['timezone']}: {source}",
        markup=False,
    )
    grid = Table(
        "table",
        "read",
        "stored",
        "quarantined",
        "duplicates",
        "anonymous",
        "from",
        "to",
        "last load",
        title=f"warehouse {st.warehouse}",
    )
    for t in st.tables:
        grid.add_row(
            t.table,
            f"{t.rows_read:,}",
            f"{t.rows_stored:,}" + (f" ({t.derived_rows:,} derived)" if t.derived_rows else ""),
            f"{t.rows_quarantined:,}",
            f"{t.duplicates_dropped:,}",
            f"{t.anonymous_rows:,}",
            (t.first_at or "")[:10],
            (t.last_at or "")[:10],
            (t.last_load or "")[:19],
        )
    console.print(grid)
    for t in st.tables:
        if t.quarantined_by_rule:
            rules = ", ".join(f"{k} {v:,}" for k, v in sorted(t.quarantined_by_rule.items()))
            console.print(f"  {t.table} quarantined by rule: {rules}")
    for warning in st.warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False)
    log = Table(
        "finished",
        "table",
        "source",
        "read",
        "stored",
        "quarantined",
        "dups",
        title="load log (newest first)",
    )
    for r in st.loads[:20]:
        log.add_row(
            str(r["finished_at"])[:19],
            r["table_name"],
            Path(r["source"]).name,
            f"{r['rows_read']:,}",
            f"{r['rows_stored']:,}",
            f"{r['rows_quarantined']:,}",
            f"{r['duplicates_dropped']:,}",
        )
    console.print(log)
    _print_runs(project)


def _print_runs(project) -> None:
    from memberlens.pipeline.runs import last_run

    steps = last_run(project)
    if not steps:
        return
    grid = Table(
        "step",
        "status",
        "seconds",
        "rows in",
        "rows out",
        "peak MiB",
        "note",
        title=f"last run {steps[0]['run_id']} as of {steps[0]['as_of']} "
        f"(finished {str(steps[-1]['finished_at'])[:19]})",
    )
    for r in steps:
        peak = r.get("peak_memory")
        grid.add_row(
            r["step"],
            r["status"],
            "" if r.get("seconds") is None else f"{r['seconds']:.2f}",
            f"{r['rows_in'] or 0:,}",
            f"{r['rows_out'] or 0:,}",
            f"{peak / 2**20:,.0f}" if peak else "",
            shorten(str(r["message"] or ""), 120),
        )
    console.print(grid)
    for warning in step_warnings(steps):
        console.print(warning, style="yellow", markup=False)


@app.command()
def quarantine(
    table: str = typer.Argument(..., help="Canonical table whose rejected rows to list."),
    project: Path | None = ProjectOpt,
    rule: str | None = typer.Option(None, help="Only this rule (e.g. bad_date)."),
    limit: int = typer.Option(50, help="Rows to show (export writes all)."),
    export: Path | None = typer.Option(
        None, "--export", help="Write all rejected rows to a .csv, .xlsx or .parquet file."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Rejected rows with source file, line number, field, rule and reason."""
    from memberlens.ingest.status import quarantine_rows

    rows = quarantine_rows(table, project, rule=rule, limit=None if export else limit)
    if export:
        _export(rows, export)
        console.print(f"wrote {rows.num_rows:,} rows to {export}")
        return
    if as_json:
        emit_json(rows.to_pylist())
        return
    grid = Table(
        "source",
        "line",
        "field",
        "rule",
        "reason",
        title=f"quarantine of {table} ({rows.num_rows:,} shown)",
    )
    for r in rows.to_pylist():
        grid.add_row(
            Path(r["source"]).name, str(r["line"]), r["field"] or "", r["rule"], r["reason"] or ""
        )
    console.print(grid)


def _export(rows, path: Path) -> None:
    """Write ``rows`` with the one safe export writer (formula cells quoted, file 0600)."""
    from memberlens.exports import write_export

    k = write_export(rows, path).k_anonymity
    if k.k is not None:
        console.print(f"k-anonymity over ({', '.join(k.columns)}): smallest group {k.k:,} rows")


__all__ = ["ingest", "init", "json", "quarantine", "status"]
