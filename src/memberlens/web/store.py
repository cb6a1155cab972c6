"""Opening the application-state database and the account operations the CLI and admin page use."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from memberlens.exceptions import ConfigError
from memberlens.project import Project
from memberlens.web.errors import Forbidden
from memberlens.web.models import ApiToken, AuditEvent, LoginAttempt, Session, User, utcnow
from memberlens.web.passwords import check_password
from memberlens.web.roles import (
    DEFAULT_SCOPES,
    MAX_TOKEN_DAYS,
    ROLE_NAMES,
    SCOPE_NAMES,
    TOKEN_DAYS,
    parse_scopes,
)

_HASHER = PasswordHasher()  # argon2id, the library's current defaults (RFC 9106 profile)
TOKEN_PREFIX = "mlt_"


def database_url(project: Project) -> str:
    """``$MEMBERLENS_WEB_DATABASE_URL``, else ``[web] database_url``, else SQLite in state_dir."""
    url = os.environ.get("MEMBERLENS_WEB_DATABASE_URL") or dict(
        project.settings.get("web", {})
    ).get("database_url")
    if url:
        return str(url)
    project.state_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{project.state_dir / 'web.sqlite'}"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@dataclass
class Store:
    """The state database: an engine and a session factory."""

    engine: Engine
    sessions: sessionmaker

    def __call__(self) -> DbSession:
        return self.sessions()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite ``url`` (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    return None if name.startswith("file:") else Path(name)


def _create_private(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600) before SQLite creates it with
    the umask's mode (usually 0644): it holds password hashes and the audit log. SQLite gives
    its -wal and -shm files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # an existing file keeps its mode; `memberlens serve` warns when it is wider


def open_store(url: str) -> Store:
    """Connect to ``url``, run the migrations and return the :class:`Store`."""
    kwargs = {}
    file = sqlite_path(url)
    if file is not None:
        _create_private(file)
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, future=True, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    migrate(engine)
    return Store(engine, sessionmaker(engine, expire_on_commit=False))


def digest(token: str) -> str:
    """SHA-256 of a random token: what is stored instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str, *, username: str | None = None) -> str:
    """The argon2 hash of ``password`` once it passes :func:`memberlens.web.passwords.check_password`."""
    check_password(password, username=username)
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


# A fixed hash to verify against when the user does not exist, so that both cases take as long.
_DUMMY_HASH = _HASHER.hash("memberlens-no-such-user")


def authenticate(db: DbSession, username: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)
        return None
    return user if verify_password(user.password_hash, password) else None


def add_user(db: DbSession, username: str, password: str, role: str) -> User:
    """Create an account (``memberlens user add``)."""
    if role not in ROLE_NAMES:
        raise ConfigError(f"role: {role!r} is not a role; use one of {', '.join(ROLE_NAMES)}")
    if (
        not username
        or len(username) > 64
        or not username.replace("_", "")
        .replace("-", "")
        .replace(".", "")
        .replace("@", "")
        .isalnum()
    ):
        raise ConfigError(
            f"username: {username!r} must be 1-64 letters, digits, '.', '-', '_' "
            "or '@'; choose another"
        )
    if db.scalar(select(User).where(User.username == username)) is not None:
        raise ConfigError(
            f"username: {username!r} exists already; use `memberlens user "
            "set-role` or `user passwd` to change it"
        )
    user = User(
        username=username,
        password_hash=hash_password(password, username=username),
        role=role,
        active=True,
        created_at=utcnow(),
    )
    db.add(user)
    db.commit()
    return user


def find_user(db: DbSession, username: str) -> User:
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise ConfigError(
            f"username: no account {username!r}; list them with `memberlens user list`"
        )
    return user


