"""Campaign evaluation on a project's warehouse (opens it read-only for one unit of work)."""

from __future__ import annotations

import dataclasses
from typing import Any

from memberlens.exceptions import ConfigError, MissingTableError
from memberlens.experiments.campaigns import (
    CampaignReport,
    Costs,
    Response,
    adjust_family,
    campaign_report,
    segment_breakdown,
)

__all__ = [
    "BY_ATTRIBUTES",
    "BY_MART",
    "campaign_list_project",
    "campaign_report_project",
    "report_options",
]

_TABLES = ("campaigns", "campaign_members", "orders")
#: member attributes (of the ``members`` table) a report can be broken down by
BY_ATTRIBUTES = ("channel", "province", "city", "gender", "age_band")
#: breakdowns read from the member mart (``memberlens run`` writes it): name -> column
BY_MART = {
    "segment": "segment_rfm11",
    "cn8": "segment_cn8",
    "tier": "value_tier",
    "cluster": "cluster",
    "lifecycle": "lifecycle_stage",
}


def report_options(project: Any, **given: Any) -> dict[str, Any]:
    """The report's options: what the caller gives (not None) over the ``[campaigns]`` settings
    over the defaults; ``costs`` from ``[costs]``."""
    settings = dict(getattr(project, "settings", {}).get("campaigns", {}))
    defaults: dict[str, Any] = {
        "response": "auto",
        "alpha": 0.05,
        "retention_days": 30,
        "pre_days": 90,
        "cuped": False,
        "planned_control_share": settings.get("control_share"),
        "tau_relative": settings.get("sequential_tau", 0.1),
    }
    for key in ("response", "alpha", "retention_days", "pre_days", "cuped"):
        if key in settings:
            defaults[key] = settings[key]
    for key, value in given.items():
        if value is not None:
            defaults[key] = value
    costs = getattr(project, "settings", {}).get("costs")
    defaults["costs"] = Costs.from_settings(costs) if costs else None
    return defaults


def _segments(warehouse: Any, by: str) -> Any:
    if by in BY_ATTRIBUTES:
        people = warehouse.table("members")
        if by not in people.columns:
            raise ConfigError(
                f"the members table has no column {by!r}; load members with that attribute"
            )
        return people.select("member_id", segment=people[by])
    column = BY_MART[by]
    if not warehouse.has("mart_members"):
        raise MissingTableError(
            f"--by {by} reads the member mart, which is not built yet: run `memberlens run` first"
        )
    mart = warehouse.table("mart_members")
    if column not in mart.columns:
        raise ConfigError(
            f"--by {by}: the member mart has no column {column!r} (the step that writes it did "
            "not run); run `memberlens run` with it"
        )
    return mart.select("member_id", segment=mart[column].cast("string"))


def campaign_report_project(
    project: Any,
    campaign_id: str,
    *,
    response: Response | None = None,
    alpha: float | None = None,
    by: str | None = None,
    planned_control_share: float | None = None,
    retention_days: int | None = None,
    pre_days: int | None = None,
    cuped: bool | None = None,
) -> CampaignReport:
    """:func:`~memberlens.experiments.campaigns.campaign_report` on the project's tables, with
    the same numbers per segment when ``by`` is given (a member attribute, or ``segment`` /
    ``tier`` / ``cluster`` / ``lifecycle`` from the member mart), options from ``[campaigns]``
    and costs from ``[costs]``. Holm and BH are recomputed over arms x metrics x segments."""
    from memberlens.engine.warehouse import open_warehouse

    choices = (*BY_ATTRIBUTES, *BY_MART)
    if by is not None and by not in choices:
        raise ConfigError(f"--by must be one of {', '.join(choices)}, found {by!r}")
    options = report_options(
        project,
        response=response,
        alpha=alpha,
        planned_control_share=planned_control_share,
        retention_days=retention_days,
        pre_days=pre_days,
        cuped=cuped,
    )
    warehouse = open_warehouse(project, read_only=True)
    try:
        campaigns, members, orders = (warehouse.table(name) for name in _TABLES)
        events = warehouse.table("events") if options["response"] == "visit" else None
        report = campaign_report(campaigns, members, orders, campaign_id, events=events, **options)
        if by is None:
            return report
        segments = _segments(warehouse, by)
        options.pop("costs")
        options.pop("planned_control_share")
        parts = segment_breakdown(
            campaigns, members, orders, campaign_id, segments, events=events, **options
        )
        return adjust_family(dataclasses.replace(report, by=by, segments=parts))
    finally:
        warehouse.close()


def campaign_list_project(project: Any) -> list[dict[str, Any]]:
    """The project's campaigns with the number of members per group, oldest first."""
    from memberlens.engine.warehouse import open_warehouse

    warehouse = open_warehouse(project, read_only=True)
    try:
        campaigns, members = warehouse.table("campaigns"), warehouse.table("campaign_members")
        counts = members.group_by("campaign_id").aggregate(
            members=members.count(),
            control=(members["group"] == "control").cast("int64").sum(),
        )
        cols = [
            c
            for c in ("campaign_id", "name", "channel", "starts_at", "ends_at")
            if c in campaigns.columns
        ]
        out = campaigns.select(*cols).left_join(counts, "campaign_id").order_by("starts_at")
        return [
            {k: v for k, v in row.items() if k != "campaign_id_right"}
            for row in out.to_pyarrow().to_pylist()
        ]
    finally:
        warehouse.close()
