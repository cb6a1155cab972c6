"""Member lists from ``mart_members``: filter by segment, tier and stage, sort, page, and count
every member that matches (so a list of 20 can say "20 of 2,034")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ibis
import pyarrow as pa

from memberlens.engine.warehouse import open_warehouse
from memberlens.exceptions import ConfigError
from memberlens.project import Project

#: the columns a member list shows by default (an export writes every column of the mart).
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


@dataclass(frozen=True)
class MemberPage:
    """One page of a member list: its ``rows`` and how many members match in all."""

    rows: pa.Table
    total: int
    offset: int = 0


def member_page(
    project: Project | str | Path | None = None,
    *,
    segment: str | None = None,
    scheme: str = "cn8",
    tier: str | None = None,
    stage: str | None = None,
    order_by: str = "clv",
    limit: int | None = None,
    offset: int = 0,
) -> MemberPage:
    """Members of ``mart_members`` matching every filter given, best first by ``order_by``
    (ties by ``member_id``), ``limit`` of them from ``offset``, and the number that match."""
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
        total = int(mart.count().to_pyarrow().as_py())
        page = mart.order_by([ibis.desc(order_by), "member_id"])
        if limit is not None or offset:
            page = page.limit(limit, offset=offset)
        return MemberPage(page.to_pyarrow(), total, offset)
