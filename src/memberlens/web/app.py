"""The application factory: ``create_app(project)`` returns the FastAPI app (API + pages)."""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from memberlens.exceptions import MemberlensError
from memberlens.project import Project
from memberlens.web.auth import public, route_rules, trusted_proxies
from memberlens.web.context import WebContext
from memberlens.web.errors import NotAuthenticated
from memberlens.web.store import database_url, open_store

STATIC = Path(__file__).parent / "static"
VENDOR = STATIC / "vendor"
log = logging.getLogger("memberlens.web")

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
_DOCS_CSP = _CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")


def _trigger_scheduler(store, project: Project):
    """The daily trigger run inside the server, when ``[triggers] scheduler = true``."""
    if not dict(project.settings.get("triggers", {})).get("scheduler"):
        return None
    from memberlens.activation.trigger_scheduler import TriggerScheduler

    scheduler = TriggerScheduler(store, project)
    scheduler.start()
    return scheduler


def _campaign_scheduler(store, project: Project):
    """Scheduled campaigns sent inside the server, when ``[campaigns] scheduler = true``."""
    if not dict(project.settings.get("campaigns", {})).get("scheduler"):
        return None
    from memberlens.activation.campaign_scheduler import CampaignScheduler

    scheduler = CampaignScheduler(store, project)
    scheduler.start()
    return scheduler


def create_app(
    project: Project | str | Path | None = None,
    *,
    database: str | None = None,
    secure_cookies: bool = False,
    warm: bool = False,
) -> FastAPI:
    """The dashboard and JSON API of ``project``.

    ``database``: SQLAlchemy URL of the application state (default: see
    :func:`memberlens.web.store.database_url`). ``secure_cookies``: mark cookies Secure (when
    served over HTTPS). ``warm``: compute the default overview in the background at start-up.
    """
    proj = project if isinstance(project, Project) else Project.load(project)
    store = open_store(database or database_url(proj))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        schedulers = [
            _trigger_scheduler(store, proj),  # [triggers] scheduler = true
            _campaign_scheduler(store, proj),  # [campaigns] scheduler = true
        ]
        app.state.schedulers = [s for s in schedulers if s is not None]
        yield
        for scheduler in app.state.schedulers:
            scheduler.stop()
        # the warm-up and the pool's reaper use DuckDB from their own threads: stop them and
        # close the connections before the server (and maybe the interpreter) goes away
        warm_up = getattr(app.state, "warm_up", None)
        if warm_up is not None:
            warm_up.join(timeout=60)
        app.state.ctx.close()

    app = FastAPI(
        lifespan=lifespan,
        title="memberlens API",
        version="0.1.0",
        description="Member analytics for precision marketing. Scripts authenticate with "
        "`Authorization: Bearer TOKEN`: create the token with `memberlens user token NAME "
        "--name SCRIPT -p PROJECT` (or on the account page); no login is needed. The pages use "
        "a session cookie from the /login form. Contact details are always masked; see "
        "/api/roles.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = WebContext(project=proj, store=store, secure_cookies=secure_cookies)
    app.state.trusted_proxies = trusted_proxies(proj)
    #: the one-time token of the first-run page, printed by `memberlens serve` on the console
    app.state.setup_token = secrets.token_urlsafe(24)

    @app.exception_handler(MemberlensError)
    async def _memberlens_error(request: Request, exc: MemberlensError) -> Response:
        """The one place that turns the package's errors into HTTP responses."""
        if isinstance(exc, NotAuthenticated) and not request.url.path.startswith("/api/"):
            return RedirectResponse("/login", status_code=303)
        return JSONResponse(
            {"error": type(exc).__name__, "detail": str(exc)}, status_code=exc.http_status
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse(
            {
                "error": "InternalError",
                "detail": "unexpected error; the server log has the details",
            },
            status_code=500,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # echo where and why, never the input itself (it may be personal data)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse({"error": "ValidationError", "detail": errors}, status_code=422)

    app.add_middleware(SecurityHeaders)

    @app.get("/docs", include_in_schema=False)
    @public
    def _docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="memberlens API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.get("/healthz")
    @public
    def health() -> dict:
        """Whether the server is up (no login needed)."""
        return {"ok": True}

    from memberlens.web.routers import (
        api_admin,
        api_analytics,
        api_audiences,
        api_campaign_sends,
        api_campaigns,
        api_data,
        api_members,
        api_views,
        pages,
    )

    for module in (
        api_analytics,
        api_members,
        api_data,
        api_admin,
        api_views,
        api_audiences,
        api_campaign_sends,
        api_campaigns,
        pages,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.openapi = lambda: _openapi_with_bearer(app)  # type: ignore[method-assign]
    undeclared = [r.path for r in route_rules(app) if r.access is None]
    if undeclared:  # every route declares who may call it (memberlens.web.roles.Access)
        raise RuntimeError(f"routes without an access rule: {', '.join(undeclared)}")
    if warm:
        app.state.warm_up = threading.Thread(
            # not a daemon: the interpreter waits for it rather than killing it inside DuckDB
            target=api_analytics.warm,
            args=(app.state.ctx,),
            daemon=False,
            name="memberlens-warm-up",
        )
        app.state.warm_up.start()
    return app


def _openapi_with_bearer(app: FastAPI) -> dict:
    """The generated spec plus the Bearer token scheme, so that /docs and client generators know
    how a script authenticates on every /api/ route."""
    if app.openapi_schema is None:
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        spec.setdefault("components", {})["securitySchemes"] = {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "an API token (mlt_...) from `memberlens user token`",
            }
        }
        for path, methods in spec["paths"].items():
            if path.startswith("/api/"):
                for op in methods.values():
                    op.setdefault("security", [{"bearerAuth": []}])
        app.openapi_schema = spec
    return app.openapi_schema


class SecurityHeaders:
    """Pure ASGI middleware adding the security headers to every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        extra = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"content-security-policy", (_DOCS_CSP if path == "/docs" else _CSP).encode()),
        ]
        if path.startswith("/api/"):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in present
                ]
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def assets_installed() -> bool:
    """Whether the npm assets (ECharts, maps, Swagger UI) were copied under static/vendor."""
    return (VENDOR / "echarts.min.js").exists()
