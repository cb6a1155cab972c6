"""Weekly revenue and orders forecast with its back-test."""

from __future__ import annotations

from memberlens.pipeline.step import RunContext, Step, StepResult


def _forecast(ctx: RunContext) -> StepResult:
    """Weekly revenue and orders forecast (total and per category, all orders including
    guests') with its back-test against seasonal-naive (docs/forecast.md)."""
    from memberlens.exceptions import MemberlensError
    from memberlens.forecast import forecast_mart

    rows_in = int(ctx.orders.count().execute())
    try:
        result = forecast_mart(
            ctx.orders,
            ctx.table("order_items"),
            ctx.table("products"),
            as_of=ctx.as_of,
            backtest_origins=8,
        )
    except MemberlensError as exc:  # e.g. fewer than 12 full weeks of sales
        return StepResult(status="degraded", message=str(exc), rows_in=rows_in)
    return StepResult(
        message="; ".join(result.notes)[:500],
        rows_in=rows_in,
        rows_out=len(result.forecast),
        marts={"mart_forecast": result.forecast, "mart_forecast_backtest": result.backtest},
    )


FORECAST = Step(
    name="forecast",
    title=(
        "weekly revenue and orders 13 weeks ahead, overall and per category, with the total "
        "level's back-test (8 origins) against seasonal-naive; all orders, guests included"
    ),
    run=_forecast,
    optional=("order_items", "products"),
    writes=("mart_forecast", "mart_forecast_backtest"),
)
