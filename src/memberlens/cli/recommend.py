"""Recommendations: ``memberlens recommend for MEMBER_ID...`` and ``memberlens recommend
evaluate``."""

from __future__ import annotations

from pathlib import Path

import typer

from memberlens.cli._app import app, state
from memberlens.cli._output import emit_json, progress_steps

recommend_app = typer.Typer(
    help="Recommendations (个性化推荐): top items per member with "
    "reasons, and a time-split evaluation.",
    no_args_is_help=True,
)
app.add_typer(recommend_app, name="recommend")

_PROJECT = typer.Option(
    None,
    "--project",
    "-p",
    help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
)
_KINDS = ("als", "item_knn", "popular", "hybrid")


def _kind(value: str | None) -> str | None:
    from memberlens.exceptions import ConfigError

    if value is not None and value not in _KINDS:
        raise ConfigError(f"--kind: must be one of {', '.join(_KINDS)}, got {value!r}")
    return value


def _positive(name: str, value: int) -> int:
    from memberlens.exceptions import ConfigError

    if value < 1:
        raise ConfigError(f"{name}: must be a positive integer, got {value}")
    return value


@recommend_app.command("for")
def for_members(
    member_ids: list[str] = typer.Argument(
        ..., metavar="MEMBER_ID...", help="One or more member ids."
    ),
    k: int = typer.Option(10, "--k", help="Items per member."),
    kind: str | None = typer.Option(
        None,
        "--kind",
        help="als, item_knn, popular or hybrid "
        "(default: the recommendations mart of `memberlens "
        "run`, else hybrid fitted now).",
    ),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Fit on what was known on this "
        "day, YYYY-MM-DD (default: project as_of or the last "
        "order day).",
    ),
    project: Path | None = _PROJECT,
    as_json: bool = typer.Option(False, "--json", help="Print the recommendations as JSON."),
) -> None:
    """Top-k products for members, with the reason for each (English and 中文)."""
    from memberlens.project import Project
    from memberlens.recommend.projects import recommend_for_project

    with progress_steps("recommend", quiet=state.quiet or as_json) as step:
        step("scoring")
        recs = recommend_for_project(
            Project.load(project), member_ids, k=_positive("--k", k), kind=_kind(kind), as_of=as_of
        )
    if as_json:
        emit_json(recs.to_dict(orient="records"))
        return
    from rich.table import Table

    from memberlens.cli._output import console

    grid = Table(title=f"top {k} for {len(member_ids)} member(s)")
    grid.add_column("member_id", no_wrap=True)
    grid.add_column("#", justify="right")
    grid.add_column("product")
    grid.add_column("category")
    grid.add_column("reason / 原因")
    grid.add_column("source", no_wrap=True)
    for row in recs.itertuples(index=False):
        grid.add_row(
            str(row.member_id),
            str(row.rank),
            f"{row.product_name} ({row.product_id})",
            str(row.category or ""),
            f"{row.reason_en}\n{row.reason_zh}",
            row.source,
        )
    console.print(grid)


@recommend_app.command()
def evaluate(
    cutoff: str | None = typer.Option(
        None,
        "--cutoff",
        help="Train up to this day, test on "
        "purchases after it, YYYY-MM-DD (default: 90 days "
        "before the last order day).",
    ),
    k: int = typer.Option(10, "--k", help="Length of each member's list."),
    horizon_days: int | None = typer.Option(
        None,
        "--horizon-days",
        help="Test on this many days after the cutoff (default: to the end).",
    ),
    project: Path | None = _PROJECT,
    as_json: bool = typer.Option(False, "--json", help="Print the evaluation as JSON."),
) -> None:
    """Time-split evaluation: precision, recall, NDCG, hit rate and coverage at k for ALS,
    item kNN and hybrid against the popularity baseline."""
    from memberlens.project import Project
    from memberlens.recommend.projects import evaluate_project

    with progress_steps("recommend evaluate", quiet=state.quiet or as_json) as step:
        step("fitting and scoring every kind")
        result = evaluate_project(
            Project.load(project), cutoff=cutoff, k=_positive("--k", k), horizon_days=horizon_days
        )
    if as_json:
        emit_json(result.to_dict())
        return
    from rich.table import Table

    from memberlens.cli._output import console

    grid = Table(
        "kind",
        f"precision@{k}",
        f"recall@{k}",
        f"NDCG@{k}",
        "hit rate",
        "coverage",
        title=f"trained up to {result.cutoff}, tested on purchases after it up to "
        f"{result.end}: {result.n_members:,} members ({result.n_cold_members:,} "
        "new buyers left out)",
    )
    for s in result.scores:
        grid.add_row(
            s.kind,
            f"{s.precision:.4f}",
            f"{s.recall:.4f}",
            f"{s.ndcg:.4f}",
            f"{s.hit_rate:.4f}",
            f"{s.coverage:.3f}",
        )
    console.print(grid)
