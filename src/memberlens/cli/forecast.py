"""Weekly sales forecast: ``memberlens forecast`` and ``memberlens forecast backtest``."""

from __future__ import annotations

from pathlib import Path

import typer

from memberlens.cli._app import app, state
from memberlens.cli._output import emit_json, progress_steps

forecast_app = typer.Typer(
    help="Weekly sales forecast (销售预测): revenue or paid orders for the next weeks, overall "
    "or per category, with yearly seasonality and the festivals of the project's locale (zh: "
    "春节, 38, 618, 国庆, 双11, 双12; others: none unless listed), kept only if the back-test "
    "supports them. Run without a command to forecast; `backtest` says how good it is.",
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
        return weekly_sales(warehouse, level=level, as_of=as_of or proj.as_of)


def _calendar(project: Path | None, festivals: str | None) -> tuple[str, ...]:
    """The festival names to try: --festivals, else [forecast] festivals, else by locale."""
    from memberlens.forecast import festivals_for_locale
    from memberlens.project import Project

    proj = Project.load(project)
    names = dict(proj.settings.get("forecast", {})).get("festivals")
    if festivals is not None:
        names = [] if festivals.strip() in ("", "none") else festivals.split(",")
        names = [n.strip() for n in names]
    return festivals_for_locale(proj.locale, names)


def _festivals_of(weeks, names) -> list[str]:
    from memberlens.forecast import FESTIVALS, festival_regressors

    if not names:
        return ["" for _ in weeks]
    exposure = festival_regressors(weeks, names).to_numpy() > 0
    label_of = {f.name: f.label_zh for f in FESTIVALS}
    labels = [label_of[name] for name in names]
    return [" ".join(label for label, hit in zip(labels, row) if hit) for row in exposure]


def _export(frame, path: Path) -> None:
    from memberlens.exports import write_frame

    write_frame(frame, path)  # formula cells quoted, file 0600


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
        help='Print the forecast, the festival calendar used ("festivals": name, dates, '
        "estimated effect, kept or dropped), the festival effects (total level) and the notes "
        "as JSON.",
    ),
    festivals: str | None = typer.Option(
        None,
        "--festivals",
        help="Festival names to try, comma-separated (e.g. double11,day_618), or 'none'. "
        "Default: [forecast] festivals of memberlens.toml, else the Chinese calendar for a "
        "zh locale and none otherwise. A calendar is kept only if the back-test supports it.",
    ),
) -> None:
    """Forecast weekly sales: yhat with a 90% interval for each of the next weeks."""
    if ctx.invoked_subcommand is not None:
        return
    from memberlens.forecast import SalesForecaster, choose_calendar, festival_table, forecast_level

    level = _choice("level", level, ("total", "category"))
    metric = _choice("metric", metric, ("revenue", "orders"))
    candidates = _calendar(project, festivals)
    with progress_steps("forecast", quiet=state.quiet or as_json) as step:
        step("weekly sales")
        weekly = _weekly(project, level, as_of)
        total = weekly if level == "total" else _weekly(project, "total", as_of)
        step("festival calendar (back-test with and without)")
        base = SalesForecaster(metric=metric)
        calendar = choose_calendar(total, candidates, forecaster=base)
        step("fitting")
        result = forecast_level(
            weekly,
            metric=metric,
            horizon=horizon,
            forecaster=base.set_params(festivals=calendar.kept),
        )
    frame = result.forecast
    if export is not None:
        _export(frame, export)
    if as_json:
        payload = result.to_dict()
        payload["as_of"] = weekly.attrs["as_of"]
        payload["level"] = level
        effects = result.models[None].festival_effects() if None in result.models else None
        if effects is not None:
            payload["festival_effects"] = effects.to_dict(orient="records")
        weeks = list(total["week"]) + list(frame["week"])
        payload["festivals"] = festival_table(
            calendar.candidates,
            weeks,
            kept=calendar.kept,
            effects=calendar.effects if calendar.effects is not None else effects,
            evidence=calendar.evidence,
        )
        payload["notes"] = [calendar.note, *payload["notes"]]
        emit_json(payload)
        return
    import pandas as pd
    from rich.table import Table

    from memberlens.cli._output import console

    unit = "CNY" if metric == "revenue" else "orders"
    weeks_shown = frame["week"].drop_duplicates()
    festivals_shown = dict(zip(weeks_shown, _festivals_of(weeks_shown, calendar.kept)))
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
            festivals_shown.get(row.week, ""),
        )
    console.print(grid)
    if not state.quiet:
        for note in [calendar.note, *result.notes]:
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
