"""Output helpers shared by the commands: one console that prints text as it is, styled messages
whose values are escaped, commands a user can paste, JSON for scripts, progress for people.

Rich reads ``[word]`` as markup and drops it; a user's data, a rule's advice ("add the spelling
under [values.status]") and option help are full of brackets. So :data:`console` prints strings
literally (``markup=False``: table cells, titles, notes), and the few styled messages go through
:func:`say`, which escapes every value it formats into its template.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.text import Text

console = Console(markup=False, highlight=False)
err_console = Console(stderr=True, markup=False, highlight=False)


def say(template: str, *values: object, err: bool = False) -> None:
    """Print ``template`` (which may hold Rich markup such as ``[bold]{}[/]``) with each ``{}``
    replaced by a value, escaped so that brackets in it are printed as they are."""
    text = template.format(*(escape(str(v)) for v in values))
    (err_console if err else console).print(Text.from_markup(text))


def program() -> str:
    """How to call this command again from a shell: ``memberlens`` when that name on the PATH is
    this installation, else the full path of the script beside this Python, else ``python -m``."""
    here = Path(sys.executable).parent / "memberlens"
    found = shutil.which("memberlens")
    if found and (not here.exists() or Path(found).resolve() == here.resolve()):
        return "memberlens"
    if here.exists():
        return shlex.quote(_shortest(here))
    return f"{shlex.quote(sys.executable)} -m memberlens"


def _shortest(path: Path) -> str:
    """``path`` relative to the current folder when it is below it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        rel = absolute.relative_to(Path.cwd())
    except ValueError:
        return str(absolute)
    return f"./{rel}" if len(rel.parts) == 1 else str(rel)


def project_arg(project: str | os.PathLike[str] | None) -> str:
    """The ``--project`` value to print in a hint: the folder the user gave, else the project the
    command found ($MEMBERLENS_PROJECT or the current folder), so the hint works from elsewhere."""
    if project is not None:
        return str(project)
    return os.path.abspath(os.environ.get("MEMBERLENS_PROJECT") or ".")


def command(*args: object, project: str | os.PathLike[str] | bool | None = False) -> str:
    """A complete command line to paste: the program, ``args`` quoted for the shell and, unless
    ``project`` is False, ``-p PROJECT`` (see :func:`project_arg`)."""
    words = [str(a) for a in args]
    if project is not False:
        words += ["-p", project_arg(None if project is True else project)]
    return " ".join([program(), *(shlex.quote(w) for w in words)])


def hint(label: str, *commands: str) -> None:
    """Print ``label: COMMAND`` (one line per command), commands literal so they can be pasted."""
    for cmd in commands:
        console.print(f"{label}: {cmd}", soft_wrap=True)


def shorten(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` characters at a word boundary, never inside a word
    (``" …"`` marks the cut)."""
    import textwrap

    return textwrap.shorten(text, width, placeholder=" …") if len(text) > width else text


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
    """Progress on stderr: a spinner with the current step's name and, as each step ends, a line
    ``title: step (N.N s)`` that stays, so a long run is never silent (also without a terminal).
    ``step("storing")`` moves it on."""
    if quiet:
        yield lambda _msg: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    current: list = [None, time.perf_counter()]

    def finish(now: float) -> None:
        if current[0] is not None:
            bar.console.print(f"{title}: {current[0]} ({now - current[1]:.1f} s)")

    def step(msg: str) -> None:
        now = time.perf_counter()
        finish(now)
        current[0], current[1] = msg, now
        bar.update(task, description=f"{escape(title)}: {escape(msg)}")

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(escape(title), total=None)
        yield step
        finish(time.perf_counter())


def step_warnings(steps) -> list[str]:
    """The "warning: ..." parts of the steps' messages (e.g. a purchase model that missed its
    back-test), as "step: warning: ..." lines; ``steps`` are StepResults or run-log rows."""
    out = []
    for s in steps:
        message = s["message"] if isinstance(s, dict) else s.message
        out += [
            f"{s['step'] if isinstance(s, dict) else s.step}: {part}"
            for part in (message or "").split("; ")
            if part.startswith("warning:")
        ]
    return out
