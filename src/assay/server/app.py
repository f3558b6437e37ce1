"""The FastAPI application: settings, security headers, sessions, CSRF, templates and error pages."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import FormData
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
    # a campaign with more judgments gets its dashboard statistics in the background (None: the
    # library's default, annotate.dashboard.SYNC_JUDGMENTS)
    stats_sync_judgments: int | None = None

    @classmethod
    def from_env(cls) -> Settings:
        sync = os.environ.get("ASSAY_STATS_SYNC_JUDGMENTS")
        return cls(database_url=os.environ.get("ASSAY_DATABASE_URL"),
                   secure_cookies=os.environ.get("ASSAY_SECURE_COOKIES", "") in {"1", "true", "yes"},
                   pool_size=int(os.environ.get("ASSAY_DB_POOL", "8")),
                   threads=int(os.environ.get("ASSAY_THREADS", "16")),
                   stats_sync_judgments=int(sync) if sync else None)


class LoginRequired(Exception):
    pass


class BadForm(BadInput):
    """A posted form the app refuses to read on (a NUL byte, an unpaired surrogate, an oversized
    field, too many fields): a 422 page or JSON error naming the field."""


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


# ---- what a request may make the server read -------------------------------------------------

MAX_BODY = 1024 * 1024  # every form of the app but the new-campaign page (a justification is far smaller)
MAX_UPLOAD_BODY = 21 * 1024 * 1024  # a lead's new campaign: the gold file (lead.MAX_GOLD_BYTES) and the fields
MAX_PUBLIC_BODY = 16 * 1024  # what may be posted before logging in: the login form
UNCHECKED_BODY = 64 * 1024  # read on a session cookie's word alone; a larger or chunked body waits for the session
PUBLIC_POSTS = frozenset({"/login"})
UPLOAD_POSTS = frozenset({"/lead/new"})
MAX_FIELDS = 1000
MAX_FIELD_CHARS = 20_000  # a justification, a clarification or a description fits many times over


class _BodyTooLarge(Exception):
    pass


class BodyLimits:
    """Pure ASGI middleware bounding what a request can make the server read, before any route runs.

    A body to any route but ``PUBLIC_POSTS`` needs a session cookie: without one the request is
    refused (401) before a byte of the body is read. A body larger than ``UNCHECKED_BODY``, or
    chunked, also needs the session to exist in the store first (a forged cookie reads nothing).
    A declared Content-Length over the route's limit is refused (413) unread; a chunked body is
    counted as it streams and refused at the limit, so neither a form nor a multipart upload
    (which spools files to disk) grows past it. Refusals with the body unread close the
    connection, so the server does not go on receiving it either. NUL bytes in the URL are refused
    (400): a PostgreSQL text value cannot hold them.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length_header = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        try:
            length = int(length_header) if length_header is not None else None
        except ValueError:
            await _refuse(scope, send, 400, "the Content-Length header is not a number")
            return
        has_body = chunked or bool(length)
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"").lower():
            await _refuse(scope, send, 400, "a URL may not contain a NUL character", close=has_body)
            return
        if not has_body:
            await self.app(scope, receive, send)
            return
        limit = MAX_PUBLIC_BODY
        if scope["path"] not in PUBLIC_POSTS:
            limit = MAX_BODY
            token = Request(scope).cookies.get(SESSION_COOKIE)
            if not token or len(token) > 200:
                await _refuse(scope, send, 401, "login required")
                return
            if chunked or (length or 0) > UNCHECKED_BODY:
                from starlette.concurrency import run_in_threadpool

                user = await run_in_threadpool(ACC.session_user, scope["app"].state.store, token)
                if user is None:
                    await _refuse(scope, send, 401, "login required")
                    return
                if scope["path"] in UPLOAD_POSTS and user.is_lead:
                    limit = MAX_UPLOAD_BODY
        if length is not None and length > limit:
            await _refuse(scope, send, 413, _too_large(limit))
            return
        await self._capped(scope, receive, send, limit)

    async def _capped(self, scope: dict, receive: Any, send: Any, limit: int) -> None:
        seen, over, started, whole = 0, False, False, False

        async def counted() -> dict:
            nonlocal seen, over, whole
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise _BodyTooLarge
                whole = not message.get("more_body", False)
            return message

        async def tracked(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not whole:  # answered without reading the body (403, 404...): do not receive the rest
                    message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Exception:
            if not over or started:
                raise
            await _refuse(scope, send, 413, _too_large(limit))


def _too_large(limit: int) -> str:
    size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
    return f"the request is larger than {size}, which is all this page accepts"


async def _refuse(scope: dict, send: Any, status: int, message: str, *, close: bool = True) -> None:
    """An error answer from the middleware; with ``close`` the connection ends after it, so a
    body left unread is not received either."""
    request = Request(scope)
    if status == 401:
        response: Response = JSONResponse({"error": message}, status_code=401)
    else:
        response = error_page(request, status, message)
    if close:
        response.headers["connection"] = "close"

    async def nothing() -> dict:
        return {"type": "http.disconnect"}

    await response(scope, nothing, send)


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
    from assay.store.rating import app_secret, server_engine

    settings = settings or Settings.from_env()
    if store is None:
        store = Store(settings.database_url, engine=server_engine(settings.database_url, pool_size=settings.pool_size),
                      create=False)
    # PostgreSQL: submissions run on the event loop through an asyncio pool (store/rating_pg.py)
    pg = None
    if store.backend == "postgresql":
        from assay.store.rating_pg import AsyncPG

        pg = AsyncPG(store.url, size=settings.pool_size)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # fewer worker threads than anyio's 40: past the connection pool they only wait and contend
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        app_secret(store)  # made or read once here, not on a rater's first page (server/blind.py)
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

    @app.exception_handler(BadForm)
    async def _bad_form(request: Request, exc: BadForm) -> Response:
        return error_page(request, 422, exc.message)

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

    app.add_middleware(BodyLimits)
    app.add_middleware(SecurityHeaders, secure=settings.secure_cookies)  # added last: outermost, on every answer
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


async def parse_form(request: Request) -> Any:
    """The posted form, not yet checked (see :func:`check_form`). URL-encoded bodies (every form of the
    app but the gold upload) are parsed here directly, a fraction of the cost of the general parser;
    multipart goes to Starlette. ``BodyLimits`` has bounded the body already."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return await request.form(max_files=2, max_fields=MAX_FIELDS)
    body = await request.body()
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise BadForm(f"the form has more than {MAX_FIELDS} fields") from None
    return FormData(pairs)


def check_text(value: str, field: str, *, limit: int = MAX_FIELD_CHARS) -> str:
    """A text value the store can keep: no NUL character, no unpaired surrogate, at most ``limit``
    characters; BadForm naming the field otherwise."""
    field = field[:100]
    if "\x00" in value:
        raise BadForm("remove the NUL character (\\0): text may not contain it", field=field)
    if len(value) > limit:
        raise BadForm(f"at most {limit} characters, not {len(value)}", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadForm("contains an unpaired surrogate, which is not text: paste it again", field=field) from None
    return value


def check_form(form: Any) -> Any:
    """Every name and text value of a posted form through :func:`check_text` (uploaded files are
    the route's to check); the form itself."""
    for name, value in form.multi_items():
        check_text(name, "(a field name)", limit=200)
        if isinstance(value, str):
            check_text(value, name)
    return form


async def read_form(request: Request) -> Any:
    """The posted form, checked: what a route reads once it knows who is asking."""
    return check_form(await parse_form(request))


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
