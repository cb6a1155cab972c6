"""Weekly sales forecast: revenue and orders, overall and per category (``docs/forecast.md``).

>>> from memberlens.forecast import SalesForecaster, weekly_sales    # doctest: +SKIP
>>> series = weekly_sales(con, level="total", as_of="2025-12-28")    # doctest: +SKIP
>>> SalesForecaster(metric="revenue").fit(series).predict(13)        # doctest: +SKIP
"""

from memberlens.forecast.backtest import (
    BacktestResult,
    backtest_forecast,
    mape,
    naive_forecast,
    seasonal_naive_forecast,
    smape,
)
from memberlens.forecast.calendar import (
    CalendarChoice,
    choose_calendar,
    festival_table,
    festivals_for_locale,
)
from memberlens.forecast.design import design_matrix, fourier_terms
from memberlens.forecast.festivals import (
    DEFAULT_FESTIVALS,
    FESTIVALS,
    SPRING_FESTIVAL,
    Festival,
    festival_dates,
    festival_regressors,
)
from memberlens.forecast.mart import (
    BACKTEST_MART_COLUMNS,
    FORECAST_MART_COLUMNS,
    ForecastMart,
    forecast_mart,
)
from memberlens.forecast.model import FORECAST_COLUMNS, SalesForecaster
from memberlens.forecast.sales import SalesForecast, backtest_level, forecast_level
from memberlens.forecast.series import SERIES_COLUMNS, weekly_sales

__all__ = [
    "BACKTEST_MART_COLUMNS",
    "DEFAULT_FESTIVALS",
    "FESTIVALS",
    "FORECAST_COLUMNS",
    "FORECAST_MART_COLUMNS",
    "SERIES_COLUMNS",
    "SPRING_FESTIVAL",
    "BacktestResult",
    "CalendarChoice",
    "Festival",
    "ForecastMart",
    "SalesForecast",
    "SalesForecaster",
    "backtest_forecast",
    "backtest_level",
    "choose_calendar",
    "design_matrix",
    "festival_dates",
    "festival_regressors",
    "festival_table",
    "festivals_for_locale",
    "forecast_level",
    "forecast_mart",
    "fourier_terms",
    "mape",
    "naive_forecast",
    "seasonal_naive_forecast",
    "smape",
    "weekly_sales",
]
