"""Weekly sales forecast: ``memberlens forecast`` and ``memberlens forecast backtest``."""

from __future__ import annotations

from pathlib import Path

import typer

from memberlens.cli._app import app, state
from memberlens.cli._output import emit_json, progress_steps

forecast_app = typer.Typer(
    help="Weekly sales forecast (销售预测): revenue or paid orders for the next weeks, overall "
    "or per category, with yearly seasonality and the shopping festivals (春节, 38, 618, "
    "国庆, 双11, 双12). Run without a command to forecast; `backtest` says how good it is.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(forecast_app, name="forecast")

_PROJECT = typer.Option(
    None,
    "--project",
    "-p",
    help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
)
_LEVEL = typer.Option(
    "total",
    "--level",
    help="total (the whole shop) or category (one "
    "series per product category; needs order_items and products).",
)
_METRIC = typer.Option("revenue", "--metric", help="revenue (paid amount) or orders (paid orders).")
_AS_OF = typer.Option(
    None,
    "--as-of",
    help="Use data up to this day, YYYY-MM-DD (default: the "
    "project's as_of, else the last day with a paid order). A week cut by "
    "it is dropped.",
)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    from memberlens.exceptions import ConfigError

    if value not in allowed:
        raise ConfigError(f"--{name}: must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _weekly(project: Path | None, level: str, as_of: str | None):
    """Weekly sales of the project's warehouse (the warehouse is closed before returning)."""
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.forecast import weekly_sales
    from memberlens.project import Project

    proj = Project.load(project)
    with open_warehouse(proj, read_only=True) as warehouse:
        return weekly_sales(warehouse.con, level=level, as_of=as_of or proj.as_of)


def _festivals_of(weeks) -> list[str]:
    from memberlens.forecast import FESTIVALS, festival_regressors

    exposure = festival_regressors(weeks).to_numpy() > 0
    labels = [f.label_zh for f in FESTIVALS]
    return [" ".join(label for label, hit in zip(labels, row) if hit) for row in exposure]


def _export(frame, path: Path) -> None:
    from memberlens.exceptions import ConfigError

    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8-sig")
    elif suffix == ".xlsx":
        frame.to_excel(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise ConfigError(f"--export: unknown file type {suffix!r}; use .csv, .xlsx or .parquet")


@forecast_app.callback(invoke_without_command=True)
def forecast(
    ctx: typer.Context,
    project: Path | None = _PROJECT,
    horizon: int = typer.Option(13, "--horizon", min=1, max=104, help="Weeks to forecast."),
    level: str = _LEVEL,
    metric: str = _METRIC,
    as_of: str | None = _AS_OF,
    export: Path | None = typer.Option(
        None, "--export", help="Also write the forecast to this .csv, .xlsx or .parquet file."
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print the forecast, the festival effects (total level) and the notes as JSON.",
    ),
) -> None:
    """Forecast weekly sales: yhat with a 90% interval for each of the next weeks."""
    if ctx.invoked_subcommand is not None:
        return
    from memberlens.forecast import forecast_level

    level = _choice("level", level, ("total", "category"))
    metric = _choice("metric", metric, ("revenue", "orders"))
    with progress_steps("forecast", quiet=state.quiet or as_json) as step:
        step("weekly sales")
        weekly = _weekly(project, level, as_of)
        step("fitting")
        result = forecast_level(weekly, metric=metric, horizon=horizon)
    frame = result.forecast
    if export is not None:
        _export(frame, export)
    if as_json:
        payload = result.to_dict()
        payload["as_of"] = weekly.attrs["as_of"]
        payload["level"] = level
        if None in result.models:
            payload["festival_effects"] = (
                result.models[None].festival_effects().to_dict(orient="records")
            )
        emit_json(payload)
        return
    import pandas as pd
    from rich.table import Table

    from memberlens.cli._output import console

    unit = "CNY" if metric == "revenue" else "orders"
    festivals = dict(
        zip(frame["week"].drop_duplicates(), _festivals_of(frame["week"].drop_duplicates()))
    )
    grid = Table(
        "category",
        "week",
        f"forecast ({unit})",
        "90% low",
        "90% high",
        "festivals",
        title=f"{metric} forecast, {horizon} weeks after {result.last_week} (weeks Monday-Sunday)",
    )
    for row in frame.itertuples(index=False):
        grid.add_row(
            "total" if pd.isna(row.category) else str(row.category),
            row.week.date().isoformat(),
            f"{row.yhat:,.0f}",
            f"{row.yhat_lower:,.0f}",
            f"{row.yhat_upper:,.0f}",
            festivals.get(row.week, ""),
        )
    console.print(grid)
    if not state.quiet:
        for note in result.notes:
            console.print(f"note: {note}")
        if export is not None:
            console.print(f"wrote {len(frame):,} rows to {export}")


@forecast_app.command(
    help="Back-test the forecast: MAPE and sMAPE 1, 4, 8 and 13 weeks ahead, "
    "refitted at each origin, against the seasonal-naive (same week last "
    "year) and naive (last week) baselines."
)
def backtest(
    project: Path | None = _PROJECT,
    level: str = _LEVEL,
    metric: str = _METRIC,
    as_of: str | None = _AS_OF,
    origins: int = typer.Option(
        13,
        "--origins",
        min=1,
        help="Forecast origins, every 4 weeks back from the latest that leaves 13 weeks to test.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the back-test as JSON."),
) -> None:
    from memberlens.forecast import backtest_level

    level = _choice("level", level, ("total", "category"))
    metric = _choice("metric", metric, ("revenue", "orders"))
    with progress_steps("forecast backtest", quiet=state.quiet or as_json) as step:
        step("weekly sales")
        weekly = _weekly(project, level, as_of)
        step("refitting at each origin")
        summary, notes = backtest_level(weekly, metric=metric, origins=origins)
    notes = list(weekly.attrs.get("notes", [])) + notes
    if as_json:
        emit_json(
            {
                "as_of": weekly.attrs["as_of"],
                "level": level,
                "metric": metric,
                "notes": notes,
                "summary": summary.to_dict(orient="records"),
            }
        )
        return
    import pandas as pd
    from rich.table import Table

    from memberlens.cli._output import console

    for category, part in summary.groupby("category", dropna=False, sort=True):
        name = "total" if pd.isna(category) else str(category)
        grid = Table(
            "model",
            "horizon (weeks)",
            "MAPE %",
            "sMAPE %",
            "in 90% interval",
            "forecasts",
            title=f"{name} {metric}: back-test over {int(part['origins'].iloc[0])} origins",
        )
        for row in part.itertuples(index=False):
            covered = "" if pd.isna(row.coverage) else f"{row.coverage:.0%}"
            grid.add_row(
                row.model,
                str(row.horizon),
                f"{row.mape:.1f}",
                f"{row.smape:.1f}",
                covered,
                str(row.n),
            )
        console.print(grid)
    if not state.quiet:
        for note in notes:
            console.print(f"note: {note}")
