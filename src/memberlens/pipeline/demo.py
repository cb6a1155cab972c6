"""The main job: build a demo project end to end and say what was found.

By default it simulates a Chinese e-commerce shop (``memberlens.simulate``), loads every table
through the same public ingest path a user would use, and runs every pipeline step. With
``data="cdnow"`` it loads the bundled real CDNOW sample instead (a CSV with the shop's own
header names).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from memberlens.datasets import load_cdnow_sample
from memberlens.ingest import LoadReport, load
from memberlens.ingest.status import WarehouseStatus, warehouse_status
from memberlens.pipeline.run import RunResult, run_pipeline
from memberlens.project import Project, init_project

#: members first (so orders of unknown members are caught), then what refers to them.
LOAD_ORDER = (
    "members",
    "products",
    "orders",
    "order_items",
    "events",
    "interactions",
    "campaigns",
    "campaign_members",
    "identities",
)
DEFAULT_MEMBERS = 20_000


@dataclass(frozen=True)
class DemoResult:
    project: Project
    loads: list[LoadReport]
    status: WarehouseStatus
    run: RunResult | None = None
    notes: list[str] = field(default_factory=list)


def export_cdnow_csv(path: Path) -> Path:
    """The CDNOW sample as a CSV export with its own header names (as a shop would send it)."""
    frame = load_cdnow_sample()
    out = frame.rename(
        columns={
            "member_id": "customer_id",
            "ordered_at": "date",
            "quantity": "number_of_cds",
            "amount": "dollar_value",
        }
    )
    out["date"] = out["date"].dt.strftime("%Y%m%d")
    out[["customer_id", "date", "number_of_cds", "dollar_value"]].to_csv(path, index=False)
    return path


def run_demo(
    directory: str | Path,
    *,
    data: Literal["simulated", "cdnow"] = "simulated",
    members: int = DEFAULT_MEMBERS,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Create (or reuse) a project in ``directory``, load the demo data and run the pipeline."""
    step = progress or (lambda _msg: None)
    directory = Path(directory)
    if (directory / "memberlens.toml").exists():
        project = Project.load(directory)
    elif data == "cdnow":
        project = init_project(directory, locale="en", currency="USD", name="cdnow-demo")
    else:
        project = init_project(directory, locale="zh-CN", currency="CNY", name="demo-shop")
    loads = []
    if data == "cdnow":
        step("loading the CDNOW sample")
        loads.append(
            load("orders", export_cdnow_csv(directory / "cdnow_orders.csv"), project=project)
        )
    else:
        shop = directory / "shop-data"
        if not (shop / "orders.parquet").exists():
            from memberlens.simulate import simulate_shop

            step(f"simulating a shop of {members:,} members")
            simulate_shop(shop, members=members, seed=seed)
        for table in LOAD_ORDER:
            step(f"loading {table}")
            loads.append(load(table, shop / f"{table}.parquet", project=project))
    step("building the marts")
    result = run_pipeline(project, progress=lambda m: step(f"run: {m}"))
    return DemoResult(project, loads, warehouse_status(project), result)
