"""Every Python block of docs/segments.md runs (docs that cannot drift)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "segments.md"


def test_segments_page_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 8
    namespace: dict = {}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"docs/segments.md[block {i}]", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - show which block broke
            pytest.fail(f"docs/segments.md block {i} failed: {exc!r}")


def test_every_public_symbol_is_documented():
    import memberlens.behavior
    import memberlens.features
    import memberlens.segmentation

    text = PAGE.read_text(encoding="utf-8") + (PAGE.parent / "glossary.md").read_text(
        encoding="utf-8"
    )
    symbols = [
        name
        for mod in (memberlens.features, memberlens.segmentation, memberlens.behavior)
        for name in mod.__all__
    ]
    assert [s for s in symbols if s not in text] == []


@pytest.mark.parametrize(
    "module",
    [
        "memberlens.features.rfm",
        "memberlens.segmentation.scores",
        "memberlens.segmentation.schemes",
        "memberlens.behavior.lifecycle",
        "memberlens.behavior.cohorts",
    ],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
