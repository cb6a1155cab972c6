"""``memberlens serve`` (the dashboard and API) and ``memberlens user`` (accounts and tokens)."""

from __future__ import annotations

from pathlib import Path

import typer

from memberlens.cli._app import app, state

user_app = typer.Typer(
    help="Dashboard accounts: add, list, set-role, passwd, disable, unlock, token, tokens, "
    "revoke-token.",
    no_args_is_help=True,
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

    from memberlens.web.filemodes import loose_files
    from memberlens.web.models import User

    for warning in loose_files(proj, app_.state.ctx.store.engine.url):
        typer.secho(f"warning: {warning}", fg="yellow", err=True)
    with app_.state.ctx.store() as db:
        if not db.scalar(select(func.count()).select_from(User)):
            typer.secho(
                f"no accounts yet: create the first with `memberlens user add NAME "
                f"--role admin --project {proj.root}`, or open this one-time link in a "
                f"browser on this machine:\n  http://127.0.0.1:{port}/setup?token="
                f"{app_.state.setup_token}",
                fg="yellow",
                err=True,
            )
    if not state.quiet:
        typer.echo(f"memberlens: serving {proj.name} on http://{host}:{port}  (API docs: /docs)")
    uvicorn.run(app_, **uvicorn_options(host, port, workers, quiet=state.quiet))


def uvicorn_options(host: str, port: int, workers: int, *, quiet: bool) -> dict:
    """How ``serve`` runs uvicorn. ``proxy_headers`` is off: uvicorn would otherwise believe
    ``X-Forwarded-For`` from 127.0.0.1; the app trusts only ``[web] trusted_proxies``."""
    return {
        "host": host,
        "port": port,
        "workers": workers if workers > 1 else None,
        "log_level": "warning" if quiet else "info",
        "proxy_headers": False,
        "server_header": False,
    }


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
    """Set an account's password; ends its sessions and lists its API tokens to revoke."""
    from memberlens.web.store import audit, find_user, live_tokens, set_password

    with _store(project, database)() as db:
        user = find_user(db, name)
        ended = set_password(db, user, _password(password))
        tokens = live_tokens(db, user)
        audit(
            db,
            "settings",
            username=None,
            target=name,
            detail={"password": "changed", "sessions_ended": ended, "via": "cli"},
        )
    if not state.quiet:
        typer.echo(f"{name}: password changed; {ended} session(s) ended")
    if tokens:
        typer.echo(
            f"{name} still has {len(tokens)} API token(s); revoke any that may be known to "
            "someone else with `memberlens user revoke-token ID`:"
        )
        for t in tokens:
            typer.echo(_token_line(t))


@user_app.command("disable")
def user_disable(
    name: str, project: Path | None = ProjectOpt, database: str | None = DatabaseOpt
) -> None:
    """Disable an account and end its sessions and API tokens."""
    from memberlens.web.store import audit, disable_user, find_user

    with _store(project, database)() as db:
        user = find_user(db, name)
        sessions, tokens = disable_user(db, user)
        audit(
            db,
            "settings",
            username=None,
            target=name,
            detail={
                "active": False,
                "sessions_ended": sessions,
                "tokens_revoked": tokens,
                "via": "cli",
            },
        )
    if not state.quiet:
        typer.echo(f"{name}: disabled; {sessions} session(s) and {tokens} API token(s) ended")


@user_app.command("unlock")
def user_unlock(
    name: str, project: Path | None = ProjectOpt, database: str | None = DatabaseOpt
) -> None:
    """Clear an account's failed logins (lifts the login delay from every address)."""
    from memberlens.web.store import audit, find_user, unlock

    with _store(project, database)() as db:
        find_user(db, name)
        cleared = unlock(db, name)
        audit(db, "unlock", username=None, target=name, detail={"failures_cleared": cleared})
    if not state.quiet:
        typer.echo(f"{name}: {cleared} failed login(s) cleared")


@user_app.command("token")
def user_token(
    name: str,
    label: str = typer.Option("script", "--name", help="Token label."),
    scope: list[str] = typer.Option(
        ["read"],
        "--scope",
        help="What the token may do besides the role allows: read, export, ingest, admin "
        "(repeat the option for several).",
    ),
    days: int = typer.Option(90, help="Days until the token expires (1-365)."),
    project: Path | None = ProjectOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Create an API token for an account and print it (shown once; stored hashed)."""
    from memberlens.web.store import audit, find_user, issue_token

    with _store(project, database)() as db:
        user = find_user(db, name)
        row, clear = issue_token(db, user, label, scopes=scope, days=days)
        audit(
            db,
            "token_create",
            username=None,
            target=str(row.id),
            detail={"user": name, "scopes": row.scopes, "via": "cli"},
        )
    typer.echo(clear)


def _token_line(t) -> str:
    from memberlens.web.models import utcnow

    state_ = "revoked" if t.revoked_at else ("expired" if t.expires_at <= utcnow() else "active")
    used = t.last_used_at.strftime("%Y-%m-%d") if t.last_used_at else "never"
    return (
        f"{t.id}\t{t.prefix}…\t{t.name}\t{t.scopes}\texpires {t.expires_at:%Y-%m-%d}\t"
        f"last used {used}\t{state_}"
    )


@user_app.command("tokens")
def user_tokens(
    name: str, project: Path | None = ProjectOpt, database: str | None = DatabaseOpt
) -> None:
    """List an account's API tokens (id, prefix, name, scopes, expiry, last use, state)."""
    from sqlalchemy import select

    from memberlens.web.models import ApiToken
    from memberlens.web.store import find_user

    with _store(project, database)() as db:
        user = find_user(db, name)
        for t in db.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
        ):
            typer.echo(_token_line(t))


@user_app.command("revoke-token")
def user_revoke_token(
    token_id: int = typer.Argument(..., help="Token id (see `memberlens user tokens NAME`)."),
    project: Path | None = ProjectOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Revoke an API token and every token it created."""
    from memberlens.exceptions import ConfigError
    from memberlens.web.models import ApiToken
    from memberlens.web.store import audit, revoke_token

    with _store(project, database)() as db:
        row = db.get(ApiToken, token_id)
        if row is None:
            raise ConfigError(
                f"token {token_id}: no such token; list them with `memberlens user tokens NAME`"
            )
        revoked = revoke_token(db, row)
        audit(
            db,
            "token_revoke",
            username=None,
            target=str(token_id),
            detail={"revoked": revoked, "via": "cli"},
        )
    if not state.quiet:
        typer.echo(f"revoked token(s) {', '.join(map(str, revoked)) or 'none (already revoked)'}")
