"""The FastAPI application: settings, security headers, sessions, CSRF, templates and error pages."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from assay.errors import AssayError, BadInput, NotFound
from assay.server import accounts as ACC
from assay.store import Store

HERE = Path(__file__).parent
SESSION_COOKIE = "assay_session"
LOGIN_CSRF_COOKIE = "assay_login_csrf"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@dataclass
class Settings:
    """How the app runs: the store, and whether cookies are marked Secure (always over https)."""

    database_url: str | None = None
    secure_cookies: bool = False
    pool_size: int = 8
    threads: int = 16

    @classmethod
    def from_env(cls) -> Settings:
        return cls(database_url=os.environ.get("ASSAY_DATABASE_URL"),
                   secure_cookies=os.environ.get("ASSAY_SECURE_COOKIES", "") in {"1", "true", "yes"},
                   pool_size=int(os.environ.get("ASSAY_DB_POOL", "8")),
                   threads=int(os.environ.get("ASSAY_THREADS", "16")))


class LoginRequired(Exception):
    pass


class Forbidden(Exception):
    pass


class SecurityHeaders:
    """Pure ASGI middleware adding the security headers to every response (cheap on the hot path)."""

    def __init__(self, app: Any, secure: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if secure:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def wrapped(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += self.headers
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


def _env() -> Environment:
    from assay.server.markdown import render_markdown

    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(
        enabled_extensions=("html",), default_for_string=True, default=True), trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.0f}%"
    env.filters["num"] = lambda v, d=2: "–" if v is None else f"{v:.{d}f}"
    env.filters["letter"] = lambda i: chr(65 + int(i))
    env.filters["markdown"] = render_markdown  # untrusted text: Markdown without raw HTML, then an allow-list
    return env


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """The rating app over one store (opened from the settings unless given)."""
    from assay.store.app import server_engine

    settings = settings or Settings.from_env()
    if store is None:
        store = Store(settings.database_url, engine=server_engine(settings.database_url, pool_size=settings.pool_size),
                      create=False)
    # PostgreSQL: submissions run on the event loop through an asyncio pool (store/app_pg.py)
    pg = None
    if store.backend == "postgresql":
        from assay.store.app_pg import AsyncPG

        pg = AsyncPG(store.url, size=settings.pool_size)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # fewer worker threads than anyio's 40: past the connection pool they only wait and contend
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        if pg is not None:
            await pg.open()
        try:
            yield
        finally:
            if pg is not None:
                await pg.close()

    app = FastAPI(title="assay", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.store = store
    app.state.pg = pg
    app.state.settings = settings
    app.state.env = _env()
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and not wants_json(request):
            return RedirectResponse("/login", status_code=303)
        return JSONResponse({"error": "login required"}, status_code=401)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return error_page(request, 403, str(exc) or "you may not do that")

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return error_page(request, 404, "not found")

    @app.exception_handler(BadInput)
    async def _bad(request: Request, exc: BadInput) -> Response:
        return error_page(request, 400, exc.message)

    @app.exception_handler(AssayError)
    async def _assay(request: Request, exc: AssayError) -> Response:
        return error_page(request, 400, str(exc))

    from assay.server import lead, rater, redteam_pages

    app.include_router(rater.router)
    app.include_router(lead.router)
    app.include_router(redteam_pages.router)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/healthz")
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    app.add_middleware(SecurityHeaders, secure=settings.secure_cookies)
    return app


def app_factory() -> Any:
    """What `assay serve` hands uvicorn (factory=True): settings from the environment."""
    return create_app()


# ---- helpers the routes share ---------------------------------------------------------------


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def store_of(request: Request) -> Store:
    return request.app.state.store


def render(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    html = request.app.state.env.get_template(template).render(user=user, request=request, **ctx)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    return render(request, "error.html", status=status, status_code=status, message=message)


def current_user(request: Request) -> ACC.User:
    """The signed-in user (a dependency); LoginRequired when there is none."""
    user = ACC.session_user(store_of(request), request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise LoginRequired
    request.state.user = user
    return user


def check_csrf(request: Request, user: ACC.User, form: Any) -> None:
    """Every state-changing request carries the session's CSRF token (form field or X-CSRF-Token)."""
    given = request.headers.get("x-csrf-token") or (form.get("csrf_token") if form is not None else None)
    if not ACC.csrf_ok(user.csrf_token, given):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")


def lead_only(user: ACC.User) -> None:
    if not user.is_lead:
        raise Forbidden("this page is for leads")


def admin_only(user: ACC.User) -> None:
    if not user.is_admin:
        raise Forbidden("this page is for admins")


def secure_request(request: Request) -> bool:
    return request.app.state.settings.secure_cookies or request.url.scheme == "https"
