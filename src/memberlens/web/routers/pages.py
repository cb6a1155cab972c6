"""HTML pages, rendered by Jinja2. Each page's charts and tables fetch the documented /api/ JSON."""

from __future__ import annotations

import hmac
import json
import threading
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from memberlens.web.auth import (
    Principal,
    check_csrf,
    client_ip,
    csrf_token,
    declare,
    login,
    logout,
    principal,
    public,
    set_csrf_cookie,
)
from memberlens.web.context import ctx
from memberlens.web.errors import MemberlensError
from memberlens.web.i18n import LANG_COOKIE, catalogue, request_lang, text
from memberlens.web.models import User
from memberlens.web.roles import Permission, role_matrix
from memberlens.web.store import add_user, audit

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))

#: (path, page id, message key, permission) in menu order
NAV: tuple[tuple[str, str, str, Permission], ...] = (
    ("/", "overview", "nav.overview", "view_kpis"),
    ("/segments", "segments", "nav.segments", "view_kpis"),
    ("/members", "members", "nav.members", "view_members"),
    ("/audiences", "audiences", "nav.audiences", "view_kpis"),
    ("/value", "value", "nav.value", "view_kpis"),
    ("/cohorts", "cohorts", "nav.cohorts", "view_kpis"),
    ("/geo", "geo", "nav.geo", "view_kpis"),
    ("/baskets", "baskets", "nav.baskets", "view_kpis"),
    ("/campaigns", "campaigns", "nav.campaigns", "view_campaigns"),
    ("/experiments", "experiments", "nav.experiments", "view_campaigns"),
    ("/triggers", "triggers", "nav.triggers", "view_kpis"),
    ("/data", "data", "nav.data", "view_data"),
    ("/admin", "admin", "nav.admin", "view_audit"),
)


def page_context(request: Request, who: Principal | None, page: str, **extra) -> dict:
    c = ctx(request)
    lang = request_lang(request, c.project.locale)
    return {
        "request": request,
        "lang": lang,
        "t": lambda key, **kw: text(key, lang, **kw),
        "other_lang": "en" if lang == "zh-CN" else "zh-CN",
        "page": page,
        "user": who,
        "csrf": csrf_token(request),
        "currency": c.project.currency,
        "project": c.project.name,
        "as_of": c.project.as_of.isoformat() if c.project.as_of else "",
        "nav": [n for n in NAV if who is not None and who.can(n[3])],
        "i18n_json": json.dumps(catalogue(lang), ensure_ascii=False),
        **extra,
    }


def render(
    request: Request, template: str, page: str, who: Principal | None, *, status: int = 200, **extra
) -> HTMLResponse:
    context = page_context(request, who, page, **extra)
    response = templates.TemplateResponse(request, template, context, status_code=status)
    set_csrf_cookie(request, response)
    if request.query_params.get("lang") in ("zh-CN", "en"):
        response.set_cookie(
            LANG_COOKIE,
            context["lang"],
            samesite="lax",
            httponly=True,
            max_age=365 * 86400,
            path="/",
        )
    return response


def _show(request: Request, page: str, template: str, permission: Permission, **params) -> Response:
    who = principal(request)
    if who is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    if not who.can(permission):
        return render(
            request,
            "error.html",
            page,
            who,
            status=403,
            message=text("error.forbidden", request_lang(request, ctx(request).project.locale)),
        )
    return render(request, template, page, who, **params)


def _page(page: str, template: str, permission: Permission):
    @declare(permission)
    def view(request: Request) -> Response:
        return _show(request, page, template, permission)

    return view


for _path, _id, _key, _perm in NAV:
    if _id != "admin":
        router.add_api_route(
            _path, _page(_id, f"{_id}.html", _perm), methods=["GET"], response_class=HTMLResponse
        )


@router.get("/members/{member_id}", response_class=HTMLResponse)
@declare("view_members")
def member_page(request: Request, member_id: str) -> Response:
    return _show(request, "members", "member.html", "view_members", member_id=member_id)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
@declare("view_campaigns")
def campaign_page(request: Request, campaign_id: str) -> Response:
    from memberlens.activation.campaigns import find_campaign
    from memberlens.exceptions import NotFoundError

    try:  # a campaign memberlens sends (in the app state) gets the send panel
        find_campaign(ctx(request).store.engine, campaign_id)
        sendable = True
    except NotFoundError:
        sendable = False
    return _show(
        request,
        "campaigns",
        "campaign.html",
        "view_campaigns",
        campaign_id=campaign_id,
        sendable=sendable,
    )


@router.get("/admin", response_class=HTMLResponse)
@declare("view_audit")
def admin_page(request: Request) -> Response:
    return _show(request, "admin", "admin.html", "view_audit", roles=role_matrix())


@router.get("/account", response_class=HTMLResponse)
@declare("login")
def account_page(request: Request) -> Response:
    who = principal(request)
    if who is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    return render(request, "account.html", "account", who)


