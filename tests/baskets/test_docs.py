"""The examples in docs/baskets.md run and print what the page says."""

from __future__ import annotations

import doctest
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "baskets.md"


def test_baskets_page_examples_run():
    result = doctest.testfile(
        str(DOC), module_relative=False, verbose=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 15
    assert result.failed == 0
