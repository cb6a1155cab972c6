"""The ``memberlens`` command line (Typer + Rich).

Each command module registers its commands on :data:`app`; this module only wires them up and
turns :class:`~memberlens.exceptions.MemberlensError` into a one-line message and an exit code
(a traceback only with ``--debug``).
"""

from __future__ import annotations

import sys

import typer

from memberlens.cli._app import app, state

# Command modules register themselves on import (keep this list sorted).
from memberlens.cli import data as _data  # noqa: E402,F401
from memberlens.cli import demo as _demo  # noqa: E402,F401

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``memberlens`` script."""
    from memberlens.exceptions import MemberlensError

    try:
        app(args=argv, standalone_mode=False)
    except MemberlensError as exc:
        if state.debug:
            raise
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("interrupted: nothing was changed by the unfinished step", fg="yellow", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if state.debug:
            raise
        typer.secho(f"internal error: {exc!r} (rerun with --debug for the traceback)",
                    fg="red", err=True)
        sys.exit(70)
