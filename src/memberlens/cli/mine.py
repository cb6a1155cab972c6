"""Mining commands: ``memberlens clusters`` (member clusters with profiles) and
``memberlens replenishment`` (next purchase per member and category)."""

from __future__ import annotations

from pathlib import Path

import typer

from memberlens.cli._app import app, state
from memberlens.cli._output import emit_json, progress_steps


@app.command()
def clusters(
    project: Path | None = typer.Option(
        None,
        "--project",
        "-p",
        help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
    ),
    method: str = typer.Option("kmeans", "--method", help="kmeans, ward or hdbscan."),
    k: str = typer.Option(
        "auto",
        "--k",
        help="Number of clusters, or 'auto' (2..8 by silhouette and bootstrap stability).",
    ),
    sample_size: int = typer.Option(
        200_000,
        "--sample-size",
        help="Fit on at most this many members; everyone is then assigned to a cluster.",
    ),
    seed: int = typer.Option(0, "--seed", help="Random state (sample, k-means starts)."),
    as_json: bool = typer.Option(False, "--json", help="Print the profiles as JSON."),
) -> None:
    """Cluster the members of mart_members (built by `memberlens run`) and profile each
    cluster in English and Chinese."""
    from memberlens.engine import connect
    from memberlens.exceptions import ConfigError, MissingTableError
    from memberlens.segmentation.clusters import cluster_members

    if k != "auto" and not k.isdigit():
        raise ConfigError(f"--k: must be 'auto' or a whole number >= 2, got {k!r}")
    with progress_steps("clusters", quiet=state.quiet or as_json) as step:
        step("reading mart_members")
        con = connect(project, read_only=True)
        if "mart_members" not in con.list_tables():
            raise MissingTableError("mart_members: not built yet; run `memberlens run` first")
        step(f"clustering ({method})")
        result = cluster_members(
            con.table("mart_members"),
            method=method,
            k="auto" if k == "auto" else int(k),
            sample_size=sample_size,
            random_state=seed,
        )
    if as_json:
        emit_json(result.to_dict())
        return
    from rich.table import Table

    from memberlens.cli._output import console

    table = Table(title=f"{result.k} clusters ({method}) on {', '.join(result.columns)}")
    for column in ("cluster", "members", "share", "name", "名称", "description"):
        table.add_column(
            column, justify="right" if column in ("cluster", "members", "share") else "left"
        )
    for row in result.profiles.itertuples(index=False):
        table.add_row(
            str(row.cluster),
            f"{row.size:,}",
            f"{row.share:.1%}",
            row.name_en,
            row.name_zh,
            row.description_en,
        )
    console.print(table)


@app.command()
def replenishment(
    project: Path | None = typer.Option(
        None,
        "--project",
        "-p",
        help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
    ),
    window_days: int = typer.Option(
        30, "--window-days", help="P(buy within this many days after the as-of date)."
    ),
    level: str = typer.Option("category", "--level", help="category or product_id."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="YYYY-MM-DD (default: the day of the last order)."
    ),
    export: Path | None = typer.Option(
        None, "--export", help="Also write the predictions to this .xlsx or .csv file."
    ),
    backtest: bool = typer.Option(
        False,
        "--backtest",
        help="Back-test instead: fit on orders "
        "up to --cutoff, check the window after it (AUC, Brier, "
        "calibration, error in days against the category-only "
        "baseline).",
    ),
    cutoff: str | None = typer.Option(
        None,
        "--cutoff",
        help="With --backtest: YYYY-MM-DD (default: the last order day minus the window).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Next purchase date and P(buy within the window) per member and category, from each
    member's own intervals shrunk toward the category's (--backtest: how good it is)."""
    from memberlens.behavior.replenishment import next_purchases
    from memberlens.engine import connect
    from memberlens.exceptions import ConfigError

    if cutoff is not None and not backtest:
        raise ConfigError("--cutoff: only used with --backtest; pass --as-of to predict")
    with progress_steps("replenishment", quiet=state.quiet or as_json) as step:
        step("reading orders")
        con = connect(project, read_only=True)
        orders = con.table("orders")
        if backtest:
            step("back-test")
            _replenishment_backtest(
                con, cutoff=cutoff, level=level, window_days=window_days, as_json=as_json
            )
            return
        day = as_of or orders.ordered_at.max().execute()
        step("fitting")
        result = next_purchases(
            orders,
            con.table("order_items"),
            con.table("products"),
            as_of=day,
            level=level,
            window_days=window_days,
        )
    if export is not None:
        from memberlens.exports import write_frame

        write_frame(result.predictions, export)  # formula cells quoted, file 0600
    if as_json:
        emit_json(
            {
                **result.to_dict(),
                "predictions": result.predictions.head(1000).to_dict(orient="records"),
            }
        )
        return
    from rich.table import Table

    from memberlens.cli._output import console

    table = Table(
        title=f"Cycles per {level} (as of {result.as_of.date()}, window {window_days} days)"
    )
    for column in (level, "members", "cycle (days)", "prior strength", "due in window"):
        table.add_column(column, justify="left" if column == level else "right")
    due = result.predictions.groupby(level)["p_within_window"].sum()
    for row in result.keys.sort_values("members", ascending=False).head(30).itertuples():
        key = getattr(row, level)
        table.add_row(
            str(key),
            f"{row.members:,}",
            f"{row.cycle_days:.0f}",
            f"{row.kappa:.1f}",
            f"{due.get(key, 0.0):.0f}",
        )
    console.print(table)


def _replenishment_backtest(con, *, cutoff, level: str, window_days: int, as_json: bool) -> None:
    """``replenishment --backtest``: the report as JSON or two Rich tables."""
    import pandas as pd

    from memberlens.behavior.replenishment import backtest_replenishment

    orders = con.table("orders")
    if cutoff is None:
        paid = orders.filter((orders.status == "paid") & orders.member_id.notnull())
        last = pd.Timestamp(paid.ordered_at.max().execute()).normalize()
        cutoff = (last - pd.Timedelta(days=window_days)).date().isoformat()
    report = backtest_replenishment(
        orders,
        con.table("order_items"),
        con.table("products"),
        cutoff=cutoff,
        level=level,
        window_days=window_days,
    )
    if as_json:
        emit_json(report.to_dict())
        return
    from rich.table import Table

    from memberlens.cli._output import console

    summary = Table(
        "measure",
        "value",
        title=f"Replenishment back-test per {level}: fitted up "
        f"to {report.cutoff.date()}, checked over the next {window_days} days",
    )
    for name, value in (
        ("member x key pairs scored", f"{report.pairs:,}"),
        ("AUC (bought within the window)", f"{report.auc:.3f}"),
        ("Brier score", f"{report.brier:.4f}"),
        (
            "mean predicted / observed rate",
            f"{report.mean_predicted:.3f} / {report.observed_rate:.3f}",
        ),
        (
            f"median error of next date, days ({report.repeat_pairs:,} pairs bought again)",
            f"{report.median_abs_error_days:.0f}",
        ),
        (f"same, {level}-only baseline", f"{report.baseline_median_abs_error_days:.0f}"),
    ):
        summary.add_row(name, value)
    calibration = Table(
        "bin",
        "pairs",
        "mean predicted",
        "observed rate",
        title="Calibration by tenths of the predicted probability",
    )
    for row in report.calibration.itertuples(index=False):
        calibration.add_row(
            str(row.bin), f"{row.pairs:,}", f"{row.mean_predicted:.3f}", f"{row.observed_rate:.3f}"
        )
    console.print(summary)
    console.print(calibration)
