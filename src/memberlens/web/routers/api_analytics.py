"""JSON API of the aggregate pages: overview KPIs, segments, cohorts, value (with the back-test),
geography, baskets.

Results are cached as encoded JSON per parameters and warehouse version (the back-test per
``memberlens run``). A cache hit is answered on the event loop without a worker thread or a
warehouse connection, so cached pages stay fast while look-ups keep the workers busy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from memberlens.exceptions import ConfigError, ConvergenceError, DataError
from memberlens.web.auth import Principal, require
from memberlens.web.context import WebContext, ctx, encode_json
from memberlens.web.errors import NotFound
from memberlens.web.queries import marts
from memberlens.web.queries.geography import geography
from memberlens.web.queries.overview import Period, PurchaseDays, data_end, overview, purchase_days
from memberlens.web.queries.value import (
    backtest_report,
    default_split,
    model_comparison,
    value,
)

router = APIRouter(prefix="/api", tags=["analytics"])
MAX_RANGE_DAYS = 3660
_JSON = {200: {"content": {"application/json": {"schema": {"type": "object"}}}}}
_START = Query(None, description="First day (default: end - 29 days).")
_END = Query(
    None, description="Last day (default: the project's as-of date, else the last order day)."
)


def _data_end(c: WebContext) -> dt.date:
    def compute() -> dt.date:
        with c.warehouse() as wh:
            return data_end(wh.table("orders")) or dt.date.today()

    return c.project.as_of or c.cached(("data_end",), compute)


def _plausible(**dates: dt.date | None) -> None:
    """Refuse dates far outside any shop's history before computing with them (a range or the
    periods before it would leave the calendar)."""
    for name, day in dates.items():
        if day is not None and not 1900 <= day.year <= 2999:
            raise ConfigError(f"{name}: {day} is outside 1900-2999; pass a date of the orders")


def period(
    c: WebContext, start: dt.date | None, end: dt.date | None, last: dt.date | None = None
) -> Period:
    """The chosen range; default: the 30 days up to the project's as-of (or the last order)."""
    _plausible(start=start, end=end)
    if end is None:
        end = last or _data_end(c)
    if start is None:
        start = end - dt.timedelta(days=29)
    if start > end:
        raise NotFound(f"start: {start} is after end {end}; pass start <= end")
    if (end - start).days > MAX_RANGE_DAYS:
        start = end - dt.timedelta(days=MAX_RANGE_DAYS)
    return Period(start, end)


async def _answer(c: WebContext, key: tuple | None, compute: Callable[[], bytes]) -> Response:
    """The cached JSON of ``key`` at once, else ``compute()`` in a worker thread."""
    hit = c.peek(key) if key is not None else None
    if hit is None:
        hit = await run_in_threadpool(compute)
    return Response(hit, media_type="application/json")


def _known_end(c: WebContext, end: dt.date | None) -> dt.date | None:
    """The range's end if known without a query (given, configured or cached)."""
    return end or c.project.as_of or c.peek(("data_end",))


# -- overview ---------------------------------------------------------------------------------
def purchases_of(c: WebContext) -> PurchaseDays:
    """The paid purchases as member-day arrays, read once per warehouse version."""

    def compute() -> PurchaseDays:
        with c.warehouse(heavy=True) as wh:
            members = wh.table("members") if wh.has("members") else None
            return purchase_days(wh.table("orders"), members)

    return c.cached(("purchase_days",), compute, heavy=True)


def overview_json(c: WebContext, start: dt.date | None, end: dt.date | None, grain: str) -> bytes:
    p = period(c, start, end)
    return c.cached(
        ("overview", p, grain), lambda: encode_json(overview(purchases_of(c), p, grain).to_dict())
    )


def warm(c: WebContext) -> None:
    """Compute the default overview and the back-test ahead of the first visitor."""
    for job in (
        lambda: overview_json(c, None, None, "day"),
        lambda: backtest_json(c, None, None, "bgnbd"),
    ):
        if c.stopping:  # the app is shutting down
            return
        try:
            job()
        except Exception:
            pass


@router.get(
    "/overview",
    summary="KPIs and trends for a date range, with the previous period",
    response_class=Response,
    responses=_JSON,
)
async def api_overview(
    request: Request,
    start: dt.date | None = _START,
    end: dt.date | None = _END,
    grain: Literal["day", "week", "month"] = Query("day", description="Trend buckets."),
    _=require("view_kpis"),
) -> Response:
    c = ctx(request)
    last = _known_end(c, end)
    key = ("overview", period(c, start, end, last), grain) if last else None
    return await _answer(c, key, lambda: overview_json(c, start, end, grain))


# -- marts ------------------------------------------------------------------------------------
def _mart_json(c: WebContext, key: tuple, fn, **kw) -> bytes:
    def compute() -> bytes:
        with c.warehouse(heavy=True) as wh:
            return encode_json(fn(wh, **kw))

    return c.cached(key, compute)


async def _mart(request: Request, name: str, fn, **kw) -> Response:
    c = ctx(request)
    key = (name, tuple(sorted(kw.items())))
    return await _answer(c, key, lambda: _mart_json(c, key, fn, **kw))


@router.get(
    "/segments",
    summary="RFM segments of both schemes, value tiers, lifecycle stages",
    response_class=Response,
    responses=_JSON,
)
async def api_segments(request: Request, _=require("view_kpis")) -> Response:
    return await _mart(request, "segments", marts.segments)


