"""Output helpers shared by the commands: JSON for scripts, Rich progress for people."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import sys
from collections.abc import Callable, Iterator


def _default(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return str(value)


def emit_json(payload) -> None:
    """Print ``payload`` as JSON on stdout (dates as ISO text, decimals as numbers)."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=_default) + "\n")


@contextlib.contextmanager
def progress_steps(title: str, *, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A spinner with the current step's name on stderr; ``step("storing")`` moves it on."""
    if quiet:
        yield lambda _msg: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(title, total=None)
        yield lambda msg: bar.update(task, description=f"{title}: {msg}")
