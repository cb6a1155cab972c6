"""A small simulated shop shared by the simulator tests (written once per session)."""

from __future__ import annotations

import pytest

from memberlens.simulate import simulate_shop

SMALL_MEMBERS = 6_000
SMALL_SEED = 11


@pytest.fixture(scope="session")
def small_shop(tmp_path_factory):
    out = tmp_path_factory.mktemp("shop")
    report = simulate_shop(
        out, members=SMALL_MEMBERS, seed=SMALL_SEED, dirty=True, chunk_members=5_000
    )
    return out, report
