"""Opening the application-state database and the account operations the CLI and admin page use."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
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
from memberlens.web.models import ApiToken, AuditEvent, User, utcnow
from memberlens.web.roles import ROLE_NAMES

_HASHER = PasswordHasher()  # argon2id, the library's current defaults (RFC 9106 profile)
MIN_PASSWORD = 10
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


def open_store(url: str) -> Store:
    """Connect to ``url``, run the migrations and return the :class:`Store`."""
    kwargs = {}
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


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(
            f"password: must have at least {MIN_PASSWORD} characters, got "
            f"{len(password)}; choose a longer one"
        )
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
        password_hash=hash_password(password),
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


def issue_token(db: DbSession, user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token for ``user``: returns the row and the clear token (shown once)."""
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=digest(clear),
        prefix=clear[:10],
        name=name[:64] or "token",
        user_id=user.id,
        created_at=utcnow(),
    )
    db.add(row)
    db.commit()
    return row, clear


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
