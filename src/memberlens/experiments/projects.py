"""Campaign evaluation on a project's warehouse (opens it read-only for one unit of work)."""

from __future__ import annotations

from typing import Any

from memberlens.experiments.campaigns import CampaignReport, Response, campaign_report

__all__ = ["campaign_list_project", "campaign_report_project"]

_TABLES = ("campaigns", "campaign_members", "orders")


def campaign_report_project(
    project: Any, campaign_id: str, *, response: Response = "click", alpha: float = 0.05
) -> CampaignReport:
    """:func:`~memberlens.experiments.campaigns.campaign_report` on the project's tables."""
    from memberlens.engine.warehouse import open_warehouse

    warehouse = open_warehouse(project, read_only=True)
    try:
        campaigns, members, orders = (warehouse.table(name) for name in _TABLES)
        return campaign_report(
            campaigns, members, orders, campaign_id, response=response, alpha=alpha
        )
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
