"""JSON API of the Campaigns and Experiments pages: the campaign list, one campaign's report
(arms, comparisons with intervals, segments, SRM, economics) and its exports, the uplift
evaluation of a campaign and its top targets, the experiment calculator, the programme ROI
calculator and the ``[costs]`` settings.

Marketers, analysts and admins read (``view_campaigns``); only analysts and admins change the
cost settings (``manage_costs``). Every figure comes from the same functions as the CLI
(``memberlens campaign report``, ``experiment plan``, ``experiment roi``, ``uplift report``,
``uplift targets [--rescore]``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path as FilePath
from typing import Any, Literal, cast

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from memberlens.exceptions import ConfigError, MissingTableError
from memberlens.experiments.campaigns import no_nan
from memberlens.web.auth import Principal, client_ip, require
from memberlens.web.context import ctx
from memberlens.web.queries.members import jsonable
from memberlens.web.store import audit

router = APIRouter(prefix="/api", tags=["campaigns"])
_ID = Path(..., min_length=1, max_length=128, description="The campaign's campaign_id.")
By = Literal[
    "channel",
    "province",
    "city",
    "gender",
    "age_band",
    "segment",
    "cn8",
    "tier",
    "cluster",
    "lifecycle",
]
ReportResponse = Literal["auto", "click", "open", "open_or_click", "visit", "order"]
_TABLES = ("campaigns", "campaign_members", "orders")


def _missing(request: Request) -> str | None:
    """The first campaign table the warehouse lacks (None when all are loaded)."""
    c = ctx(request)
    if not c.project.warehouse.exists():
        return "orders"
    with c.warehouse() as wh:
        return next((t for t in _TABLES if not wh.has(t)), None)


@router.get("/campaigns", summary="Campaigns with their members and control-group sizes")
def api_campaigns(request: Request, _=require("view_campaigns")) -> dict:
    from memberlens.experiments.projects import campaign_list_project

    missing = _missing(request)
    if missing:
        return {"available": False, "missing": missing, "campaigns": []}
    rows = campaign_list_project(ctx(request).project)
    return {"available": True, "campaigns": jsonable(rows)}


def _report(
    request: Request,
    campaign_id: str,
    by: str | None,
    response: str | None,
    alpha: float | None,
    control_share: float | None,
) -> Any:
    from memberlens.experiments.projects import campaign_report_project

    missing = _missing(request)
    if missing:
        raise MissingTableError(
            f"campaign reports need the {missing} table; load it with "
            f"`memberlens ingest {missing} FILE`"
        )
    return campaign_report_project(
        ctx(request).project,
        campaign_id,
        by=by,
        response=cast(Any, response),
        alpha=alpha,
        planned_control_share=control_share,
    )


_BY = Query(None, description="Also per segment: a member attribute or a mart scheme.")
_RESPONSE = Query(None, description="What counts as a response (default: [campaigns] response).")
_ALPHA = Query(None, gt=0.0, lt=0.5, description="1 - confidence level of the intervals.")
_SHARE = Query(None, gt=0.0, lt=1.0, description="Planned control share: checks the split (SRM).")


@router.get(
    "/campaigns/{campaign_id}",
    summary="One campaign's report: arms, comparisons with CIs and p-values, segments, SRM, ROI",
)
def api_campaign(
    request: Request,
    campaign_id: str = _ID,
    by: By | None = _BY,
    response: ReportResponse | None = _RESPONSE,
    alpha: float | None = _ALPHA,
    control_share: float | None = _SHARE,
    _=require("view_campaigns"),
) -> dict:
    report = _report(request, campaign_id, by, response, alpha, control_share)
    out: dict = report.to_dict()
    return out


_MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}


@router.get(
    "/campaigns/{campaign_id}/export",
    summary="The campaign's report as an Excel workbook or one self-contained HTML file",
    response_class=Response,
    responses={200: {"content": {m.split(";")[0]: {} for m in _MEDIA.values()}}},
)
def api_campaign_export(
    request: Request,
    campaign_id: str = _ID,
    format: Literal["xlsx", "html"] = Query("xlsx"),
    by: By | None = _BY,
    response: ReportResponse | None = _RESPONSE,
    alpha: float | None = _ALPHA,
    control_share: float | None = _SHARE,
    who: Principal = require("view_campaigns"),
) -> Response:
    from memberlens.experiments.export import write_report

    report = _report(request, campaign_id, by, response, alpha, control_share)
    with tempfile.TemporaryDirectory() as folder:
        path = write_report(report, FilePath(folder) / f"report.{format}")
        body = path.read_bytes()
    with ctx(request).store() as db:
        audit(
            db,
            "export",
            username=who.username,
            target=f"campaign {campaign_id}",
            detail={"format": format, "by": by},
            ip=client_ip(request),
        )
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in campaign_id)
    return Response(
        body,
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="campaign-{safe}.{format}"'},
    )


@router.get(
    "/campaigns/{campaign_id}/uplift",
    summary="The campaign's uplift models on held-out members: Qini and uplift curves, deciles",
)
def api_campaign_uplift(
    request: Request, campaign_id: str = _ID, _=require("view_campaigns")
) -> dict:
    from memberlens.experiments.uplift_project import uplift_report_project

    try:
        (found,) = uplift_report_project(ctx(request).project, campaign_id)
    except MissingTableError as exc:
        return {"available": False, "campaign_id": campaign_id, "missing": str(exc)}
    return {"available": True, **found}


_TOP = Query(100, ge=1, le=10_000, description="Members to list.")
_RANK = Query("uplift", description="Rank by predicted uplift or by expected incremental profit.")
_RESCORE = Query(
    False,
    description="Score every member now with the campaign's saved uplift model (no refit; "
    "features as of the project's as-of date or the last order day) instead of reading "
    "mart_uplift_scores, as `memberlens uplift targets --rescore` does. 404 with the command "
    "to run when the campaign has no saved model.",
)


@router.get(
    "/campaigns/{campaign_id}/uplift/targets",
    summary="The members with the highest expected incremental response (or profit)",
)
def api_campaign_uplift_targets(
    request: Request,
    campaign_id: str = _ID,
    top: int = _TOP,
    by: Literal["uplift", "profit"] = _RANK,
    rescore: bool = _RESCORE,
    _=require("view_campaigns"),
) -> dict:
    from memberlens.experiments.uplift_project import uplift_targets_project

    frame = uplift_targets_project(
        ctx(request).project, campaign_id, top=top, by=by, rescore=rescore
    )
    return {
        "campaign_id": campaign_id,
        "by": by,
        "rescored": rescore,
        "targets": jsonable(frame.to_dict(orient="records")),
    }


# -- calculators --------------------------------------------------------------------------------
@router.get("/experiments/plan", summary="Members per arm and days to detect a lift of a rate")
def api_experiment_plan(
    baseline: float = Query(..., gt=0.0, lt=1.0, description="Control's rate, e.g. 0.03."),
    mde: float = Query(..., gt=0.0, le=10.0, description="Relative lift to detect: 0.1 = 10 %."),
    power: float = Query(0.8, gt=0.0, lt=1.0),
    alpha: float = Query(0.05, gt=0.0, lt=1.0),
    daily: int | None = Query(None, ge=1, le=10**9, description="Members entering per day."),
    _=require("view_campaigns"),
) -> dict:
    from memberlens.experiments.planning import sample_size_for_rate

    try:
        plan = sample_size_for_rate(
            baseline=baseline, mde=mde, power=power, alpha=alpha, daily=daily
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return plan.to_dict()


class ProgrammeIn(BaseModel):
    """The programme ROI calculator's inputs (see ``memberlens experiment roi --help``)."""

    members: int = Field(..., ge=1, le=10**10)
    message_cost: float = Field(..., ge=0)
    baseline_rate: float = Field(..., ge=0, le=1)
    lift: float = Field(..., ge=-1, le=1)
    aov: float = Field(..., ge=0)
    margin: float = Field(..., ge=0, le=1)
    coupon_cost: float = Field(0.0, ge=0)
    campaigns_per_year: int = Field(12, ge=1, le=366)
    target_share: float = Field(0.3, gt=0, le=1)
    captured_share: float = Field(0.6, ge=0, le=1)
    baseline_ratio: float = Field(1.0, ge=0, le=100)
    model_cost: float = Field(0.0, ge=0)
    staff_cost: float = Field(0.0, ge=0)


