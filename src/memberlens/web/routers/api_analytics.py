"""JSON API of the aggregate pages: overview KPIs, segments, cohorts, value, geography, baskets."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Query, Request

from memberlens.web.auth import require
from memberlens.web.context import ctx
from memberlens.web.errors import NotFound
from memberlens.web.queries import marts
from memberlens.web.queries.overview import DailyCounts, Period, daily_counts, data_end, overview

router = APIRouter(prefix="/api", tags=["analytics"])
MAX_RANGE_DAYS = 3660


def period(request: Request, start: dt.date | None, end: dt.date | None) -> Period:
    """The chosen range; default: the 30 days up to the project's as-of (or the last order)."""
    c = ctx(request)
    if end is None:
        end = c.project.as_of or c.cached(("data_end",), lambda: _data_end(request))
    if start is None:
        start = end - dt.timedelta(days=29)
    if start > end:
        raise NotFound(f"start: {start} is after end {end}; pass start <= end")
    if (end - start).days > MAX_RANGE_DAYS:
        start = end - dt.timedelta(days=MAX_RANGE_DAYS)
    return Period(start, end)


def _data_end(request: Request) -> dt.date:
    with ctx(request).warehouse() as wh:
        return data_end(wh.table("orders")) or dt.date.today()


def warm(c) -> None:
    """Compute the default overview ahead of the first visitor (``memberlens serve``)."""
    from types import SimpleNamespace

    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(ctx=c)))
    try:
        _overview(request, None, None, "day")
    except Exception:  # noqa: BLE001 - a warm-up never stops the server; requests report errors
        pass


@router.get("/overview", summary="KPIs and trends for a date range, with the previous period")
def api_overview(
    request: Request,
    start: dt.date | None = Query(None, description="First day (default: end - 29 days)."),
    end: dt.date | None = Query(None, description="Last day (default: the project's as-of "
                                "date, else the last order day)."),
    grain: Literal["day", "week", "month"] = Query("day", description="Trend buckets."),
    _=require("view_kpis"),
) -> dict:
    return _overview(request, start, end, grain)


def _overview(request, start: dt.date | None, end: dt.date | None, grain: str) -> dict:
    c = ctx(request)
    p = period(request, start, end)

    def counts() -> DailyCounts:
        with c.warehouse(heavy=True) as wh:
            members = wh.table("members") if wh.has("members") else None
            return daily_counts(wh.table("orders"), members)

    def compute() -> dict:
        daily = c.cached(("daily_counts",), counts)
        with c.warehouse(heavy=True) as wh:
            return overview(wh.table("orders"), daily, p, grain).to_dict()

    return c.cached(("overview", p, grain), compute)


def _mart(request: Request, name: str, fn, **kw) -> dict:
    c = ctx(request)

    def compute() -> dict:
        with c.warehouse(heavy=True) as wh:
            return fn(wh, **kw)

    return c.cached((name, tuple(sorted(kw.items()))), compute)


@router.get("/segments", summary="RFM segments of both schemes, value tiers, lifecycle stages")
def api_segments(request: Request, _=require("view_kpis")) -> dict:
    return _mart(request, "segments", marts.segments)


@router.get("/cohorts", summary="Retention and revenue by first-purchase cohort and period")
def api_cohorts(request: Request, _=require("view_kpis")) -> dict:
    return _mart(request, "cohorts", marts.cohorts)


@router.get("/value", summary="CLV and P(alive) distributions and the churn-risk list")
def api_value(request: Request, bins: int = Query(20, ge=2, le=100),
              top: int = Query(50, ge=1, le=500), _=require("view_kpis")) -> dict:
    return _mart(request, "value", marts.value, bins=bins, top=top)


@router.get("/geography", summary="Members and revenue by province and by country")
def api_geography(request: Request, _=require("view_kpis")) -> dict:
    return _mart(request, "geography", marts.geography)


@router.get("/baskets", summary="Association rules (filters: minimum lift and confidence)")
def api_baskets(request: Request, min_lift: float = Query(1.0, ge=0, le=1e6),
                min_confidence: float = Query(0.0, ge=0, le=1),
                limit: int = Query(100, ge=1, le=1000), _=require("view_kpis")) -> dict:
    return _mart(request, "baskets", marts.baskets, min_lift=min_lift,
                 min_confidence=min_confidence, limit=limit)
