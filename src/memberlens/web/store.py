"""The account operations the CLI and admin page use, on the application-state store.

Opening the store (:func:`open_store`, :func:`database_url`, the migrations) lives in the core
module :mod:`memberlens.appstate`, which the services import too; it is re-exported here for the
web layer's callers."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from memberlens.appstate import Store, database_url, migrate, open_store, sqlite_path
from memberlens.exceptions import ConfigError
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

# Store, database_url, migrate, open_store, sqlite_path: re-exported from memberlens.appstate
__all__ = [
    "TOKEN_PREFIX",
    "Store",
    "add_user",
    "audit",
    "authenticate",
    "database_url",
    "digest",
    "disable_user",
    "end_sessions",
    "find_user",
    "hash_password",
    "issue_token",
    "live_tokens",
    "migrate",
    "open_store",
    "revoke_token",
    "session_lifetime",
    "set_password",
    "sqlite_path",
    "unlock",
    "verify_password",
]

_HASHER = PasswordHasher()  # argon2id, the library's current defaults (RFC 9106 profile)
TOKEN_PREFIX = "mlt_"


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
