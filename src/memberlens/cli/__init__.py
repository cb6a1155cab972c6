"""The ``memberlens`` command line (Typer + Rich).

Each command module registers its commands on :data:`app`; this module only wires them up and
turns :class:`~memberlens.exceptions.MemberlensError` into a one-line message and an exit code
(with ``--debug`` the traceback too, and the same exit code).
"""

from __future__ import annotations

import sys
import traceback

import typer

# Command modules register themselves on import (keep this list sorted).
from memberlens.cli import audience as _audience  # noqa: F401
from memberlens.cli import baskets as _baskets  # noqa: F401
from memberlens.cli import campaign as _campaign  # noqa: F401
from memberlens.cli import campaign_send as _campaign_send  # noqa: F401
from memberlens.cli import churn as _churn  # noqa: F401
from memberlens.cli import clv as _clv  # noqa: F401
from memberlens.cli import data as _data  # noqa: F401
from memberlens.cli import demo as _demo  # noqa: F401
from memberlens.cli import experiment as _experiment  # noqa: F401
from memberlens.cli import forecast as _forecast  # noqa: F401
from memberlens.cli import members as _members  # noqa: F401
from memberlens.cli import mine as _mine  # noqa: F401
from memberlens.cli import recommend as _recommend  # noqa: F401
from memberlens.cli import run as _run  # noqa: F401
from memberlens.cli import simulate as _simulate  # noqa: F401
from memberlens.cli import triggers as _triggers  # noqa: F401
from memberlens.cli import uplift as _uplift  # noqa: F401
from memberlens.cli import web as _web  # noqa: F401
from memberlens.cli._app import app, state

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``memberlens`` script."""
    from memberlens.exceptions import MemberlensError

    try:
        app(args=argv, standalone_mode=True)  # click handles usage errors (exit 2) and --help
    except MemberlensError as exc:
        if state.debug:
            traceback.print_exc()
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("interrupted: the unfinished step changed nothing", fg="yellow", err=True)
        sys.exit(130)
    except Exception as exc:
        if state.debug:
            traceback.print_exc()
        from memberlens.cli._output import command
        from memberlens.engine.warehouse import lock_error

        busy = lock_error(exc)  # DuckDB's lock error from a path not yet mapped: a user error
        if busy is not None:
            typer.secho(f"error: {busy}", fg="red", err=True)
            sys.exit(busy.exit_code)
        args = sys.argv[1:] if argv is None else list(argv)
        typer.secho(f"internal error: {exc!r}", fg="red", err=True)
        if not state.debug:
            typer.echo(f"rerun with: {command(*args, '--debug')}", err=True)
        sys.exit(70)
