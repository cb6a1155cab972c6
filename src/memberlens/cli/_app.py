"""The Typer application object and the global options shared by every command.

``--debug`` and ``--quiet`` work before the command (``memberlens --debug run``) and after it
(``memberlens run --debug``), since a hint such as "rerun with --debug" is pasted at the end of
a line. ``--json`` is accepted everywhere too: commands that print figures have their own; the
others say clearly that they have no JSON output.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import typer
from typer._click import Context, Parameter
from typer._click.exceptions import UsageError
from typer.core import TyperGroup


@dataclass
class _State:
    debug: bool = False
    quiet: bool = False


state = _State()


def _set_debug(ctx: Context, param: Parameter, value: bool) -> None:
    if value:
        state.debug = True


def _set_quiet(ctx: Context, param: Parameter, value: bool) -> None:
    if value:
        state.quiet = True


def _no_json(ctx: Context, param: Parameter, value: bool) -> None:
    if value:
        raise UsageError(
            f"`{ctx.command_path}` has no JSON output (it prints no figures); drop --json", ctx
        )


def _option_templates() -> list[Parameter]:
    """The three options as Typer builds them (from a function's signature, as for any command)."""

    def options(
        debug: bool = typer.Option(False, "--debug", help="Show the traceback on errors."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or chatter."),
        as_json: bool = typer.Option(
            False, "--json", help="Not available: this command prints no figures."
        ),
    ) -> None:  # pragma: no cover - only its signature is used
        pass

    holder = typer.Typer()
    holder.command()(options)
    callbacks = {"debug": _set_debug, "quiet": _set_quiet, "as_json": _no_json}
    params = [p for p in typer.main.get_command(holder).params if p.name in callbacks]
    for param in params:
        param.expose_value = False
        param.callback = callbacks[param.name]
    return params


def _global_options(command, templates: list[Parameter]) -> None:
    """Add ``--debug``, ``--quiet`` and ``--json`` to ``command`` (and every command under it)
    unless it declares them itself."""
    if hasattr(command, "commands"):  # a group
        for sub in command.commands.values():
            _global_options(sub, templates)
        return
    taken = {name for p in command.params for name in getattr(p, "opts", [])}
    for template in templates:
        if template.opts[0] in taken:
            continue
        param = copy.copy(template)
        param.opts = [o for o in template.opts if o not in taken]
        command.params.append(param)


class _Group(TyperGroup):
    """The root group: gives every subcommand the global options once it is built."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        templates = _option_templates()
        for sub in self.commands.values():
            _global_options(sub, templates)


app = typer.Typer(
    name="memberlens",
    cls=_Group,
    help="Member data analytics for precision marketing (会员数据分析驱动的精准营销).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is printed as written: "[web] database_url" stays
)


@app.callback()
def _global(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or chatter."),
) -> None:
    state.debug = debug
    state.quiet = quiet