@router.get(
    "/cohorts",
    summary="Retention and revenue by first-purchase cohort and period",
    response_class=Response,
    responses=_JSON,
)
async def api_cohorts(request: Request, _=require("view_kpis")) -> Response:
    return await _mart(request, "cohorts", marts.cohorts)


@router.get(
    "/value",
    summary="CLV and P(alive) distributions, churn risk, next purchases (member lists only for "
    "roles that may view members)",
    response_class=Response,
    responses=_JSON,
)
async def api_value(
    request: Request,
    bins: int = Query(20, ge=2, le=100),
    top: int = Query(50, ge=1, le=500),
    who: Principal = require("view_kpis"),
) -> Response:
    """Member-level lists (churn risk, likely buyers) only for callers who may see members."""
    rows = who.can("view_members")
    return await _mart(request, "value", value, bins=bins, top=top, member_rows=rows)


@router.get(
    "/value/models",
    summary="The purchase models fitted by the last run (BG/NBD, MBG/NBD, Pareto/NBD, "
    "MBG/CNBD-k): holdout MAE or AIC, degenerate fits, the one chosen",
    response_class=Response,
    responses=_JSON,
)
async def api_value_models(request: Request, _=require("view_kpis")) -> Response:
    return await _mart(request, "value_models", model_comparison)


@router.get(
    "/baskets",
    summary="Association rules (filters: minimum lift and confidence)",
    response_class=Response,
    responses=_JSON,
)
async def api_baskets(
    request: Request,
    min_lift: float = Query(1.0, ge=0, le=1e6),
    min_confidence: float = Query(0.0, ge=0, le=1),
    limit: int = Query(100, ge=1, le=1000),
    _=require("view_kpis"),
) -> Response:
    return await _mart(
        request,
        "baskets",
        marts.baskets,
        min_lift=min_lift,
        min_confidence=min_confidence,
        limit=limit,
    )


# -- geography --------------------------------------------------------------------------------
def geography_json(c: WebContext, start: dt.date | None, end: dt.date | None) -> bytes:
    p = period(c, start, end)

    def compute() -> bytes:
        with c.warehouse(heavy=True) as wh:
            return encode_json(geography(wh, p))

    return c.cached(("geography", p), compute)


@router.get(
    "/geography",
    summary="Members, revenue and growth by province and by country",
    response_class=Response,
    responses=_JSON,
)
async def api_geography(
    request: Request,
    start: dt.date | None = _START,
    end: dt.date | None = _END,
    _=require("view_kpis"),
) -> Response:
    c = ctx(request)
    last = _known_end(c, end)
    key = ("geography", period(c, start, end, last)) if last else None
    return await _answer(c, key, lambda: geography_json(c, start, end))


# -- back-test --------------------------------------------------------------------------------
def backtest_json(
    c: WebContext, calibration_end: dt.date | None, holdout_end: dt.date | None, model: str
) -> bytes:
    def split() -> tuple[dt.date, dt.date]:
        with c.warehouse() as wh:
            o = wh.table("orders")
            first = o.ordered_at.min().execute()
        return default_split(first.date(), _data_end(c))

    _plausible(calibration_end=calibration_end, holdout_end=holdout_end)
    cal, hold = calibration_end, holdout_end
    if cal is None or hold is None:
        default_cal, default_hold = c.cached(("backtest_split",), split)
        hold = hold or default_hold
        cal = cal or (default_cal if hold == default_hold else hold - (default_hold - default_cal))
    if cal >= hold:
        raise ConfigError(
            f"calibration_end: {cal} must be before holdout_end {hold}; pass an "
            "earlier calibration_end"
        )

    def compute() -> bytes:
        # mostly a model fit in numpy (seconds to minutes at a million members): it holds a
        # connection slot, not the one slot of whole-table aggregates, so pages keep loading
        with c.warehouse() as wh:
            try:
                report = backtest_report(
                    wh.table("orders"), calibration_end=cal, holdout_end=hold, model=model
                )
            except (DataError, ConvergenceError) as exc:  # the data, not the request: kept,
                report = {
                    "available": False,
                    "error": type(exc).__name__,  # so the fit is
                    "detail": str(exc),
                    "model": model,  # not retried on every visit
                    "calibration_end": cal.isoformat(),
                    "holdout_end": hold.isoformat(),
                }
            return encode_json(report)

    return c.cached(("backtest", cal, hold, model), compute, version=c.run_key())


@router.get(
    "/value/backtest",
    summary="Back-test of the purchase model: tracking plot and conditional "
    "expectations on a calibration / holdout split",
    response_class=Response,
    responses=_JSON,
)
async def api_backtest(
    request: Request,
    calibration_end: dt.date | None = Query(
        None,
        description="Last calibration day (default: "
        "26 weeks before holdout_end, or a third of the "
        "history when it is shorter than 78 weeks).",
    ),
    holdout_end: dt.date | None = Query(
        None, description="Last holdout day (default: the as-of date)."
    ),
    model: Literal["bgnbd", "mbgnbd", "pnbd", "mbgcnbd"] = Query(
        "bgnbd", description="Purchase model (the value page asks for the one the run chose)."
    ),
    _=require("view_kpis"),
) -> Response:
    c = ctx(request)
    return await _answer(c, None, lambda: backtest_json(c, calibration_end, holdout_end, model))
