"""The registry of steps: well formed, and docs/pipeline.md lists exactly its steps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from memberlens.pipeline.registry import STEPS, step
from memberlens.schema import TABLES

DOC = Path(__file__).parents[2] / "docs" / "pipeline.md"


def test_steps_are_unique_and_each_reads_only_what_earlier_steps_make():
    names = [s.name for s in STEPS]
    assert len(names) == len(set(names))
    made: set[str] = set()
    for s in STEPS:
        assert s.title and s.run
        assert set(s.tables) <= set(TABLES), s.name
        assert set(s.uses) <= made, f"{s.name} reads {s.uses} before a step makes it"
        made |= set(s.makes)
    assert step("clv").name == "clv"
    with pytest.raises(KeyError):
        step("nope")


def _documented_steps() -> list[str]:
    table = DOC.read_text(encoding="utf-8").split("| step | what | mart |\n| --- | --- | --- |\n")[
        1
    ]
    rows = table.split("\n\n", 1)[0].splitlines()
    return [re.match(r"^\| ([^|]+?) \|", row).group(1) for row in rows]


def test_every_step_is_documented_in_order_and_nothing_else():
    assert _documented_steps() == [s.name for s in STEPS]


def test_the_doc_names_every_mart_a_step_writes():
    text = DOC.read_text(encoding="utf-8")
    for s in STEPS:
        for mart in s.writes:
            assert f"`{mart}" in text, f"{mart} of step {s.name} is not in docs/pipeline.md"


def test_shared_tables_are_known_and_declared_by_their_readers():
    # the runner drops a shared temporary table after the last step that declares it, so a
    # step reading the purchase days must say so
    assert {n for s in STEPS for n in s.shared} == {"purchase_days"}
    readers = {s.name for s in STEPS if "purchase_days" in s.shared}
    assert readers == {"lifecycle", "cohorts", "profiles"}
