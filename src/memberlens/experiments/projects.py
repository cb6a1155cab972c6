"""Campaign evaluation on a project's warehouse (opens it read-only for one unit of work)."""

from __future__ import annotations

import dataclasses
from typing import Any

from memberlens.exceptions import ConfigError
from memberlens.experiments.campaigns import (
    CampaignReport,
    Response,
    campaign_report,
    segment_breakdown,
)

__all__ = ["BY_ATTRIBUTES", "campaign_list_project", "campaign_report_project"]

_TABLES = ("campaigns", "campaign_members", "orders")
#: member attributes (of the ``members`` table) a report can be broken down by
BY_ATTRIBUTES = ("channel", "province", "city", "gender", "age_band")


def campaign_report_project(
    project: Any,
    campaign_id: str,
    *,
    response: Response = "click",
    alpha: float = 0.05,
    by: str | None = None,
    planned_control_share: float | None = None,
) -> CampaignReport:
    """:func:`~memberlens.experiments.campaigns.campaign_report` on the project's tables, with
    the same numbers per value of a member attribute when ``by`` is given."""
    from memberlens.engine.warehouse import open_warehouse

    if by is not None and by not in BY_ATTRIBUTES:
        raise ConfigError(f"--by must be one of {', '.join(BY_ATTRIBUTES)}, found {by!r}")
    warehouse = open_warehouse(project, read_only=True)
    try:
        campaigns, members, orders = (warehouse.table(name) for name in _TABLES)
        report = campaign_report(
            campaigns,
            members,
            orders,
            campaign_id,
            response=response,
            alpha=alpha,
            planned_control_share=planned_control_share,
        )
        if by is None:
            return report
        people = warehouse.table("members")
        if by not in people.columns:
            raise ConfigError(
                f"the members table has no column {by!r}; load members with that attribute"
            )
        segments = people.select("member_id", segment=people[by])
        parts = segment_breakdown(
            campaigns, members, orders, campaign_id, segments, response=response, alpha=alpha
        )
        return dataclasses.replace(report, by=by, segments=parts)
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
