"""Docs that cannot drift: generated pages are current, every command and public symbol is
documented, and the README's Python example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current():
    from memberlens.cli._reference import cli_reference_markdown

    assert (ROOT / "docs" / "cli.md").read_text() == cli_reference_markdown() + "\n", (
        "regenerate: python -m memberlens.cli._reference > docs/cli.md"
    )


def test_data_contract_page_is_current():
    from memberlens.schema import data_contract_markdown

    assert (ROOT / "docs" / "data-contract.md").read_text() == data_contract_markdown() + "\n", (
        "regenerate: python -m memberlens.schema > docs/data-contract.md"
    )


def test_every_command_is_in_the_readme_or_docs():
    from memberlens.cli._reference import command_names

    text = (ROOT / "README.md").read_text() + "".join(
        p.read_text() for p in (ROOT / "docs").glob("*.md") if p.name != "cli.md"
    )
    missing = [c for c in command_names() if c not in text and c.split()[1] not in text]
    assert not missing, f"document these commands beyond docs/cli.md: {missing}"


def test_every_rule_is_documented():
    from memberlens.ingest import DUPLICATES, RULES

    text = (ROOT / "docs" / "ingest.md").read_text()
    assert [r for r in [*RULES, *DUPLICATES] if f"`{r}`" not in text] == []


def test_readme_python_example_runs(tmp_path, monkeypatch):
    block = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    from memberlens.pipeline.demo import export_cdnow_csv
    from memberlens.project import init_project

    init_project(tmp_path / "shop")
    export_cdnow_csv(tmp_path / "orders.csv")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["report"].rows_stored == 6919


@pytest.mark.parametrize("module", ["memberlens.privacy", "memberlens.datasets"])
def test_doctests(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
