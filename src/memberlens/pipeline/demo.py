"""The main job: build a demo project end to end and say what was found.

Until the simulated shop exists, the demo ingests the bundled real CDNOW sample through the same
public ingest path a user would use (a CSV with the user's own header names).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memberlens.datasets import load_cdnow_sample
from memberlens.ingest import LoadReport, load
from memberlens.ingest.status import WarehouseStatus, warehouse_status
from memberlens.project import Project, init_project


@dataclass(frozen=True)
class DemoResult:
    project: Project
    loads: list[LoadReport]
    status: WarehouseStatus


def export_cdnow_csv(path: Path) -> Path:
    """The CDNOW sample as a CSV export with its own header names (as a shop would send it)."""
    frame = load_cdnow_sample()
    out = frame.rename(columns={"member_id": "customer_id", "ordered_at": "date",
                                "quantity": "number_of_cds", "amount": "dollar_value"})
    out["date"] = out["date"].dt.strftime("%Y%m%d")
    out[["customer_id", "date", "number_of_cds", "dollar_value"]].to_csv(path, index=False)
    return path


def run_demo(directory: str | Path, *, progress=None) -> DemoResult:
    """Create (or reuse) a project in ``directory`` and load the demo data into it."""
    directory = Path(directory)
    project = (Project.load(directory) if (directory / "memberlens.toml").exists()
               else init_project(directory, locale="en", currency="USD", name="cdnow-demo"))
    source = export_cdnow_csv(directory / "cdnow_orders.csv")
    report = load("orders", source, project=project, progress=progress)
    return DemoResult(project, [report], warehouse_status(project))
