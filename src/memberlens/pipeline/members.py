"""Reading the member mart: lists of members by segment, tier and lifecycle stage."""

from __future__ import annotations

from pathlib import Path

import ibis
import pyarrow as pa

from memberlens.engine.warehouse import open_warehouse
from memberlens.exceptions import ConfigError
from memberlens.project import Project

#: the columns shown by default (every column of mart_members is exported).
LIST_COLUMNS = (
    "member_id",
    "segment_cn8",
    "segment_rfm11",
    "value_tier",
    "lifecycle_stage",
    "R",
    "F",
    "M",
    "frequency",
    "total_spend",
    "days_since_last",
    "p_alive",
    "expected_purchases_90d",
    "clv",
)


def member_list(
    project: Project | str | Path | None = None,
    *,
    segment: str | None = None,
    scheme: str = "cn8",
    tier: str | None = None,
    stage: str | None = None,
    order_by: str = "clv",
    limit: int | None = None,
) -> pa.Table:
    """Members of ``mart_members`` matching every filter given, best first by ``order_by``."""
    proj = project if isinstance(project, Project) else Project.load(project)
    with open_warehouse(proj, read_only=True) as wh:
        mart = wh.table("mart_members")
        column = f"segment_{scheme}"
        if segment is not None:
            if column not in mart.columns:
                schemes = [
                    c.removeprefix("segment_") for c in mart.columns if c.startswith("segment_")
                ]
                raise ConfigError(
                    f"--scheme {scheme!r} is not in the mart; use one of {', '.join(schemes)}"
                )
            mart = mart.filter(mart[column] == segment)
        if tier is not None:
            mart = mart.filter(mart.value_tier == tier)
        if stage is not None:
            mart = mart.filter(mart.lifecycle_stage == stage)
        if order_by not in mart.columns:
            raise ConfigError(
                f"--order-by {order_by!r} is not a column of mart_members; use "
                "e.g. clv, total_spend, p_alive"
            )
        mart = mart.order_by([ibis.desc(order_by), "member_id"])
        if limit:
            mart = mart.limit(limit)
        return mart.to_pyarrow()
