"""Churn and purchase propensity: ``memberlens churn train|score|report``.

``--target propensity --category all`` (or a category name) trains, scores and reports the
per-category purchase propensity (P(buy the category in the next 30 days))."""

from __future__ import annotations

from pathlib import Path

import typer

from memberlens.cli._app import app, state
from memberlens.cli._output import emit_json, progress_steps

churn_app = typer.Typer(
    help="Churn and purchase propensity (流失与购买倾向): train, score, report.",
    no_args_is_help=True,
)
app.add_typer(churn_app, name="churn")

_PROJECT = typer.Option(
    None,
    "--project",
    "-p",
    help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
)
_TARGET = typer.Option(
    "churn",
    "--target",
    help="churn (no purchase in the horizon) or "
    "propensity (a purchase in the next 30 days; 'purchase' is the same).",
)
_CATEGORY = typer.Option(
    None,
    "--category",
    help="With --target propensity: 'all' (the top "
    "categories, one pooled model) or one category name (按品类购买倾向).",
)


def _target(value: str, category: str | None = None) -> tuple[str, str]:
    """(library target, category): churn, purchase, or category with 'all' / a name."""
    from memberlens.churn import ALL_CATEGORIES
    from memberlens.exceptions import ConfigError

    if value not in ("churn", "purchase", "propensity"):
        raise ConfigError(f"--target: must be 'churn' or 'propensity' ('purchase'), got {value!r}")
    if category is None:
        return ("churn" if value == "churn" else "purchase"), ALL_CATEGORIES
    if value == "churn":
        raise ConfigError(
            "--category: per-category models predict purchases; pass "
            "--target propensity with --category"
        )
    if not category.strip():
        raise ConfigError("--category: pass 'all' or a category name, got an empty value")
    return "category", category


def _metrics_table(report, title: str):
    from rich.table import Table

    grid = Table(
        "category", "model", "AUC", "PR-AUC", "Brier", "top-decile lift", "positive", title=title
    )
    for m in report.metrics:
        grid.add_row(
            m.category or "all",
            m.model,
            f"{m.auc:.3f}",
            f"{m.pr_auc:.3f}",
            f"{m.brier:.4f}",
            f"{m.top_decile_lift:.2f}",
            f"{m.positive_rate:.3f}",
        )
    return grid


def _lift_table(report):
    from rich.table import Table

    lift = report.lift
    if "category" in lift.columns:  # per-category target: the pooled rows
        lift = lift[lift["category"] == "all"]
    grid = Table(
        "decile",
        "members",
        "positives",
        "rate",
        "lift",
        "capture",
        title="LightGBM (calibrated) by decile, highest scores first",
    )
    for row in lift.itertuples(index=False):
        grid.add_row(
            str(row.decile),
            f"{row.members:,}",
            f"{row.positives:,}",
            f"{row.rate:.3f}",
            f"{row.lift:.2f}",
            f"{row.capture_rate:.3f}",
        )
    return grid


@churn_app.command()
def train(
    project: Path | None = _PROJECT,
    cutoff: str | None = typer.Option(
        None,
        "--cutoff",
        help="Train with what is known on "
        "this day, YYYY-MM-DD (default: project as_of or the "
        "last purchase day).",
    ),
    horizon_days: int | None = typer.Option(
        None,
        "--horizon-days",
        help="Churn = no "
        "purchase in this many days (default: 80th "
        "percentile of gaps between purchase days).",
    ),
    target: str = _TARGET,
    category: str | None = _CATEGORY,
    top_categories: int = typer.Option(
        5,
        "--top-categories",
        min=1,
        help="With --category all: how many categories (most buyers in the last year).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Back-test on a time split, then fit LightGBM on all known labels and save it."""
    from memberlens.churn.training import train_project
    from memberlens.cli._output import console
    from memberlens.project import Project

    kind, which = _target(target, category)
    with progress_steps("churn train", quiet=state.quiet or as_json) as step:
        step("features, labels, back-test and final fit")
        result = train_project(
            Project.load(project),
            cutoff=cutoff,
            horizon_days=horizon_days,
            target=kind,
            category=which,
            top=top_categories,
        )
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(
        f"saved {result.target} model to {result.model_dir} (cutoff {result.cutoff}, "
        f"horizon {result.horizon_days} days, {result.n_train:,} training rows)"
    )
    if result.categories:
        console.print("categories: " + ", ".join(result.categories))
    console.print(_metrics_table(result.backtest, f"back-test at {result.backtest.test_cutoff}"))


@churn_app.command()
def score(
    project: Path | None = _PROJECT,
    as_of: str | None = typer.Option(
        None, "--as-of", help="Score as of this day (default: the model's cutoff)."
    ),
    target: str = _TARGET,
    category: str | None = _CATEGORY,
    export: Path | None = typer.Option(
        None, "--export", help="Also write the scores to this .xlsx, .csv or .parquet file."
    ),
    top: int = typer.Option(20, "--top", help="Rows to print (all rows go to --export)."),
    as_json: bool = typer.Option(False, "--json", help="Print all scores as JSON."),
) -> None:
    """Score every member with the saved model: probability and top reasons (EN + 中文)."""
    from rich.table import Table

    from memberlens.churn.training import score_project
    from memberlens.cli._output import console
    from memberlens.exceptions import ConfigError
    from memberlens.project import Project

    kind, which = _target(target, category)
    with progress_steps("churn score", quiet=state.quiet or as_json) as step:
        step("scoring in batches")
        scores = score_project(Project.load(project), target=kind, as_of=as_of, category=which)
    if export is not None:
        if export.suffix.lower() == ".xlsx" and len(scores) > 1_048_575:
            raise ConfigError(
                f"--export: {len(scores):,} rows do not fit in one Excel "
                "sheet (1,048,575 max); export to .csv or .parquet"
            )
        from memberlens.exports import write_frame

        write_frame(scores, export)  # formula cells quoted, file 0600
    if as_json:
        emit_json(scores.to_dict(orient="records"))
        return
    column = "churn_probability" if kind == "churn" else "purchase_probability"
    keys = ["member_id", "category"] if kind == "category" else ["member_id"]
    grid = Table(
        *keys, column, "reason 1", "原因 1", title=f"{len(scores):,} rows, highest {column} first"
    )
    for row in scores.head(top).itertuples(index=False):
        grid.add_row(
            *(str(getattr(row, k)) for k in keys),
            f"{getattr(row, column):.3f}",
            row.reason_1_en,
            row.reason_1_zh,
        )
    console.print(grid)
    if export is not None:
        console.print(f"wrote {len(scores):,} rows to {export}")


@churn_app.command()
def report(
    project: Path | None = _PROJECT,
    target: str = _TARGET,
    category: str | None = _CATEGORY,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """The saved model's back-test: AUC, PR-AUC, Brier, lift and capture by decile."""
    from memberlens.churn.training import report_project
    from memberlens.cli._output import console
    from memberlens.project import Project

    kind, which = _target(target, category)
    result = report_project(Project.load(project), target=kind, category=which)
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(
        f"{result.target}: horizon {result.horizon_days} days; trained at "
        f"{result.train_cutoff} ({result.n_train:,} rows), calibrated at "
        f"{result.calibration_cutoff}, tested at {result.test_cutoff}"
    )
    console.print(_metrics_table(result, "time-split back-test"))
    console.print(_lift_table(result))
