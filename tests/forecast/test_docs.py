"""docs/forecast.md and the docstrings run (docs that cannot drift)."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_forecast_page_example_runs(tmp_path, monkeypatch, capsys):
    page = (ROOT / "docs" / "forecast.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)  # the page writes ./shop
    namespace: dict = {}
    exec(compile(blocks[0], "docs/forecast.md", "exec"), namespace)
    assert len(namespace["forecast"]) == 13
    assert set(namespace["result"].summary["model"]) == {"forecast", "seasonal_naive", "naive"}


def test_page_names_every_festival_and_command():
    from memberlens.forecast import FESTIVALS, SPRING_FESTIVAL

    page = (ROOT / "docs" / "forecast.md").read_text(encoding="utf-8")
    for festival in FESTIVALS:
        assert f"`{festival.name}`" in page and festival.label_zh in page
    for year, day in SPRING_FESTIVAL.items():
        assert f"| {year} | {day[5:]} |" in page
    assert "memberlens forecast --project" in page and "memberlens forecast backtest" in page


@pytest.mark.parametrize("module", ["memberlens.forecast.festivals", "memberlens.forecast.model"])
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
