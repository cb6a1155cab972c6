"""``memberlens serve`` (the dashboard and API) and ``memberlens user`` (accounts and tokens)."""

from __future__ import annotations

from pathlib import Path

import typer

from memberlens.cli._app import app, state

user_app = typer.Typer(
    help="Dashboard accounts: add, list, set-role, passwd, disable, token.", no_args_is_help=True
)
app.add_typer(user_app, name="user")

ProjectOpt = typer.Option(
    None,
    "--project",
    "-p",
    help="Project folder (default: $MEMBERLENS_PROJECT or the current folder).",
)
DatabaseOpt = typer.Option(
    None,
    "--database",
    help="SQLAlchemy URL of the application state "
    "(default: [web] database_url, else DIR/.memberlens/web.sqlite).",
)


@app.command()
def serve(
    project: Path | None = ProjectOpt,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    database: str | None = DatabaseOpt,
    secure_cookies: bool = typer.Option(
        False, "--secure-cookies", help="Mark cookies Secure (serve behind HTTPS)."
    ),
    workers: int = typer.Option(1, help="Worker processes."),
) -> None:
    """Start the web dashboard and JSON API (docs at /docs)."""
    import uvicorn

    from memberlens.project import Project
    from memberlens.web import create_app
    from memberlens.web.app import assets_installed

    proj = Project.load(project)
    app_ = create_app(proj, database=database, secure_cookies=secure_cookies, warm=True)
    if not assets_installed():
        typer.secho(
            "warning: chart assets are not installed; run `npm ci --prefix web` "
            "(charts and /docs need them)",
            fg="yellow",
            err=True,
        )
    from sqlalchemy import func, select

    from memberlens.web.models import User

    with app_.state.ctx.store() as db:
        if not db.scalar(select(func.count()).select_from(User)):
            typer.secho(
                f"no accounts yet: create the first with `memberlens user add NAME "
                f"--role admin --project {proj.root}`, or open "
                f"http://127.0.0.1:{port}/setup on this machine",
                fg="yellow",
                err=True,
            )
    if not state.quiet:
        typer.echo(f"memberlens: serving {proj.name} on http://{host}:{port}  (API docs: /docs)")
    uvicorn.run(
        app_,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        log_level="warning" if state.quiet else "info",
    )


def _store(project: Path | None, database: str | None):
    from memberlens.project import Project
    from memberlens.web.store import database_url, open_store

    proj = Project.load(project)
    return open_store(database or database_url(proj))


def _password(password: str | None) -> str:
    return password or typer.prompt("password", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="User name."),
    role: str = typer.Option("viewer", help="admin, analyst, marketer or viewer."),
    password: str | None = typer.Option(
        None,
        "--password",
        envvar="MEMBERLENS_PASSWORD",
        help="Password (default: asked; or $MEMBERLENS_PASSWORD).",
    ),
    project: Path | None = ProjectOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Create an account (the first one should be an admin)."""
    from memberlens.web.store import add_user, audit

    store = _store(project, database)
    with store() as db:
        user = add_user(db, name, _password(password), role)
        audit(
            db,
            "user_create",
            username=None,
            target=user.username,
            detail={"role": user.role, "via": "cli"},
        )
    if not state.quiet:
        typer.echo(f"created {user.username} ({user.role})")


@user_app.command("list")
def user_list(project: Path | None = ProjectOpt, database: str | None = DatabaseOpt) -> None:
    """List accounts."""
    from sqlalchemy import select

    from memberlens.web.models import User

    with _store(project, database)() as db:
        for u in db.scalars(select(User).order_by(User.username)):
            typer.echo(f"{u.username}\t{u.role}\t{'active' if u.active else 'disabled'}")


@user_app.command("set-role")
def user_set_role(
    name: str,
    role: str = typer.Argument(..., help="The new role."),
    project: Path | None = ProjectOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Change an account's role."""
    from memberlens.exceptions import ConfigError
    from memberlens.web.roles import ROLE_NAMES
    from memberlens.web.store import audit, find_user

    if role not in ROLE_NAMES:
        raise ConfigError(f"role: {role!r} is not a role; use one of {', '.join(ROLE_NAMES)}")
    with _store(project, database)() as db:
        user = find_user(db, name)
        before = user.role
        user.role = role
        db.commit()
        audit(
            db,
            "settings",
            username=None,
            target=name,
            detail={"before": {"role": before}, "after": {"role": role}, "via": "cli"},
        )
    if not state.quiet:
        typer.echo(f"{name}: {before} -> {role}")


@user_app.command("passwd")
def user_passwd(
    name: str,
    password: str | None = typer.Option(None, "--password", envvar="MEMBERLENS_PASSWORD"),
    project: Path | None = ProjectOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Set an account's password."""
    from memberlens.web.store import audit, find_user, hash_password

    with _store(project, database)() as db:
        user = find_user(db, name)
        user.password_hash = hash_password(_password(password))
        db.commit()
        audit(
            db, "settings", username=None, target=name, detail={"password": "changed", "via": "cli"}
        )
    if not state.quiet:
        typer.echo(f"{name}: password changed")


@user_app.command("disable")
def user_disable(
    name: str, project: Path | None = ProjectOpt, database: str | None = DatabaseOpt
) -> None:
    """Disable an account (its sessions and tokens stop working)."""
    from memberlens.web.store import audit, find_user

    with _store(project, database)() as db:
        user = find_user(db, name)
        user.active = False
        db.commit()
        audit(db, "settings", username=None, target=name, detail={"active": False, "via": "cli"})
    if not state.quiet:
        typer.echo(f"{name}: disabled")


@user_app.command("token")
def user_token(
    name: str,
    label: str = typer.Option("script", "--name", help="Token label."),
    project: Path | None = ProjectOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Create an API token for an account and print it (shown once; stored hashed)."""
    from memberlens.web.store import audit, find_user, issue_token

    with _store(project, database)() as db:
        user = find_user(db, name)
        row, clear = issue_token(db, user, label)
        audit(
            db,
            "token_create",
            username=None,
            target=str(row.id),
            detail={"user": name, "via": "cli"},
        )
    typer.echo(clear)