def issue_token(
    db: DbSession,
    user: User,
    name: str,
    *,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    days: int = TOKEN_DAYS,
    parent: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """A new API token for ``user``: returns the row and the clear token (shown once).

    ``scopes``: what it covers besides the role (:data:`memberlens.web.roles.SCOPES`); ``days``:
    its life (1 to :data:`MAX_TOKEN_DAYS`); ``parent``: the token that creates it, whose scopes
    and expiry it may not exceed and whose revocation revokes it.
    """
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in SCOPE_NAMES]
    if unknown or not wanted:
        raise ConfigError(
            f"scopes: {', '.join(unknown) or 'none given'}; use one or more of "
            f"{', '.join(SCOPE_NAMES)}"
        )
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ConfigError(f"days: {days} is outside 1-{MAX_TOKEN_DAYS}; pass a shorter life")
    now = utcnow()
    expires_at = now + dt.timedelta(days=days)
    if parent is not None:
        extra = set(wanted) - parse_scopes(parent.scopes)
        if extra:
            raise Forbidden(
                f"scopes: this token may not create a token with {', '.join(sorted(extra))}; "
                "ask for its own scopes or fewer, or log in to create it"
            )
        if expires_at > parent.expires_at:
            raise Forbidden(
                f"days: a token made by this token must expire by {parent.expires_at:%Y-%m-%d}"
                f" (its own expiry); pass fewer days"
            )
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=digest(clear),
        prefix=clear[:10],
        name=name[:64] or "token",
        user_id=user.id,
        created_at=now,
        scopes=",".join(wanted),
        expires_at=expires_at,
        parent_id=None if parent is None else parent.id,
    )
    db.add(row)
    db.commit()
    return row, clear


def revoke_token(db: DbSession, token: ApiToken) -> list[int]:
    """Revoke ``token`` and every token made from it, at any depth; the ids revoked."""
    now = utcnow()
    done: list[int] = []
    frontier = [token]
    while frontier:
        for row in frontier:
            if row.revoked_at is None:
                row.revoked_at = now
                done.append(row.id)
        ids = [row.id for row in frontier]
        frontier = list(db.scalars(select(ApiToken).where(ApiToken.parent_id.in_(ids))).all())
    db.commit()
    return done


def live_tokens(db: DbSession, user: User) -> list[ApiToken]:
    """``user``'s tokens that still authenticate (not revoked, not expired)."""
    return list(
        db.scalars(
            select(ApiToken)
            .where(
                ApiToken.user_id == user.id,
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > utcnow(),
            )
            .order_by(ApiToken.id)
        ).all()
    )


def end_sessions(db: DbSession, user: User, *, keep: str | None = None) -> int:
    """Revoke ``user``'s open sessions (except the one whose token digest is ``keep``)."""
    q = select(Session).where(Session.user_id == user.id, Session.revoked.is_(False))
    rows = [r for r in db.scalars(q).all() if r.token_hash != keep]
    for r in rows:
        r.revoked = True
    db.commit()
    return len(rows)


def set_password(db: DbSession, user: User, password: str, *, keep: str | None = None) -> int:
    """Change ``user``'s password and end every other session; the sessions ended. API tokens
    stay valid: list them with :func:`live_tokens` for the user to revoke."""
    user.password_hash = hash_password(password, username=user.username)
    db.commit()
    return end_sessions(db, user, keep=keep)


def disable_user(db: DbSession, user: User) -> tuple[int, int]:
    """Disable ``user`` and end all its sessions and API tokens: (sessions, tokens) ended."""
    user.active = False
    db.commit()
    tokens = sum(len(revoke_token(db, t)) for t in live_tokens(db, user))
    return end_sessions(db, user), tokens


def unlock(db: DbSession, username: str) -> int:
    """Forget the failed logins of ``username`` (``memberlens user unlock``); how many."""
    rows = db.scalars(
        select(LoginAttempt).where(
            LoginAttempt.username == username, LoginAttempt.success.is_(False)
        )
    ).all()
    for r in rows:
        db.delete(r)
    db.commit()
    return len(rows)


def audit(
    db: DbSession,
    action: str,
    *,
    username: str | None,
    target: str | None = None,
    detail: dict | None = None,
    ip: str | None = None,
) -> None:
    """Append one event to the audit log (login, logout, reveal, export, settings, users...)."""
    db.add(
        AuditEvent(
            at=utcnow(), username=username, action=action, target=target, detail=detail, ip=ip
        )
    )
    db.commit()


def session_lifetime() -> dt.timedelta:
    return dt.timedelta(hours=12)