def _safe_next(target: str | None) -> str:
    """Only same-site paths (no //host or scheme) may be redirected to after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _has_users(request: Request) -> bool:
    with ctx(request).store() as db:
        return db.scalar(select(User.id).limit(1)) is not None


@router.get("/login", response_class=HTMLResponse)
@public
def login_page(request: Request, next: str | None = None) -> Response:
    if not _has_users(request):
        if is_local(request):  # first start: create the first admin on this machine
            return RedirectResponse("/setup", status_code=303)
        return render(
            request, "login.html", "login", None, next=_safe_next(next), error=None, no_account=True
        )
    return render(request, "login.html", "login", None, next=_safe_next(next), error=None)


# -- first run --------------------------------------------------------------------------------
#: the peer addresses that may use the first-run page (this machine; not 127.0.0.0/8 at large)
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
#: the Host names the first-run page answers to (a DNS-rebound name is none of these)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_SETUP_LOCK = threading.Lock()


def is_local(request: Request) -> bool:
    """Whether the TCP peer is this machine. (Behind a reverse proxy on the same host every
    request looks local: create the first account before exposing the app that way.)"""
    return client_ip(request) in LOCAL_ADDRESSES


def _host_name(netloc: str) -> str:
    return (urlsplit(f"//{netloc}").hostname or "").lower()


def loopback_host(request: Request) -> bool:
    """Whether the Host header names this machine (127.0.0.1, localhost or [::1])."""
    return _host_name(request.headers.get("host", "")) in LOOPBACK_HOSTS


def same_origin(request: Request) -> bool:
    """Whether the Origin header is this very page's scheme and Host (browsers send it with
    every form POST; a page of another site, or a rebound name, cannot forge it)."""
    origin = request.headers.get("origin") or ""
    host = request.headers.get("host", "")
    return bool(origin) and origin.lower() == f"{request.url.scheme}://{host}".lower()


def setup_token_ok(request: Request, token: str | None) -> bool:
    """Whether ``token`` is the one-time setup token this server printed on its console."""
    expected = getattr(request.app.state, "setup_token", None)
    if not expected or not token:
        return False
    return hmac.compare_digest(str(token), str(expected))


def _setup_refusal(request: Request) -> tuple[str, str] | None:
    """(message, audit reason) when /setup is refused, or None when it may be shown."""
    lang = request_lang(request, ctx(request).project.locale)
    if _has_users(request):
        return text("setup.exists", lang), "account exists"
    if not is_local(request):
        return text("setup.local_only", lang), "not local"
    if not loopback_host(request):
        return text("setup.bad_origin", lang), "host"
    return None


def _submit_refusal(request: Request, token: str | None) -> tuple[str, str] | None:
    """Why a first-run submission is refused: the page's reasons, then Origin and token."""
    refusal = _setup_refusal(request)
    if refusal is not None:
        return refusal
    lang = request_lang(request, ctx(request).project.locale)
    if not same_origin(request):
        return text("setup.bad_origin", lang), "origin"
    if not setup_token_ok(request, token):
        return text("setup.bad_token", lang), "token"
    return None


def _setup_form(
    request: Request,
    *,
    status: int = 200,
    error: str | None = None,
    username: str = "",
    token: str | None = None,
) -> Response:
    return render(
        request,
        "setup.html",
        "setup",
        None,
        status=status,
        error=error,
        username=username,
        setup_token=token if setup_token_ok(request, token) else None,
    )


@router.get("/setup", response_class=HTMLResponse)
@public
def setup_page(request: Request, token: str | None = None) -> Response:
    """The first-run form (``?token=`` as printed by ``memberlens serve`` fills in the token)."""
    refusal = _setup_refusal(request)
    if refusal is not None:
        return render(
            request,
            "setup.html",
            "setup",
            None,
            status=403,
            error=refusal[0],
            refused=True,
            username="",
        )
    return _setup_form(request, token=token)


@router.post("/setup", response_class=HTMLResponse)
@public
async def setup_submit(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=256),
    password2: str = Form(..., max_length=256),
    setup_token: str = Form("", max_length=128),
) -> Response:
    """Create the first account, an admin, then log it in: no account yet, a peer, Host and
    Origin of this machine, the CSRF token and the one-time setup token of the console."""
    c = ctx(request)
    lang = request_lang(request, c.project.locale)
    try:
        await check_csrf(request)
    except MemberlensError as exc:
        refused = _setup_refusal(request) is not None  # then no form, whatever the CSRF token
        return render(
            request,
            "setup.html",
            "setup",
            None,
            status=exc.http_status,
            error=str(exc),
            refused=refused,
            username="" if refused else username,
        )
    username = username.strip()
    with _SETUP_LOCK:  # two first-run submissions at once create one admin
        refusal = _submit_refusal(request, setup_token)
        if refusal is not None:
            with c.store() as db:
                audit(
                    db,
                    "setup_refused",
                    username=username[:64] or None,
                    detail={"reason": refusal[1]},
                    ip=client_ip(request),
                )
            retry = refusal[1] == "token"  # a mistyped token may be typed again
            return render(
                request,
                "setup.html",
                "setup",
                None,
                status=403,
                error=refusal[0],
                refused=not retry,
                username=username if retry else "",
                setup_token=None,
            )
        if password != password2:
            return _setup_form(
                request,
                status=400,
                error=text("setup.mismatch", lang),
                username=username,
                token=setup_token,
            )
        try:
            with c.store() as db:
                user = add_user(db, username, password, "admin")
                audit(
                    db,
                    "setup",
                    username=user.username,
                    target=user.username,
                    detail={"role": "admin"},
                    ip=client_ip(request),
                )
        except MemberlensError as exc:
            return _setup_form(
                request,
                status=exc.http_status,
                error=str(exc),
                username=username,
                token=setup_token,
            )
        request.app.state.setup_token = None  # used once
    response = RedirectResponse("/", status_code=303)
    login(request, response, username, password)
    return response


@router.post("/login", response_class=HTMLResponse)
@public
async def login_submit(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=256),
    next: str = Form("/", max_length=2000),
) -> Response:
    try:
        await check_csrf(request)
        response = RedirectResponse(_safe_next(next), status_code=303)
        login(request, response, username, password)
        return response
    except MemberlensError as exc:
        return render(
            request,
            "login.html",
            "login",
            None,
            status=exc.http_status,
            next=_safe_next(next),
            error=str(exc),
        )


@router.post("/logout")
@public
async def logout_submit(request: Request) -> Response:
    await check_csrf(request)
    response = RedirectResponse("/login", status_code=303)
    logout(request, response)
    return response
