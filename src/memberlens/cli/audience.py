"""``memberlens audience``: saved member filters (人群) sized, compared, exported and frozen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from memberlens.cli._app import app
from memberlens.cli._output import console, emit_json

audience_app = typer.Typer(
    help="Audiences (人群圈选): saved filters over the member mart, e.g. "
    "--where 'segment_cn8 == \"important_value\" and clv > 500'.",
    no_args_is_help=True,
)
app.add_typer(audience_app, name="audience")

_PROJECT = typer.Option(
    None,
    "--project",
    "-p",
    help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
)
_JSON = typer.Option(False, "--json", help="Print as JSON.")
#: breakdown columns the mart vocabulary has no plain name for
_HEADINGS = {"province": ("省份", "Province")}


def _date(text: str | None, option: str = "--as-of") -> dt.date | None:
    from memberlens.exceptions import ConfigError

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r}: not a date; write YYYY-MM-DD") from None


@audience_app.command("create")
def create(
    name: str = typer.Argument(..., help="Audience name, e.g. vip_guangdong."),
    where: str = typer.Option(..., "--where", "-w", help="The filter expression."),
    description: str | None = typer.Option(None, "--description", help="What it is for."),
    replace: bool = typer.Option(False, "--replace", help="Change an existing audience."),
    project: Path | None = _PROJECT,
    as_json: bool = _JSON,
) -> None:
    """Save an audience (the expression is checked against the marts first)."""
    import getpass

    from memberlens.activation.audiences import audience_size, create_audience

    audience = create_audience(
        project, name, where, description=description, owner=getpass.getuser(), replace=replace
    )
    size = audience_size(project, name, breakdowns=False)
    if as_json:
        emit_json({**audience.to_dict(), "size": size.size, "total": size.total})
        return
    console.print(f"audience {name}: {size.size:,} of {size.total:,} members ({size.share:.1%})")


@audience_app.command("list")
def list_(project: Path | None = _PROJECT, as_json: bool = _JSON) -> None:
    """The saved audiences with their expressions."""
    from memberlens.activation.audiences import list_audiences

    rows = list_audiences(project)
    if as_json:
        emit_json([a.to_dict() for a in rows])
        return
    if not rows:
        console.print(
            "no audiences yet; create one with `memberlens audience create NAME --where ...`"
        )
    for a in rows:
        console.print(f"{a.name}\t{a.expression}")


@audience_app.command("size")
def size(
    name: str = typer.Argument(..., help="A saved audience's name, or an expression."),
    as_of: str | None = typer.Option(None, "--as-of", help="Date of the marts (YYYY-MM-DD)."),
    project: Path | None = _PROJECT,
    as_json: bool = _JSON,
) -> None:
    """How many members match, and how they split by segment, value tier and province."""
    from memberlens.activation.audiences import audience_size
    from memberlens.marts import column_label, segment_label, tier_label
    from memberlens.project import Project

    result = audience_size(project, name, as_of=_date(as_of))
    if as_json:
        emit_json(result.to_dict())
        return
    locale = Project.load(project).locale
    title = result.name or result.expression
    console.print(
        f"{title}: {result.size:,} of {result.total:,} members ({result.share:.1%}), "
        f"as of {result.as_of}"
    )
    for note in result.notes:
        console.print(f"  note: {note}")
    for part in result.breakdowns:
        heading = _HEADINGS.get(part.column, ("", ""))[0 if locale == "zh-CN" else 1]
        console.print(f"  {heading or column_label(part.column, locale)}:")
        for key, n in part.rows:
            label: str | None = key
            if part.column == "segment_cn8":
                label = segment_label("cn8", key, locale)
            elif part.column == "value_tier":
                label = tier_label(key, locale)
            other = "其他" if locale == "zh-CN" else "other"
            shown = other if key == "__other__" else (label or "-")
            console.print(f"    {shown:<24} {n:>10,}  {n / result.size:6.1%}")


@audience_app.command("overlap")
def overlap(
    names: list[str] = typer.Argument(..., help="2 to 6 audience names (or expressions)."),
    project: Path | None = _PROJECT,
    as_json: bool = _JSON,
) -> None:
    """Sizes, union and every intersection of the audiences, with shares."""
    from memberlens.activation.audiences import audience_overlap

    result = audience_overlap(project, names)
    if as_json:
        emit_json(result.to_dict())
        return
    for n in result.names:
        console.print(f"{n}: {result.sizes[n]:,}")
    console.print(f"union: {result.union:,}")
    for i in result.intersections:
        console.print(
            f"{' & '.join(i.audiences)}: {i.members:,} ({i.share_of_union:.1%} of union, "
            f"{i.share_of_smallest:.1%} of the smallest)"
        )


@audience_app.command("export")
def export(
    name: str = typer.Argument(..., help="A saved audience's name."),
    format: str = typer.Option("csv", "--format", help="csv or xlsx."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default NAME.FORMAT)."),
    frozen: bool = typer.Option(False, "--frozen", help="Export the latest frozen list."),
    project: Path | None = _PROJECT,
    as_json: bool = _JSON,
) -> None:
    """Write the audience's members (scores, segment, masked contacts) to CSV or Excel."""
    from memberlens.activation.audiences import audience_export
    from memberlens.exceptions import ConfigError
    from memberlens.exports import write_export

    if format not in ("csv", "xlsx"):
        raise ConfigError(f"--format {format!r}: use csv or xlsx")
    path = output or Path(f"{name}.{format}")
    if path.suffix.lower() != f".{format}":
        raise ConfigError(f"--output {path}: the name must end in .{format} for --format {format}")
    table = audience_export(project, name, frozen=frozen)
    result = write_export(table, path, sheet=name)
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(f"wrote {result.rows:,} members of {name} to {path}")
    k = result.k_anonymity
    if k.k is not None:
        console.print(f"k-anonymity over ({', '.join(k.columns)}): smallest group {k.k:,} rows")


