"""Two HTTP transports for the chat client: a lean HTTP/1.1 keep-alive pool, and httpx.

httpx's connection pool spends milliseconds of CPU per request once 32+ requests are
in flight (its pool scans every connection on every event), which caps one process at a
few hundred calls a second. The lean pool here does only what a JSON API call needs:
keep-alive HTTP/1.1 over TCP or TLS, Content-Length, chunked or close-delimited bodies.
Both take an ``on_body`` hook that sees the body's bytes as they arrive (streamed answers).
httpx stays the fallback for everything else (proxies from the environment, or on request).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import urllib.request
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit


class TransportTimeout(Exception):
    """No complete answer within the timeout."""


class TransportError(Exception):
    """The connection failed or the answer was not HTTP."""


@dataclass(slots=True)
class HTTPResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _ConnectionLost(TransportError):
    pass


BodyHook = Callable[[bytes], None]


class _Conn(asyncio.Protocol):
    """One HTTP/1.1 connection: one request at a time, the response parsed as bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.received = False
        self.on_body: BodyHook | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] | None = None
        self.pos = 0
        self.length = -1  # -1 chunked, -2 until close
        self.chunks: list[bytes] = []
        self.keep_alive = True
        self.fed = 0  # sized or close-delimited bodies: bytes already given to on_body

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream connection's transport can write; uvloop's does not subclass asyncio.Transport, so no isinstance.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received = True
        self.buf += data
        if self.waiter is not None and not self.waiter.done():
            try:
                self._parse()
            except Exception as e:  # noqa: BLE001 - a broken answer fails this request
                self.keep_alive = False
                self.waiter.set_exception(TransportError(f"bad HTTP response: {e}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        w = self.waiter
        if w is None or w.done():
            return
        if self.headers is not None and self.length == -2:
            if self.on_body is not None and len(self.buf) - self.pos > self.fed:
                self.on_body(bytes(self.buf[self.pos + self.fed :]))
            self._finish(bytes(self.buf[self.pos :]))
            return
        err = _ConnectionLost(f"connection closed{': ' + str(exc) if exc else ''}")
        w.set_exception(err)

    def _finish(self, body: bytes) -> None:
        assert self.waiter is not None and self.headers is not None, "only called while a request waits, after the headers"
        self.waiter.set_result(HTTPResponse(self.status, self.headers, body))

    def _parse(self) -> None:
        buf = self.buf
        if self.headers is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                raise ValueError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
            self.status = int(parts[1])
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            self.headers = headers
            self.pos = end + 4
            conn = headers.get("connection", "").lower()
            self.keep_alive = conn != "close" and (parts[0] != "HTTP/1.0" or conn == "keep-alive")
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self.length = -1
            elif "content-length" in headers:
                self.length = int(headers["content-length"])
            elif self.status in (204, 304) or 100 <= self.status < 200:
                self.length = 0
            else:
                self.length = -2
                self.keep_alive = False
        if self.length >= 0:
            if self.on_body is not None:
                have = min(len(buf) - self.pos, self.length)
                if have > self.fed:
                    self.on_body(bytes(buf[self.pos + self.fed : self.pos + have]))
                    self.fed = have
            if len(buf) - self.pos >= self.length:
                body = bytes(buf[self.pos : self.pos + self.length])
                del buf[: self.pos + self.length]
                self._finish(body)
        elif self.length == -1:
            while True:
                eol = buf.find(b"\r\n", self.pos)
                if eol < 0:
                    return
                size = int(bytes(buf[self.pos : eol]).split(b";")[0], 16)
                if size == 0:
                    tail = buf.find(b"\r\n\r\n", eol)  # the trailer section ends with an empty line
                    if tail < 0:
                        return
                    del buf[: tail + 4]
                    self._finish(b"".join(self.chunks))
                    return
                if len(buf) < eol + 2 + size + 2:
                    return
                chunk = bytes(buf[eol + 2 : eol + 2 + size])
                self.chunks.append(chunk)
                self.pos = eol + 2 + size + 2
                if self.on_body is not None:
                    self.on_body(chunk)
        elif self.on_body is not None and len(buf) - self.pos > self.fed:  # until close
            self.on_body(bytes(buf[self.pos + self.fed :]))
            self.fed = len(buf) - self.pos

    async def request(self, data: bytes, on_body: BodyHook | None = None) -> HTTPResponse:
        self._reset()
        self.received = False
        self.on_body = on_body
        if self.transport is None:
            raise TransportError("request on a connection that was never made")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        if self.buf:
            self._parse()
        try:
            return await self.waiter
        finally:
            self.waiter = None
            self.on_body = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _ssl_context() -> ssl.SSLContext:
    """Verify against SSL_CERT_FILE when set (as httpx does), else certifi's CA bundle."""
    cafile = os.environ.get("SSL_CERT_FILE")
    if not cafile:
        try:
            import certifi

            cafile = certifi.where()
        except ImportError:  # pragma: no cover - certifi ships with httpx
            cafile = None
    return ssl.create_default_context(cafile=cafile)


def proxies_configured(url: str) -> bool:
    """Whether the environment routes ``url`` through a proxy (then httpx is used)."""
    host = urlsplit(url).hostname or ""
    proxies = urllib.request.getproxies()
    if not proxies:
        return False
    if urllib.request.proxy_bypass(host) or host in ("127.0.0.1", "localhost", "::1"):
        return False
    scheme = urlsplit(url).scheme
    return bool(proxies.get(scheme) or proxies.get("all"))


class LeanTransport:
    """A keep-alive HTTP/1.1 connection pool to one origin, at most ``max_connections`` open."""

    name = "lean"

    def __init__(self, base_url: str, *, max_connections: int, headers: dict[str, str], connect_timeout: float = 10.0) -> None:
        u = urlsplit(base_url)
        if u.scheme not in ("http", "https"):
            raise ValueError(f"base URL must start with http:// or https://, got {base_url!r}")
        self.host = u.hostname or ""
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.prefix = u.path.rstrip("/")
        self.ssl: ssl.SSLContext | None = None
        if u.scheme == "https":
            self.ssl = _ssl_context()
        netloc = self.host if u.port is None else f"{self.host}:{u.port}"
        self._head = "".join(f"{k}: {v}\r\n" for k, v in {"host": netloc, **headers}.items())
        self.connect_timeout = connect_timeout
        self._idle: deque[_Conn] = deque()
        self._slots = asyncio.Semaphore(max_connections)

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(_Conn, self.host, self.port, ssl=self.ssl)
        except TimeoutError:
            raise TransportTimeout(f"connecting to {self.host}:{self.port} took over {self.connect_timeout:g}s") from None
        except OSError as e:
            raise TransportError(f"cannot connect to {self.host}:{self.port}: {e.strerror or e}") from None
        return conn

    async def request(self, method: str, path: str, body: bytes | None, timeout: float,
                      on_body: BodyHook | None = None) -> HTTPResponse:
        """One request; ``on_body`` (if given) is called with each piece of the body as it arrives.

        The hook sees the bytes as sent (a compressed body is only decompressed in the result).
        """
        head = f"{method} {self.prefix}{path} HTTP/1.1\r\n{self._head}"
        if body is not None:
            head += f"content-length: {len(body)}\r\n"
        data = (head + "\r\n").encode("latin-1") + (body or b"")
        async with self._slots:
            for reuse in (True, False):
                conn = None
                while reuse and self._idle:
                    c = self._idle.pop()
                    if not c.closed and not c.buf:
                        conn = c
                        break
                    c.close()
                fresh = conn is None
                try:
                    async with asyncio.timeout(timeout):
                        if conn is None:
                            conn = await self._connect()
                        resp = await conn.request(data, on_body)
                except TimeoutError:
                    if conn is not None:
                        conn.close()
                    raise TransportTimeout(f"no answer within {timeout:g}s") from None
                except _ConnectionLost:
                    assert conn is not None, "only a request on an open connection loses it"
                    conn.close()
                    if not fresh and not conn.received:
                        continue  # the server had closed the idle connection: once more, on a new one
                    raise
                except BaseException:
                    if conn is not None:
                        conn.close()
                    raise
                if conn.keep_alive and not conn.closed:
                    self._idle.append(conn)
                else:
                    conn.close()
                encoding = resp.headers.get("content-encoding", "identity").lower()
                if encoding in ("gzip", "deflate"):  # not asked for, but some proxies compress anyway
                    try:
                        resp.body = zlib.decompress(resp.body, 47)  # 47: gzip or zlib header, detected
                    except zlib.error as e:
                        raise TransportError(f"bad {encoding} body: {e}") from None
                return resp
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()


class HttpxTransport:
    """The same interface over httpx (proxies, and anything else the lean pool does not do)."""

    name = "httpx"

    def __init__(self, base_url: str, *, max_connections: int, headers: dict[str, str], connect_timeout: float = 10.0) -> None:
        import httpx

        self._httpx = httpx
        self.base = base_url.rstrip("/")
        self.client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(None, connect=connect_timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            trust_env=True,
        )

    async def request(self, method: str, path: str, body: bytes | None, timeout: float,
                      on_body: BodyHook | None = None) -> HTTPResponse:
        httpx = self._httpx
        try:
            async with asyncio.timeout(timeout):
                if on_body is None:
                    r = await self.client.request(method, self.base + path, content=body)
                else:
                    async with self.client.stream(method, self.base + path, content=body) as r:
                        parts = []
                        async for part in r.aiter_bytes():
                            parts.append(part)
                            on_body(part)
                        content = b"".join(parts)
                    return HTTPResponse(r.status_code, {k.lower(): v for k, v in r.headers.items()}, content)
        except (TimeoutError, httpx.TimeoutException):
            raise TransportTimeout(f"no answer within {timeout:g}s") from None
        except httpx.TransportError as e:
            raise TransportError(f"{type(e).__name__}: {e}") from None
        return HTTPResponse(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)

    async def aclose(self) -> None:
        await self.client.aclose()


def make_transport(kind: str, base_url: str, *, max_connections: int, headers: dict[str, str],
                   connect_timeout: float = 10.0) -> LeanTransport | HttpxTransport:
    """``kind``: "auto" (lean, httpx when a proxy applies), "lean" or "httpx"."""
    if kind == "auto":
        kind = "httpx" if proxies_configured(base_url) or os.environ.get("ASSAY_HTTP_TRANSPORT") == "httpx" else "lean"
    if kind == "lean":
        return LeanTransport(base_url, max_connections=max_connections, headers=headers, connect_timeout=connect_timeout)
    if kind == "httpx":
        return HttpxTransport(base_url, max_connections=max_connections, headers=headers, connect_timeout=connect_timeout)
    raise ValueError(f"unknown transport {kind!r}: use auto, lean or httpx")
