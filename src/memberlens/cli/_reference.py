"""The CLI reference (``docs/cli.md``), generated from the commands themselves so it cannot drift.

``python -m memberlens.cli._reference > docs/cli.md``
"""

from __future__ import annotations

import typer


def _walk(command, prefix: str):
    yield prefix, command
    if hasattr(command, "commands"):  # a group (Typer vendors its own click)
        for name in sorted(command.commands):
            yield from _walk(command.commands[name], f"{prefix} {name}")


def cli_reference_markdown() -> str:
    from memberlens.cli import app

    root = typer.main.get_command(app)
    lines = [
        "# Command reference",
        "",
        "Generated from the commands (`python -m memberlens.cli._reference > docs/cli.md`); "
        "every command also has `--help`.",
        "",
    ]
    for path, cmd in _walk(root, "memberlens"):
        if path == "memberlens":
            lines += ["## Global options", ""]
        else:
            lines += [f"## `{path}`", ""]
        if cmd.help:
            lines += [cmd.help.strip().split("\n\n")[0], ""]
        args = [p for p in cmd.params if p.param_type_name == "argument"]
        opts = [p for p in cmd.params if p.param_type_name == "option" and p.name != "help"]
        if args:
            lines += ["Arguments: " + ", ".join(f"`{a.name.upper()}`" for a in args), ""]
            for a in args:
                text = getattr(a, "help", None) or ""
                lines.append(f"- `{a.name.upper()}`: {text}")
            lines.append("")
        if opts:
            lines += ["| option | meaning |", "| --- | --- |"]
            for o in opts:
                names = ", ".join(f"`{n}`" for n in o.opts + o.secondary_opts)
                lines.append(f"| {names} | {(o.help or '').replace('|', '/')} |")
            lines.append("")
    return "\n".join(lines)


def command_names() -> list[str]:
    from memberlens.cli import app

    return [p for p, _ in _walk(typer.main.get_command(app), "memberlens") if p != "memberlens"]


if __name__ == "__main__":  # pragma: no cover
    print(cli_reference_markdown())
