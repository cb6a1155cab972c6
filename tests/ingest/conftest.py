from __future__ import annotations

import pytest

from memberlens.project import init_project


@pytest.fixture
def project(tmp_path):
    """A fresh DuckDB project under tmp_path with a fixed PII secret."""
    return init_project(tmp_path / "shop", locale="en")


def _write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def write():
    """``write(path, text, encoding="utf-8")`` writes a source file and returns its path."""
    return _write
