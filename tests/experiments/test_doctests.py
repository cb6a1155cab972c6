"""The docstring examples of the statistics modules run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "statistics",
    "frequentist",
    "srm",
    "multiple",
    "bayesian",
    "sequential",
    "planning",
    "programme",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(f"memberlens.experiments.{name}"))
    assert result.failed == 0 and result.attempted > 0
