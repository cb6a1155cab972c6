"""Who is calling: session cookies for the pages, Bearer API tokens for scripts, CSRF, rate limits.

* Sessions: a random token in the ``ml_session`` cookie (HttpOnly, SameSite=Lax, Secure behind
  HTTPS); only its SHA-256 digest is stored, so the state database cannot be replayed. Logging out
  revokes it server-side.
* API tokens: ``Authorization: Bearer mlt_...``; stored as SHA-256 digests, revocable, with
  scopes (:data:`memberlens.web.roles.SCOPES`) and an expiry; a token may only create tokens with
  its own scopes or fewer and no longer life, and revoking it revokes what it created.
* CSRF: double submit. A random ``ml_csrf`` cookie is set with every page; forms carry it as
  ``csrf_token`` and scripts as the ``X-CSRF-Token`` header. Any unsafe request authenticated by
  cookie must match it (Bearer requests carry no ambient credentials and need none).
* Login throttling, by (account, address): after :data:`MAX_FAILURES_PER_USER` failures of one
  account from one address (since its last success, within :data:`FAILURE_MEMORY`) each further
  try waits :func:`login_delay` (30 s, doubling, at most 15 minutes); the same account from
  another address is not slowed by them. Any address gets at most :data:`MAX_FAILURES_PER_IP`
  failures in :data:`WINDOW`. ``memberlens user unlock NAME`` clears an account's failures.
* Client address: the TCP peer; ``X-Forwarded-For`` only when the peer is one of the proxies in
  ``[web] trusted_proxies`` of the project file (none by default).
* Access rules: every route declares one (:data:`memberlens.web.roles.Access`), read by
  :func:`route_access`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Depends, Request, Response
from sqlalchemy import func, select

from memberlens.exceptions import ConfigError
from memberlens.project import Project
from memberlens.web.context import WebContext, ctx
from memberlens.web.errors import CsrfError, Forbidden, NotAuthenticated, RateLimited
from memberlens.web.models import ApiToken, LoginAttempt, Session, User, utcnow
from memberlens.web.roles import Access, Permission, allows, parse_scopes, scope_permissions
from memberlens.web.store import audit, authenticate, digest, session_lifetime

SESSION_COOKIE = "ml_session"
CSRF_COOKIE = "ml_csrf"
CSRF_HEADER = "x-csrf-token"
#: failures of one account from one address before each further try is delayed
MAX_FAILURES_PER_USER = 5
#: failures from one address (any account) in :data:`WINDOW` before it is refused
MAX_FAILURES_PER_IP = 20
WINDOW = dt.timedelta(minutes=15)
#: failures older than this (or before the pair's last success) no longer count
FAILURE_MEMORY = dt.timedelta(hours=24)
FIRST_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(minutes=15)
_SAFE = {"GET", "HEAD", "OPTIONS"}
F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: str
    via: str  # "session" or "token"
    #: a token's scopes (None for a session: the role alone decides)
    scopes: frozenset[str] | None = None
    token_id: int | None = None
    token_expires_at: dt.datetime | None = None

    def can(self, permission: Permission) -> bool:
        if not allows(self.role, permission):
            return False
        return self.scopes is None or permission in scope_permissions(self.scopes)


# -- client address ---------------------------------------------------------------------------
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies(project: Project) -> tuple[Network, ...]:
    """``[web] trusted_proxies`` of the project file: addresses or networks of reverse proxies
    whose ``X-Forwarded-For`` is believed (none by default)."""
    raw = dict(project.settings.get("web", {})).get("trusted_proxies", [])
    if isinstance(raw, str):
        raw = [raw]
    out = []
    for item in raw:
        try:
            out.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(
                f"{project.file}: [web] trusted_proxies: {item!r} is not an address or "
                'network; use e.g. ["127.0.0.1", "10.0.0.0/8"]'
            ) from exc
    return tuple(out)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def forwarded_client(peer: str, forwarded_for: str | None, proxies: Iterable[Network]) -> str:
    """The client's address: ``peer`` unless it is a trusted proxy; then the right-most address
    of ``X-Forwarded-For`` that is not a trusted proxy (each proxy appends the one it saw)."""
    proxies = tuple(proxies)

    def trusted(text: str) -> bool:
        ip = _address(text)
        return ip is not None and any(ip in net for net in proxies)

    if not forwarded_for or not trusted(peer):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if _address(hop) is None:
            return peer  # a malformed header: believe nothing in it
        if not trusted(hop):
            return hop
    return hops[0] if hops else peer


def client_ip(request: Request) -> str:
    """The caller's address (see :func:`forwarded_client`)."""
    peer = request.client.host if request.client else "unknown"
    proxies = getattr(request.app.state, "trusted_proxies", ())
    return forwarded_client(peer, request.headers.get("x-forwarded-for"), proxies)


