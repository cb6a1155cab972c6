"""The Python examples of docs/simulator.md run as written (reference: the docs page)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "simulator.md"


def test_python_examples_in_the_simulator_page_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {})
    assert (tmp_path / "shop" / "truth" / "dirty.json").exists()
    assert (tmp_path / "heavy" / "orders.parquet").exists()
    assert "orders" in capsys.readouterr().out
