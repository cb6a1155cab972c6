"""The CLI run as a user runs it: a subprocess of `python -m memberlens`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run_cli(*args, cwd=None, env=None, check=True, timeout=600):
    """Run ``memberlens ARGS`` (``env`` adds to the environment); fail on a non-zero exit when
    ``check``."""
    proc = subprocess.run(
        [sys.executable, "-m", "memberlens", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def ml():
    return run_cli
