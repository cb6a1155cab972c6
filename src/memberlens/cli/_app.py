"""The Typer application object and the global options shared by every command."""

from __future__ import annotations

from dataclasses import dataclass

import typer


@dataclass
class _State:
    debug: bool = False
    quiet: bool = False


state = _State()

app = typer.Typer(
    name="memberlens",
    help="Member data analytics for precision marketing (会员数据分析驱动的精准营销).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or chatter."),
) -> None:
    state.debug = debug
    state.quiet = quiet