@audience_app.command("freeze")
def freeze(
    name: str = typer.Argument(..., help="A saved audience's name."),
    as_of: str | None = typer.Option(None, "--as-of", help="Date of the marts (YYYY-MM-DD)."),
    project: Path | None = _PROJECT,
    as_json: bool = _JSON,
) -> None:
    """Store exactly who the audience holds now (or as of a date) for a campaign to target."""
    import getpass

    from memberlens.activation.audiences import freeze_audience

    snap = freeze_audience(project, name, as_of=_date(as_of), owner=getpass.getuser())
    if as_json:
        emit_json(snap.to_dict())
        return
    console.print(f"froze {snap.size:,} members of {name} as of {snap.as_of} (snapshot {snap.id})")


@audience_app.command("delete")
def delete(
    name: str = typer.Argument(..., help="A saved audience's name."),
    project: Path | None = _PROJECT,
) -> None:
    """Delete an audience and its frozen lists."""
    from memberlens.activation.audiences import delete_audience

    gone = delete_audience(project, name)
    console.print(f"deleted audience {gone.name} ({gone.expression})")


@audience_app.command("columns")
def columns(project: Path | None = _PROJECT, as_json: bool = _JSON) -> None:
    """The columns an expression may name, with their kinds."""
    from memberlens.activation.audiences import audience_columns

    found = audience_columns(project)
    if as_json:
        emit_json(found)
        return
    for name, kind in found.items():
        console.print(f"{name}\t{kind}")


@audience_app.command("opt-out")
def opt_out(
    channel: str = typer.Argument(..., help="Channel, e.g. sms, email, wechat."),
    member_ids: list[str] = typer.Argument(None, help="Member ids."),
    file: Path | None = typer.Option(None, "--file", help="A text file of member ids, one a line."),
    undo: bool = typer.Option(False, "--undo", help="Opt them back in."),
    project: Path | None = _PROJECT,
) -> None:
    """Record members who opted out of a channel (or, with --undo, back in)."""
    from memberlens.activation.audiences import add_opt_outs, remove_opt_outs
    from memberlens.exceptions import ConfigError, SourceError

    ids = list(member_ids or [])
    if file is not None:
        try:
            ids += [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(
                f"--file {file}: cannot read ({exc}); give a UTF-8 text file"
            ) from exc
    ids = [m for m in ids if m]
    if not ids:
        raise ConfigError("no member ids: give them as arguments or with --file")
    if undo:
        n = remove_opt_outs(project, ids, channel)
        console.print(f"{n:,} members opted back in to {channel}")
    else:
        n = add_opt_outs(project, ids, channel, source="cli")
        console.print(f"{n:,} new opt-outs from {channel} ({len(set(ids)) - n:,} already there)")
