"""A small simulated shop with campaigns and control groups (written once per session)."""

from __future__ import annotations

import pytest

from memberlens.simulate import simulate_shop


@pytest.fixture(scope="session")
def campaign_shop(tmp_path_factory):
    out = tmp_path_factory.mktemp("campaign_shop")
    simulate_shop(out, members=20_000, seed=99)
    return out
