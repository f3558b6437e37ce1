"""A scripted local model server that speaks the OpenAI chat completions API.

It is a real HTTP server (uvicorn on 127.0.0.1, a free port, a background thread), so
retries, timeouts and rate limits are exercised for real. It answers from a queue of
scripted replies, a function of the request, or by echoing the last user message; it
records every request, and can inject latency, 429 with Retry-After, 500, timeouts and
malformed bodies, either scripted per request or at random rates (seeded). A request
with ``"stream": true`` is answered with Server-Sent Events, a few words per chunk. A
request for structured outputs (``response_format``) is ignored, refused or honoured,
as servers do (``response_format=``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypedDict, Unpack

__all__ = ["Faults", "Reply", "ScriptedServer", "ServedRequest"]


@dataclass
class Reply:
    """One scripted answer: a text (with optional logprobs and usage) or a fault.

    ``top_logprobs`` gives, per output token, ``{token: logprob}`` with the chosen token
    first; the server returns them when the request asks for ``logprobs``.
    """

    text: str = ""
    status: int = 200
    delay: float | None = None
    retry_after: float | None = None
    body: bytes | dict | None = None
    hang: bool = False
    finish_reason: str = "stop"
    top_logprobs: list[dict[str, float]] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    chunked: bool = False
    headers: dict[str, str] | None = None
    first_token_s: float | None = None
    """Streamed answers: seconds from the role chunk to the first content chunk (None: the server's)."""
    token_interval_s: float | None = None
    """Streamed answers: seconds between content chunks (None: the server's)."""
    cut_after: int | None = None
    """Streamed answers: drop the connection after this many content chunks (a stream cut mid-way)."""

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1.0) -> Reply:
        return cls(status=429, retry_after=retry_after, body={"error": {"message": "Rate limit reached", "type": "rate_limit_error"}})

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls(status=status, body={"error": {"message": "The server had an error", "type": "server_error"}})

    @classmethod
    def timeout(cls) -> Reply:
        """Hang (send nothing) until the client gives up or the server stops."""
        return cls(hang=True)

    @classmethod
    def malformed(cls) -> Reply:
        return cls(body=b'{"id": "chatcmpl-broken", "choices": [{"message": ')


@dataclass
class Faults:
    """Random faults, each drawn per chat request at the given rate (0..1), seeded."""

    rate_limit: float = 0.0
    server_error: float = 0.0
    timeout: float = 0.0
    malformed: float = 0.0
    retry_after: float | None = 0.05
    seed: int = 0

    def draw(self, rng: random.Random) -> Reply | None:
        u = rng.random()
        for rate, make in (
            (self.rate_limit, lambda: Reply.rate_limited(self.retry_after)),
            (self.server_error, Reply.server_error),
            (self.timeout, Reply.timeout),
            (self.malformed, Reply.malformed),
        ):
            if u < rate:
                return make()
            u -= rate
        return None


