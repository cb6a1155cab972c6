"""Who is calling: session cookies for the pages, Bearer API tokens for scripts, CSRF, rate limits.

* Sessions: a random token in the ``ml_session`` cookie (HttpOnly, SameSite=Lax, Secure behind
  HTTPS); only its SHA-256 digest is stored, so the state database cannot be replayed. Logging out
  revokes it server-side.
* API tokens: ``Authorization: Bearer mlt_...``; stored as SHA-256 digests, revocable.
* CSRF: double submit. A random ``ml_csrf`` cookie is set with every page; forms carry it as
  ``csrf_token`` and scripts as the ``X-CSRF-Token`` header. Any unsafe request authenticated by
  cookie must match it (Bearer requests carry no ambient credentials and need none).
* Login rate limit: at most :data:`MAX_FAILURES_PER_USER` failures per user name and
  :data:`MAX_FAILURES_PER_IP` per client address in :data:`WINDOW`; then 429 until it passes.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Depends, Request, Response
from sqlalchemy import func, select

from memberlens.web.context import WebContext, ctx
from memberlens.web.errors import CsrfError, Forbidden, NotAuthenticated, RateLimited
from memberlens.web.models import ApiToken, LoginAttempt, Session, User, utcnow
from memberlens.web.roles import Permission, allows
from memberlens.web.store import audit, authenticate, digest, session_lifetime

SESSION_COOKIE = "ml_session"
CSRF_COOKIE = "ml_csrf"
CSRF_HEADER = "x-csrf-token"
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 20
WINDOW = dt.timedelta(minutes=15)
_SAFE = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: str
    via: str  # "session" or "token"

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _from_token(c: WebContext, token: str) -> Principal | None:
    with c.store() as db:
        row = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
        if row is None or row.revoked_at is not None:
            return None
        user = db.get(User, row.user_id)
        if user is None or not user.active:
            return None
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
            row.last_used_at = now
            db.commit()
        return Principal(user.id, user.username, user.role, "token")


def _from_session(c: WebContext, token: str) -> Principal | None:
    with c.store() as db:
        row = db.scalar(select(Session).where(Session.token_hash == digest(token)))
        if row is None or row.revoked or row.expires_at < utcnow():
            return None
        user = db.get(User, row.user_id)
        if user is None or not user.active:
            return None
        return Principal(user.id, user.username, user.role, "session")


def principal(request: Request) -> Principal | None:
    """The caller, or None. Cached on the request."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    c = ctx(request)
    found = None
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        found = _from_token(c, header[7:].strip())
        if found is None:
            raise NotAuthenticated(
                "Authorization: the Bearer token is unknown or revoked; "
                "create one on the account page or with `memberlens user token`"
            )
    elif request.cookies.get(SESSION_COOKIE):
        found = _from_session(c, request.cookies[SESSION_COOKIE])
    request.state.principal = found
    return found


async def check_csrf(request: Request) -> None:
    """Refuse an unsafe cookie-authenticated request whose CSRF token does not match."""
    if request.method in _SAFE:
        return
    if request.headers.get("authorization", "")[:7].lower() == "bearer ":
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        sent = str(form.get("csrf_token", ""))
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise CsrfError(
            "csrf_token: missing or does not match the ml_csrf cookie; reload the "
            "page and submit again (scripts: use an API token instead)"
        )


def require(permission: Permission | None = None):
    """Dependency: the caller must be logged in (and hold ``permission``)."""

    async def dependency(request: Request) -> Principal:
        await check_csrf(request)
        who = principal(request)
        if who is None:
            raise NotAuthenticated(
                "not logged in: log in at /login or send `Authorization: Bearer TOKEN`"
            )
        if permission is not None and not who.can(permission):
            raise Forbidden(
                f"role {who.role!r} may not {permission.replace('_', ' ')}; ask an "
                "admin for a role that may"
            )
        return who

    return Depends(dependency)


def csrf_token(request: Request, response: Response | None = None) -> str:
    """The CSRF token of this browser (a new one is set as a cookie when missing)."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if token is None:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def set_csrf_cookie(request: Request, response: Response) -> None:
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=ctx(request).secure_cookies,
            path="/",
        )


def _failures(db, column, value) -> int:
    since = utcnow() - WINDOW
    return int(
        db.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(column == value, LoginAttempt.at >= since, LoginAttempt.success.is_(False))
        )
        or 0
    )


def login(request: Request, response: Response, username: str, password: str) -> Principal:
    """Check the password (rate limited), open a session and set its cookie."""
    c = ctx(request)
    ip = client_ip(request)
    username = username.strip()[:64]
    with c.store() as db:
        if (
            _failures(db, LoginAttempt.username, username) >= MAX_FAILURES_PER_USER
            or _failures(db, LoginAttempt.ip, ip) >= MAX_FAILURES_PER_IP
        ):
            audit(db, "login_blocked", username=username, ip=ip)
            raise RateLimited(
                f"too many failed logins for {username!r} or from {ip}; wait "
                f"{int(WINDOW.total_seconds() // 60)} minutes and try again"
            )
        user = authenticate(db, username, password)
        db.add(LoginAttempt(username=username, ip=ip, at=utcnow(), success=user is not None))
        db.commit()
        if user is None:
            audit(db, "login_failed", username=username, ip=ip)
            raise NotAuthenticated("username or password is wrong")
        token = secrets.token_urlsafe(32)
        db.add(
            Session(
                token_hash=digest(token),
                user_id=user.id,
                created_at=utcnow(),
                expires_at=utcnow() + session_lifetime(),
                revoked=False,
            )
        )
        db.commit()
        audit(db, "login", username=user.username, ip=ip)
        who = Principal(user.id, user.username, user.role, "session")
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=c.secure_cookies,
        max_age=int(session_lifetime().total_seconds()),
        path="/",
    )
    return who


def logout(request: Request, response: Response) -> None:
    c = ctx(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with c.store() as db:
            row = db.scalar(select(Session).where(Session.token_hash == digest(token)))
            if row is not None:
                row.revoked = True
                db.commit()
                user = db.get(User, row.user_id)
                audit(db, "logout", username=user.username if user else None, ip=client_ip(request))
    response.delete_cookie(SESSION_COOKIE, path="/")
