"""Weekly revenue and orders forecast with its back-test."""

from __future__ import annotations

import textwrap
from pathlib import Path

from memberlens.pipeline.step import RunContext, Step, StepResult


def _forecast(ctx: RunContext) -> StepResult:
    """Weekly revenue and orders forecast (total and per category, all orders including
    guests') with its back-test against seasonal-naive (docs/forecast.md)."""
    from memberlens.exceptions import MemberlensError
    from memberlens.forecast import forecast_mart

    rows_in = int(ctx.orders.count().execute())
    settings = ctx.settings("forecast")
    try:
        result = forecast_mart(
            ctx.orders,
            ctx.table("order_items"),
            ctx.table("products"),
            as_of=ctx.as_of,
            backtest_origins=8,
            locale=ctx.project.locale,
            festivals=settings.get("festivals"),
            max_categories=int(settings.get("max_categories", 20)),
            min_category_weeks=int(settings.get("min_category_weeks", 26)),
            cache=Path(ctx.project.state_dir) / "models" / "forecast-run",
        )
    except MemberlensError as exc:  # e.g. fewer than 12 full weeks of sales
        return StepResult(status="degraded", message=str(exc), rows_in=rows_in)
    fallback = any(model != "forecast" for model in result.models.values())
    return StepResult(
        status="degraded" if fallback else "ok",
        message=textwrap.shorten("; ".join(result.notes), width=500, placeholder=" …"),
        rows_in=rows_in,
        rows_out=len(result.forecast),
        models={"forecast": {"festivals": list(result.festivals), "models": result.models}},
        marts={"mart_forecast": result.forecast, "mart_forecast_backtest": result.backtest},
    )


FORECAST = Step(
    name="forecast",
    title=(
        "weekly revenue and orders 13 weeks ahead, overall and per category (26+ weeks of "
        "sales, top 20), festivals of the project's locale kept if the back-test supports them, "
        "the total level's back-test (8 origins) against seasonal-naive (which replaces a "
        "worse model); all orders, guests included"
    ),
    section="forecast",
    run=_forecast,
    optional=("order_items", "products"),
    writes=("mart_forecast", "mart_forecast_backtest"),
)
