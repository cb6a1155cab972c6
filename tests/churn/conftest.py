"""One simulated shop (``memberlens demo``: simulator + ingest + marts) and one trained churn
model for all churn tests. The simulator's truth (``shop-data/truth/members.parquet``: who
dropped out and when) is the outside reference."""

from __future__ import annotations

import pandas as pd
import pytest

MEMBERS, SEED = 4000, 3


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory):
    from memberlens.pipeline.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("churn-shop"), members=MEMBERS, seed=SEED).project


@pytest.fixture(scope="session")
def inputs(demo_project):
    from memberlens.churn import ChurnInputs
    from memberlens.engine.warehouse import open_warehouse

    warehouse = open_warehouse(demo_project, read_only=True)
    yield ChurnInputs.from_backend(warehouse.con)
    warehouse.close()


@pytest.fixture(scope="session")
def trained(demo_project, inputs):
    """``train_project`` once (back-test + final model saved under .memberlens/models)."""
    from memberlens.churn import train_project

    return train_project(demo_project)


@pytest.fixture(scope="session")
def truth(demo_project) -> pd.DataFrame:
    return pd.read_parquet(demo_project.root / "shop-data" / "truth" / "members.parquet")


@pytest.fixture(scope="session")
def category_training(demo_project) -> dict:
    """``memberlens churn train --target propensity --category all --json`` once (in process):
    the per-category propensity model of the top 5 categories, saved in the project."""
    import json

    from typer.testing import CliRunner

    import memberlens.cli.churn  # noqa: F401  (registers the sub-app)
    from memberlens.cli import app

    out = CliRunner().invoke(
        app,
        [
            "--quiet",
            "churn",
            "train",
            "--project",
            str(demo_project.root),
            "--target",
            "propensity",
            "--category",
            "all",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


@pytest.fixture(scope="session")
def preferences(demo_project) -> pd.DataFrame:
    """The simulator's true category preferences (one column per category, rows sum to 1)."""
    return pd.read_parquet(
        demo_project.root / "shop-data" / "truth" / "category_preferences.parquet"
    ).set_index("member_id")