@router.post(
    "/experiments/roi",
    summary="Return and break-even of a targeted programme against blanket sends",
)
def api_programme_roi(body: ProgrammeIn, _=require("view_campaigns")) -> dict:
    from memberlens.experiments.programme import ProgrammeInputs, programme_roi

    try:
        result = programme_roi(ProgrammeInputs(**body.model_dump()))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    out: dict = no_nan(result.to_dict())
    return out


class CostsIn(BaseModel):
    #: cost of one message by channel, e.g. {"sms": 0.05, "email": 0.001}
    message: dict[str, float] = Field(default_factory=dict, max_length=50)
    #: cost of one coupon order (None: the orders' own discount)
    coupon: float | None = Field(None, ge=0)
    #: product margin as a share of revenue (None: ROI stays blank, with the reason)
    margin: float | None = Field(None, ge=0, le=1)


def _costs(request: Request, who: Principal) -> dict:
    from memberlens.experiments.cost_settings import project_costs

    costs = project_costs(ctx(request).project)
    return {
        "message": costs.message,
        "coupon": costs.coupon,
        "margin": costs.margin,
        "can_edit": who.can("manage_costs"),
    }


@router.get("/experiments/costs", summary="The [costs] settings (message, coupon, margin)")
def api_costs(request: Request, who: Principal = require("view_campaigns")) -> dict:
    return _costs(request, who)


@router.put("/experiments/costs", summary="Change the [costs] settings (analysts and admins)")
def api_costs_update(
    request: Request, body: CostsIn, who: Principal = require("manage_costs")
) -> dict:
    from memberlens.experiments.cost_settings import write_costs
    from memberlens.project import Project

    c = ctx(request)
    costs = write_costs(
        c.project.file, message=body.message, coupon=body.coupon, margin=body.margin
    )
    c.project = Project.load(c.project.root)
    with c.store() as db:
        audit(
            db,
            "settings",
            username=who.username,
            target="[costs]",
            detail={"message": costs.message, "coupon": costs.coupon, "margin": costs.margin},
            ip=client_ip(request),
        )
    return _costs(request, who)
