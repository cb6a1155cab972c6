"""Every Python block of docs/churn.md runs (docs that cannot drift)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


@pytest.mark.slow  # a 4,000-member demo, three trainings and the mart (~1-2 min)
def test_churn_page_examples_run(tmp_path, monkeypatch):
    page = Path(__file__).resolve().parents[2] / "docs" / "churn.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)  # the page writes ./shop
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/churn.md[{i}]", "exec"), namespace)
    assert namespace["summary"]["members"] == len(namespace["frame"]) > 1000
    assert "category_1" in namespace["frame"].columns
