"""The examples in docs/recommend.md and in the package docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "recommend.md"


def test_recommend_page_examples_run():
    result = doctest.testfile(
        str(DOC), module_relative=False, verbose=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 10
    assert result.failed == 0


@pytest.mark.parametrize(
    "module",
    ["memberlens.recommend", "memberlens.recommend.interactions", "memberlens.recommend.together"],
)
def test_docstring_examples_run(module):
    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0