@dataclass
class ServedRequest:
    """One request the server received, and the status it answered with."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict | None
    status: int = 0
    at: float = field(default_factory=time.time)

    @property
    def messages(self) -> list[dict]:
        return (self.body or {}).get("messages", [])

    @property
    def last_user(self) -> str:
        users = [m.get("content", "") for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else ""


Handler = Callable[[dict], Any]

WORDS_PER_CHUNK = 3


@dataclass
class _Stream:
    """A 200 answer to send as Server-Sent Events: the events, and when to send them."""

    events: list[dict]
    first_token_s: float
    token_interval_s: float
    cut_after: int | None


def _words(text: str) -> list[str]:
    return text.split() or ([text] if text else [])


def _token(t: str, lp: float) -> dict:
    return {"token": t, "logprob": lp, "bytes": list(t.encode())}


@dataclass(frozen=True)
class ServerConfig:
    """How a :class:`ScriptedServer` answers, and where it listens.

    ``latency``: seconds before each answer (a Reply's own ``delay`` overrides it);
    ``first_token_s`` and ``token_interval_s``: the pace of a streamed answer; ``hang_s``:
    how long a hung-up request is held; ``response_format``: what a ``json_schema``
    request gets (see :class:`ScriptedServer`); ``port``: 0 picks a free one;
    ``ssl_certfile`` and ``ssl_keyfile`` serve HTTPS.
    """

    latency: float = 0.0
    first_token_s: float = 0.0
    token_interval_s: float = 0.0
    hang_s: float = 30.0
    response_format: str = "ignore"
    port: int = 0
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        if self.response_format not in ("ignore", "refuse", "honour"):
            raise ValueError(f"response_format must be ignore, refuse or honour, not {self.response_format!r}")


class ServerOptions(TypedDict, total=False):
    """The fields of :class:`ServerConfig`, as keyword arguments of :class:`ScriptedServer`."""

    latency: float
    first_token_s: float
    token_interval_s: float
    hang_s: float
    response_format: str
    port: int
    ssl_certfile: str | None
    ssl_keyfile: str | None


class ScriptedServer:
    """A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and offline judge development.

    >>> from assay.testing import ScriptedServer, Reply
    >>> with ScriptedServer(models=["judge"]) as srv:   # doctest: +SKIP
    ...     srv.enqueue("Score: 4", Reply.rate_limited(0.1), Reply(text="5", top_logprobs=[{"5": -0.1, "4": -2.4}]))
    ...     # point a client at srv.base_url ("http://127.0.0.1:PORT/v1"); inspect srv.requests

    Answers, in order of precedence: a random fault (``faults``), the next scripted reply
    (``enqueue``), ``handler(request_json)`` (returns a str or a Reply, may be async), else
    an echo of the last user message. ``models`` (None: any) makes other models 404;
    ``api_key`` makes requests without ``Authorization: Bearer <key>`` 401.

    ``response_format`` says what a request with a ``response_format`` of type
    ``json_schema`` gets: ``"ignore"`` (the default) answers as if it were absent;
    ``"refuse"`` answers 400 saying it is not supported, as servers without structured
    outputs do; ``"honour"`` checks the scripted reply against the schema, as a server that
    constrains its decoding guarantees, and answers 400 when it does not fit (a broken
    script, not a model's answer; 400 so that clients do not retry it).

    ``"stream": true`` requests get SSE: after ``latency``, the headers and a role chunk;
    ``first_token_s`` later the first content chunk, then one every ``token_interval_s``
    (a few words each), the finish reason, usage when ``stream_options.include_usage``,
    and ``data: [DONE]``. Faults and error statuses are sent before any stream, as JSON.

    Timing, ``response_format`` and where it listens are a :class:`ServerConfig`, given as
    ``config`` or field by field as keywords (``ScriptedServer(latency=0.05)``); keywords
    override the fields of ``config``. ``record=False`` keeps no history of requests.
    """

    def __init__(
        self,
        *,
        replies: Iterable[str | Reply] = (),
        handler: Handler | None = None,
        models: Iterable[str] | None = None,
        api_key: str | None = None,
        faults: Faults | None = None,
        record: bool = True,
        config: ServerConfig | None = None,
        **options: Unpack[ServerOptions],
    ) -> None:
        unknown = set(options) - {f.name for f in fields(ServerConfig)}
        if unknown:
            raise TypeError(f"ScriptedServer() got unexpected keyword argument(s) {sorted(unknown)}")
        cfg = replace(config or ServerConfig(), **options)
        self.config = cfg
        self.response_format = cfg.response_format
        self.queue: deque[str | Reply] = deque(replies)
        self.handler = handler
        self.models = list(models) if models is not None else None
        self.api_key = api_key
        self.latency = cfg.latency
        self.first_token_s = cfg.first_token_s
        self.token_interval_s = cfg.token_interval_s
        self.faults = faults
        self.hang_s = cfg.hang_s
        self.record = record
        self.requests: list[ServedRequest] = []
        self._rng = random.Random(faults.seed if faults else 0)
        self._port = cfg.port
        self._ssl = (cfg.ssl_certfile, cfg.ssl_keyfile) if cfg.ssl_certfile else None
        self._n = 0
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    # ---- scripting ----------------------------------------------------------------

    def enqueue(self, *replies: str | Reply) -> None:
        """Queue replies, answered one per chat request in arrival order."""
        self.queue.extend(replies)

    @property
    def chat_requests(self) -> list[ServedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def answered(self) -> list[ServedRequest]:
        """Chat requests answered with a completion (status 200)."""
        return [r for r in self.chat_requests if r.status == 200]

    def clear(self) -> None:
        self.requests.clear()

    # ---- the ASGI app ---------------------------------------------------------------

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            msg = await receive()
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        raw = b"".join(chunks)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        req = ServedRequest(scope["method"], scope["path"], headers, body)
        if self.record:
            self.requests.append(req)
        status, payload, extra, chunked = await self._answer(req, raw)
        req.status = status
        if status == 0:  # hung up without an answer
            return
        if isinstance(payload, _Stream):
            await self._send_stream(send, payload, extra)
            return
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        hdrs = [(b"content-type", b"application/json")]
        if not chunked:
            hdrs.append((b"content-length", str(len(data)).encode()))
        hdrs += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        if chunked:  # no length: uvicorn sends Transfer-Encoding: chunked, here in three pieces
            third = max(1, len(data) // 3)
            for part in (data[:third], data[third : 2 * third]):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            data = data[2 * third :]
        await send({"type": "http.response.body", "body": data})

    async def _send_stream(self, send: Callable, stream: _Stream, extra: dict[str, str]) -> None:
        hdrs = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        hdrs += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": 200, "headers": hdrs})
        content = 0
        for ev in stream.events:
            carries = any(c.get("delta", {}).get("content") for c in ev.get("choices", []))
            if carries:
                if stream.cut_after is not None and content >= stream.cut_after:
                    # an exception after the response started makes uvicorn drop the connection mid-body
                    raise ConnectionAbortedError("scripted stream cut")
                await asyncio.sleep(stream.first_token_s if content == 0 else stream.token_interval_s)
                content += 1
            data = b"data: " + json.dumps(ev).encode() + b"\n\n"
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})

    async def _answer(self, req: ServedRequest, raw: bytes) -> tuple[int, Any, dict[str, str], bool]:
        status, payload, extra, *chunked = await self._route(req)
        return status, payload, extra, bool(chunked and chunked[0])

    async def _route(self, req: ServedRequest) -> tuple:
        if self.api_key is not None and req.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}, {}
        path = req.path.rstrip("/")
        if req.method == "GET" and path == "/v1/models":
            ids = self.models if self.models is not None else ["test-model"]
            return 200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "assay"} for m in ids]}, {}
        if path != "/v1/chat/completions" or req.method != "POST":
            return 404, {"error": {"message": f"no route {req.method} {req.path}", "type": "not_found"}}, {}
        if req.body is None or not isinstance(req.body.get("messages"), list):
            return 400, {"error": {"message": "body must be JSON with 'messages'", "type": "invalid_request_error"}}, {}
        model = req.body.get("model")
        if self.models is not None and model not in self.models:
            msg = f"The model `{model}` does not exist or you do not have access to it."
            return 404, {"error": {"message": msg, "type": "invalid_request_error", "code": "model_not_found"}}, {}

        schema = self._schema(req.body)
        if schema is not None and self.response_format == "refuse":
            msg = "response_format of type 'json_schema' is not supported by this server"
            return 400, {"error": {"message": msg, "type": "invalid_request_error", "param": "response_format"}}, {}
        reply = self.faults.draw(self._rng) if self.faults else None
        if reply is None:
            reply = await self._scripted(req.body)
            if schema is not None and self.response_format == "honour" and reply.status == 200 and reply.body is None:
                broken = _schema_error(reply.text, schema)
                if broken is not None:
                    return 400, {"error": {"message": f"the scripted reply does not fit the schema: {broken}",
                                           "type": "scripted_reply_error"}}, {}
        delay = self.latency if reply.delay is None else reply.delay
        if reply.hang:
            await self._hang()
            return 0, b"", {}
        if delay > 0:
            await asyncio.sleep(delay)
        extra = dict(reply.headers or {})
        if reply.retry_after is not None:
            extra["retry-after"] = f"{reply.retry_after:g}"
        if reply.body is not None:
            return reply.status, reply.body, extra, reply.chunked
        if reply.status != 200:
            return reply.status, {"error": {"message": f"scripted status {reply.status}"}}, extra, reply.chunked
        completion = self._completion(req.body, reply)
        if req.body.get("stream"):
            return 200, self._stream(req.body, reply, completion), extra
        return 200, completion, extra, reply.chunked

    @staticmethod
    def _schema(body: dict) -> dict | None:
        """The JSON schema a request asks its answer to follow, or None."""
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") == "json_schema":
            return (rf.get("json_schema") or {}).get("schema") or {}
        return None

    async def _scripted(self, body: dict) -> Reply:
        if self.queue:
            r = self.queue.popleft()
        elif self.handler is not None:
            r = self.handler(body)
            if inspect.isawaitable(r):
                r = await r
        else:
            users = [m.get("content", "") for m in body["messages"] if m.get("role") == "user"]
            r = "echo: " + (users[-1] if users else "")
        return Reply(text=r) if isinstance(r, str) else r

    async def _hang(self) -> None:
        assert self._stop is not None, "a request is answered only while the server runs"
        try:
            await asyncio.wait_for(self._stop.wait(), self.hang_s)
        except asyncio.TimeoutError:
            pass

    def _completion(self, body: dict, reply: Reply) -> dict:
        self._n += 1
        n = int(body.get("n") or 1)
        words = _words(reply.text)
        prompt_words = sum(len(_words(str(m.get("content", "")))) for m in body["messages"])
        logprobs = None
        if body.get("logprobs"):
            k = int(body.get("top_logprobs") or 0)
            if reply.top_logprobs is not None:
                per_token = reply.top_logprobs
            else:
                per_token = [{w: 0.0} for w in words]
            content = []
            for alts in per_token:
                (tok, lp), *_ = alts.items()
                entry = _token(tok, lp)
                entry["top_logprobs"] = [_token(t, v) for t, v in list(alts.items())[:k]]
                content.append(entry)
            logprobs = {"content": content}
        choice = {"message": {"role": "assistant", "content": reply.text}, "logprobs": logprobs, "finish_reason": reply.finish_reason}
        pt = reply.prompt_tokens if reply.prompt_tokens is not None else prompt_words
        ct = reply.completion_tokens if reply.completion_tokens is not None else len(words)
        return {
            "id": f"chatcmpl-{self._n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": i, **choice} for i in range(n)],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct * n, "total_tokens": pt + ct * n},
        }

    def _stream(self, body: dict, reply: Reply, completion: dict) -> _Stream:
        """The completion as chat.completion.chunk events, WORDS_PER_CHUNK words each."""
        pieces = re.findall(r"^\s+|\S+\s*", reply.text)
        texts = ["".join(pieces[i : i + WORDS_PER_CHUNK]) for i in range(0, len(pieces), WORDS_PER_CHUNK)]
        choices = completion["choices"]
        lps = [(c.get("logprobs") or {}).get("content") for c in choices]
        head = {"id": completion["id"], "object": "chat.completion.chunk", "created": completion["created"],
                "model": completion["model"]}

        def event(per_choice: Callable[[int], dict]) -> dict:
            return {**head, "choices": [{"index": i, **per_choice(i)} for i in range(len(choices))]}

        events = [event(lambda i: {"delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None})]
        for j, t in enumerate(texts):
            def piece(i: int, j: int = j, t: str = t) -> dict:
                lp = None
                if lps[i] is not None:
                    last = j == len(texts) - 1
                    lp = {"content": lps[i][j * WORDS_PER_CHUNK : None if last else (j + 1) * WORDS_PER_CHUNK]}
                return {"delta": {"content": t}, "logprobs": lp, "finish_reason": None}

            events.append(event(piece))
        events.append(event(lambda i: {"delta": {}, "logprobs": None, "finish_reason": choices[i]["finish_reason"]}))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**head, "choices": [], "usage": completion["usage"]})
        first = self.first_token_s if reply.first_token_s is None else reply.first_token_s
        interval = self.token_interval_s if reply.token_interval_s is None else reply.token_interval_s
        return _Stream(events, first, interval, reply.cut_after)

    # ---- running ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The server root, ``http://127.0.0.1:PORT``."""
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL clients use, ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    def _config(self):  # noqa: ANN202
        import uvicorn

        return uvicorn.Config(
            self, log_level="error", access_log=False, lifespan="off", http="auto", loop="none",
            timeout_graceful_shutdown=1, backlog=4096, date_header=False, server_header=False,
            limit_concurrency=None, timeout_keep_alive=30,
            ssl_certfile=self._ssl[0] if self._ssl else None, ssl_keyfile=self._ssl[1] if self._ssl else None,
        )

    def _socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        return sock

    async def serve(self) -> None:
        """Serve in the running event loop until stopped (used by ``python -m assay.testing``)."""
        import uvicorn

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        sock = self._socket()
        self._server = uvicorn.Server(self._config())
        self._server.install_signal_handlers = lambda: None
        await self._server.serve(sockets=[sock])

    def start(self) -> ScriptedServer:
        """Start serving in a background thread; returns when the port accepts connections."""
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                factory = _loop_factory()
                with asyncio.Runner(loop_factory=factory) as runner:
                    runner.run(self._serve_signalling(started))
            except BaseException as e:  # noqa: BLE001 - reported to the starting thread
                failure.append(e)
                started.set()

        self._thread = threading.Thread(target=run, name="assay-model-server", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise RuntimeError(f"scripted model server failed to start: {failure[0]}")
        return self

    async def _serve_signalling(self, started: threading.Event) -> None:
        task = asyncio.ensure_future(self.serve())
        while self._server is None or not self._server.started:
            if task.done():
                await task
            await asyncio.sleep(0.005)
        started.set()
        await task

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._loop is not None and self._stop is not None:
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _schema_error(text: str, schema: dict) -> str | None:
    """Why ``text`` is not one JSON value valid against ``schema``, or None when it is."""
    import jsonschema

    try:
        value = json.loads(text)
    except ValueError as e:
        return f"not JSON ({e})"
    error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(value))
    return None if error is None else error.message


def _loop_factory():  # noqa: ANN202
    try:
        import uvloop

        return uvloop.new_event_loop
    except ImportError:
        return None
