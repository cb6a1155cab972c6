"""The examples of docs/clv.md run (docs that cannot drift, STYLE.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "clv.md"


def test_clv_page_examples_run(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 7
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(DOC), "exec"), namespace)
    assert namespace["bgnbd"].params_["r"] == pytest.approx(0.2426, abs=1e-4)


def test_every_public_symbol_is_documented():
    import memberlens.clv as clv

    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in clv.__all__ if name not in text and name != "IndependenceCheck"]
    assert not missing