# -- callers ----------------------------------------------------------------------------------
def _from_token(c: WebContext, token: str) -> Principal | None:
    with c.store() as db:
        row = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
        now = utcnow()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            return None
        user = db.get(User, row.user_id)
        if user is None or not user.active:
            return None
        if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
            row.last_used_at = now
            db.commit()
        return Principal(
            user.id,
            user.username,
            user.role,
            "token",
            scopes=parse_scopes(row.scopes),
            token_id=row.id,
            token_expires_at=row.expires_at,
        )


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
                "Authorization: the Bearer token is unknown, revoked or expired; "
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
    """Dependency: the caller must be logged in (and hold ``permission``). Declares the route's
    access rule (``permission``, or ``"login"``)."""

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

    dependency.access = permission or "login"  # type: ignore[attr-defined]
    return Depends(dependency)


def public(endpoint: F) -> F:
    """Declare a route open to anyone (login and first-run pages, health check)."""
    endpoint.access = "public"  # type: ignore[attr-defined]
    return endpoint


def declare(access: Access) -> Callable:
    """Declare the access rule of a route that checks it itself (the HTML pages)."""

    def mark(endpoint: F) -> F:
        endpoint.access = access  # type: ignore[attr-defined]
        return endpoint

    return mark


#: routes the framework adds, open to anyone: the OpenAPI schema and the static files
FRAMEWORK_PUBLIC = frozenset({"/openapi.json", "/static"})


@dataclass(frozen=True)
class RouteRule:
    """One route of the app (as the route table lists it) and its declared access rule."""

    path: str
    methods: frozenset[str]
    access: Access | None


def route_rules(app) -> list[RouteRule]:
    """Every route of ``app`` (routers included, prefixes applied) with its access rule."""
    from fastapi.routing import iter_route_contexts

    out = []
    for rc in iter_route_contexts(app.routes):
        route = rc.original_route
        path = str(rc.path or getattr(route, "path", ""))
        out.append(RouteRule(path, frozenset(rc.methods or ()), route_access(route, path)))
    return out


def route_access(route, path: str | None = None) -> Access | None:
    """The access rule a route declares, or None when it declares none."""
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dep = stack.pop()
        if hasattr(dep.call, "access"):
            return dep.call.access
        stack.extend(dep.dependencies)
    endpoint = getattr(route, "endpoint", None)
    if endpoint is not None and hasattr(endpoint, "access"):
        return endpoint.access
    if (path or getattr(route, "path", None)) in FRAMEWORK_PUBLIC:
        return "public"
    return None


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


def login_delay(failures: int) -> dt.timedelta:
    """How long one (account, address) waits after ``failures`` recent failures: nothing for the
    first :data:`MAX_FAILURES_PER_USER`, then 30 s doubling with each failure, at most 15 min."""
    if failures < MAX_FAILURES_PER_USER:
        return dt.timedelta(0)
    doublings = min(failures - MAX_FAILURES_PER_USER, 10)
    return min(FIRST_DELAY * 2**doublings, MAX_DELAY)


def _pair_failures(db, username: str, ip: str, now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Failures of ``username`` from ``ip`` since their last success (within
    :data:`FAILURE_MEMORY`), and the time of the last one."""
    pair = (LoginAttempt.username == username, LoginAttempt.ip == ip)
    since = now - FAILURE_MEMORY
    last_ok = db.scalar(
        select(func.max(LoginAttempt.at)).where(*pair, LoginAttempt.success.is_(True))
    )
    if last_ok is not None and last_ok > since:
        since = last_ok
    n, last = db.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            *pair, LoginAttempt.success.is_(False), LoginAttempt.at > since
        )
    ).one()
    return int(n or 0), last


def _address_failures(db, ip: str, now: dt.datetime) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.ip == ip,
                LoginAttempt.at >= now - WINDOW,
                LoginAttempt.success.is_(False),
            )
        )
        or 0
    )


def _throttle(db, username: str, ip: str) -> None:
    """Raise :class:`RateLimited` while this (account, address) or this address must wait."""
    now = utcnow()
    failures, last = _pair_failures(db, username, ip, now)
    wait = (last + login_delay(failures) - now) if last is not None else dt.timedelta(0)
    if wait > dt.timedelta(0):
        audit(db, "login_blocked", username=username, ip=ip, detail={"failures": failures})
        raise RateLimited(
            f"too many failed logins for {username!r} from {ip}; wait "
            f"{int(wait.total_seconds()) + 1} seconds and try again (an admin can clear "
            f"them with `memberlens user unlock {username}`)"
        )
    if _address_failures(db, ip, now) >= MAX_FAILURES_PER_IP:
        audit(db, "login_blocked", username=username, ip=ip, detail={"address": True})
        raise RateLimited(
            f"too many failed logins from {ip}; wait "
            f"{int(WINDOW.total_seconds() // 60)} minutes and try again"
        )


def login(request: Request, response: Response, username: str, password: str) -> Principal:
    """Check the password (throttled), open a session and set its cookie."""
    c = ctx(request)
    ip = client_ip(request)
    username = username.strip()[:64]
    with c.store() as db:
        _throttle(db, username, ip)
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
