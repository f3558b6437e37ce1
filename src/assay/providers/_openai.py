"""The OpenAI Chat Completions client, for any compatible server (vLLM, Ollama, llama.cpp, TGI, OpenAI)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import re
import time
from dataclasses import dataclass
from typing import Any

from assay import records as R
from assay.providers._cache import RequestCache
from assay.providers._errors import ProviderError, ProviderFatal
from assay.providers._http import HTTPResponse, TransportError, TransportTimeout, make_transport
from assay.providers._limits import Limits, shared_limits
from assay.providers._registry import provider

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
"""Where the key is read from when the model names no variable (``api_key_env``)."""

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}

STRUCTURED = ("auto", "on", "off")
"""When to ask for structured outputs (``response_format`` with a JSON schema) where a caller offers them."""
_NO_STRUCTURED: set[tuple[str, str]] = set()  # (base URL, API model) that refused response_format, in this process
_REFUSAL = re.compile(r"response_format|json_schema|structured output|guided_json", re.IGNORECASE)


@dataclass(slots=True)
class Completion:
    """One answer of a chat model, with what it cost."""

    text: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_ms: float
    logprobs: list[dict[str, Any]] | None
    cached: bool
    digest: str
    attempts: int
    raw: dict[str, Any]
    ttft_ms: float | None = None
    """Streamed answers: ms from sending the request to the first non-empty content delta (None otherwise)."""


def request_digest(model_id: str, messages: list[dict[str, Any]], params: dict[str, Any], sample_index: int) -> str:
    """The cache key of a request: model, messages, every parameter and the sample index.

    Streaming is not a parameter here: it changes how the answer arrives, not what it is,
    so a streamed and a plain request share one cache entry.
    """
    return R.digest("chat", model_id, messages, params, sample_index)


class _SSE:
    """Reads a Server-Sent Events chat stream as its bytes arrive, timestamping the first content."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.ttft_ms: float | None = None
        self.buf = b""
        self.chunks: list[dict[str, Any]] = []
        self.done = False
        self.bad: str | None = None

    def feed(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            line = line.rstrip(b"\r")
            if not line.startswith(b"data:") or self.done:
                continue  # comments, event names, ids and blank separators
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.done = True
                continue
            try:
                chunk = json.loads(payload)
            except ValueError:
                self.bad = self.bad or payload[:120].decode("utf-8", "replace")
                continue
            if self.ttft_ms is None:
                for c in chunk.get("choices") or ():
                    if isinstance(c, dict) and (c.get("delta") or {}).get("content"):
                        self.ttft_ms = (time.perf_counter() - self.t0) * 1000
                        break
            self.chunks.append(chunk)

    def completion(self) -> dict[str, Any]:
        """The chunks put together in the shape of a non-streamed chat.completion body."""
        text: list[str] = []
        logprobs: list[Any] | None = None
        finish = usage = None
        head: dict[str, Any] = {}
        for chunk in self.chunks:
            head = head or {k: chunk[k] for k in ("id", "model", "created") if k in chunk}
            if chunk.get("usage"):
                usage = chunk["usage"]
            for c in chunk.get("choices") or ():
                if c.get("index", 0) != 0:
                    continue
                text.append((c.get("delta") or {}).get("content") or "")
                finish = c.get("finish_reason") or finish
                lp = c.get("logprobs")
                if isinstance(lp, dict) and lp.get("content") is not None:
                    logprobs = (logprobs or []) + list(lp["content"])
        message = {"role": "assistant", "content": "".join(text)}
        choice = {"index": 0, "message": message, "finish_reason": finish,
                  "logprobs": {"content": logprobs} if logprobs is not None else None}
        return {**head, "object": "chat.completion", "choices": [choice], "usage": usage}


def _retry_after(headers: dict[str, str]) -> float | None:
    v = headers.get("retry-after-ms")
    if v:
        try:
            return float(v) / 1000
        except ValueError:
            pass
    v = headers.get("retry-after")
    if not v:
        return None
    try:
        return max(0.0, float(v))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(v)
            return max(0.0, when.timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _error_text(resp: HTTPResponse) -> str:
    try:
        err = json.loads(resp.body).get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err)
        if err:
            return str(err)
    except (ValueError, AttributeError):
        pass
    return resp.text[:200].strip() or f"HTTP {resp.status}"


@dataclass(frozen=True)
class ClientSettings:
    """How an ``OpenAIChat`` calls its endpoint: address, limits, retries, timeout, cache use, transport.

    ``make_provider(model, **options)`` takes these as keyword options (plain values, so a
    run's config can rebuild the client elsewhere) and gives them to the client as one record.
    """

    base_url: str | None = None
    """The server's URL (None: the model's)."""
    concurrency: int = 16
    """Requests in flight at once for this model (shared by its clients in one event loop)."""
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = 120.0
    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0
    no_cache: bool = False
    """Read only this run's own answers from the cache (``RequestCache.own_run_only``)."""
    seed: int | None = None
    """Seed of the backoff jitter."""
    transport: str = "auto"
    stream: bool = False
    structured: str = "auto"


class OpenAIChat:
    """Async client of ``POST {base_url}/chat/completions`` for one model, with limits and retries.

    The request's ``model`` field is ``model.params["model"]`` when given, else the name part
    of ``name@version``; the other ``model.params`` are default request parameters. The
    key comes from the environment variable ``model.api_key_env``, else from ``OPENAI_API_KEY`` if set (else no key).
    Calls are cached by request digest when a ``cache`` is given and ``no_cache`` is off.
    ``stream`` asks for streamed answers by default (``complete(stream=...)`` overrides it).
    ``structured`` says when callers that can (the LLM judges) ask for structured outputs:
    ``auto`` (the default) until the endpoint refuses ``response_format`` (an HTTP 400 or
    422 naming it), after which this model at this URL is asked without it for the rest of
    the process (``refuses_structured``); ``on`` always; ``off`` never.
    """

    def __init__(self, model: R.Model, settings: ClientSettings | None = None, *,
                 cache: RequestCache | None = None) -> None:
        o = settings if settings is not None else ClientSettings()
        base_url, concurrency, rpm, tpm = o.base_url, o.concurrency, o.rpm, o.tpm
        no_cache, seed, structured = o.no_cache, o.seed, o.structured
        timeout, max_retries, backoff_base, backoff_max, retry_after_max = (
            o.timeout, o.max_retries, o.backoff_base, o.backoff_max, o.retry_after_max)
        transport, stream = o.transport, o.stream
        self.model = model
        base = base_url or model.base_url
        if not base:
            raise ProviderFatal("unreachable", f"model {model.id} has no base URL: give --base-url")
        self.base_url = base.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.api_model = str(model.params.get("model", model.name))
        self.defaults = {k: v for k, v in model.params.items() if k != "model"}
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency, self.rpm, self.tpm = concurrency, rpm, tpm
        self._limits: Limits | None = None
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        # --no-cache: nothing from other runs' calls, but a run's own answers are kept for its rerun
        self.cache = cache.own_run_only() if no_cache and hasattr(cache, "own_run_only") else None if no_cache else cache
        self._rng = random.Random(seed)
        self._headers = {"content-type": "application/json", "accept": "application/json"}
        key = self._api_key()
        if key:
            self._headers["authorization"] = f"Bearer {key}"
        self.transport = transport
        self.stream = stream
        if structured not in STRUCTURED:
            raise ValueError(f"structured must be one of {', '.join(STRUCTURED)}, not {structured!r}")
        self.structured = structured
        self._http: Any = None
        self.calls = 0  # HTTP requests sent, retries included

    def _api_key(self) -> str | None:
        env = self.model.api_key_env
        if not env:  # like OpenAI's own clients: the key in OPENAI_API_KEY, when there is one
            return os.environ.get(DEFAULT_KEY_ENV, "").strip() or None
        key = os.environ.get(env, "").strip()
        if not key:
            raise ProviderFatal("no_key", f"the environment variable {env} (API key for {self.model.id}) is not set")
        return key

    def spec(self) -> dict[str, Any]:
        """What rebuilds this provider: registered name, model and options."""
        return {
            "provider": getattr(self, "registry_name", "openai"),
            "model": self.model.model_dump(mode="json"),
            "base_url": self.base_url,
            "options": getattr(self, "registry_options", {}),
        }

    @property
    def limits(self) -> Limits:
        """This model's limits, shared with every other client of it in the running event loop."""
        if self._limits is None:
            self._limits = shared_limits((self.model.id, self.base_url), concurrency=self.concurrency, rpm=self.rpm, tpm=self.tpm)
        return self._limits

    @property
    def http(self) -> Any:
        """The HTTP transport (made on first use, inside the running event loop)."""
        if self._http is None:
            self._http = make_transport(
                self.transport, self.base_url, max_connections=self.concurrency,
                headers=self._headers, connect_timeout=min(self.timeout, 10.0),
            )
        return self._http

    async def aclose(self) -> None:
        if self.cache is not None:
            await self.cache.flush()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> OpenAIChat:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- fail fast ---------------------------------------------------------------------

    async def preflight(self) -> None:
        """Check, with one cheap request, that the base URL answers and accepts the key.

        Raises ProviderFatal with one clear message; an unknown model is caught by the
        first chat call (a 404 aborts the run), since not every server lists its models.
        """
        try:
            resp = await self.http.request("GET", "/models", None, min(self.timeout, 10.0))
        except TransportTimeout:
            raise ProviderFatal("unreachable", f"no answer from {self.base_url} within {min(self.timeout, 10.0):g}s: is the base URL right?") from None
        except TransportError as e:
            raise ProviderFatal("unreachable", f"cannot reach {self.base_url}: {e}; is the server running and the base URL right?") from None
        if resp.status in (401, 403):
            raise self._auth_error(resp)

    def _auth_error(self, resp: HTTPResponse) -> ProviderFatal:
        env = self.model.api_key_env
        if env:
            hint = f"check ${env}"
        elif os.environ.get(DEFAULT_KEY_ENV, "").strip():
            hint = f"the key came from ${DEFAULT_KEY_ENV}; give another variable with --api-key-env"
        else:
            hint = "give the key's variable with --api-key-env"
        return ProviderFatal("auth", f"{self.base_url} refused the API key (HTTP {resp.status}: {_error_text(resp)}); {hint}")

    # ---- structured outputs ----------------------------------------------------------------

    def wants_structured(self) -> bool:
        """Whether a caller that can should ask for ``response_format`` now."""
        if self.structured == "auto":
            return (self.base_url, self.api_model) not in _NO_STRUCTURED
        return self.structured == "on"

    def refuses_structured(self, error: BaseException) -> bool:
        """Whether ``error`` is this endpoint refusing ``response_format`` and, with ``auto``, the caller
        should ask again without it (remembered for this model at this URL). Never with ``on``."""
        if self.structured != "auto" or not isinstance(error, ProviderError) or error.kind != "bad_request":
            return False
        if not _REFUSAL.search(str(error)):
            return False
        _NO_STRUCTURED.add((self.base_url, self.api_model))
        return True

    # ---- calling ----------------------------------------------------------------------------

    def _merged(self, params: dict[str, Any]) -> dict[str, Any]:
        """The request parameters; ``stream`` is not one (it does not change the answer, nor the digest)."""
        merged = {**self.defaults, **{k: v for k, v in params.items() if v is not None}}
        merged.pop("stream", None)
        merged.pop("stream_options", None)
        return merged

    def request_digest(self, messages: list[dict[str, Any]], *, sample_index: int = 0, **params: Any) -> str:
        """The cache key ``complete`` would use for this call (no request is made)."""
        return request_digest(self.model.id, messages, self._merged(params), sample_index)

    async def complete(self, messages: list[dict[str, Any]], *, sample_index: int = 0, stream: bool | None = None,
                       **params: Any) -> Completion:
        """One chat completion, from the cache or the server (retried on 429, 5xx, timeouts).

        ``stream`` (None: the client's setting) asks for Server-Sent Events and measures
        ``ttft_ms``: from sending the request to the first chunk with non-empty delta
        content. A stream cut off mid-way is retried like a dropped connection. Usage is
        what the final chunk reports (None if the server sends none). A cached answer
        keeps the TTFT stored with it, None if it was not streamed.
        """
        merged = self._merged(params)
        stream = self.stream if stream is None else stream
        digest = request_digest(self.model.id, messages, merged, sample_index)
        if self.cache is not None:
            hit = await self.cache.get(digest)
            if hit is not None:
                return self._completion(hit["body"], hit["latency_ms"], digest, cached=True, attempts=0,
                                        ttft_ms=hit.get("ttft_ms"))
        body = {"model": self.api_model, "messages": messages, **merged}
        if stream:
            body.update(stream=True, stream_options={"include_usage": True})
        payload = json.dumps(body, ensure_ascii=False).encode()
        est = len(payload) / 4 + float(merged.get("max_tokens") or merged.get("max_completion_tokens") or 256)
        cache = self.cache
        request = {"messages": messages, "params": merged, "sample_index": sample_index}
        keep = self._keeper(cache, digest, request) if cache is not None and hasattr(cache, "save") else None
        data, latency, attempts, ttft = await self._post(payload, est, stream=stream, keep=keep)
        if cache is not None and keep is None:
            cache.put(digest, self.model.id, request, {"body": data, "latency_ms": latency, "ttft_ms": ttft})
        return self._completion(data, latency, digest, cached=False, attempts=attempts, ttft_ms=ttft)

    def _keeper(self, cache: Any, digest: str, request: dict[str, Any]) -> Any:
        """What stores a fresh answer in the cache before its call gives up its slot (see ``_post``)."""

        async def keep(data: dict[str, Any], latency: float, ttft: float | None) -> None:
            await cache.save(digest, self.model.id, request, {"body": data, "latency_ms": latency, "ttft_ms": ttft})

        return keep

    async def _post(self, payload: bytes, est_tokens: float, *, stream: bool = False, keep: Any = None
                    ) -> tuple[dict[str, Any], float, int, float | None]:
        """POST with retries; ``keep(data, latency_ms, ttft_ms)`` stores an answer before its slot is given up,
        so a call counts as in flight until its answer is safe."""
        limits = self.limits
        last = ""
        for attempt in range(self.max_retries + 1):
            await limits.admit(est_tokens)
            wait: float | None = None
            async with limits.slots:
                if limits._resume_at:
                    await limits.paused()
                self.calls += 1
                t0 = time.perf_counter()
                sse = _SSE(t0) if stream else None  # fresh per attempt: a cut stream is read again
                try:
                    resp = await self.http.request("POST", "/chat/completions", payload, self.timeout,
                                                   on_body=sse.feed if sse is not None else None)
                except TransportTimeout:
                    kind, last = "timeout", f"no answer within {self.timeout:g}s"
                except TransportError as e:
                    kind, last = "connection", str(e)
                else:
                    latency = (time.perf_counter() - t0) * 1000
                    status = resp.status
                    if status == 200:
                        data, ttft, bad = self._read(resp, sse)
                        if data is None:
                            kind, last = "malformed", bad
                        else:
                            if limits.tokens is not None:
                                used = (data.get("usage") or {}).get("total_tokens")
                                if used is not None:
                                    limits.tokens.settle(used - est_tokens)
                            if keep is not None:
                                await keep(data, latency, ttft)
                            return data, latency, attempt + 1, ttft
                    elif status in (401, 403):
                        raise self._auth_error(resp)
                    elif status == 404:
                        raise self._not_found(resp)
                    elif status in _RETRY_STATUS:
                        kind = "rate_limit" if status == 429 else ("server" if status >= 500 else f"http_{status}")
                        last = f"HTTP {status}: {_error_text(resp)}"
                        wait = _retry_after(resp.headers)
                        if wait is not None:
                            wait = min(wait, self.retry_after_max)
                            if status == 429:
                                limits.pause(wait)
                    else:
                        text = _error_text(resp)
                        kind = "content_filter" if "content" in text.lower() and "filter" in text.lower() else (
                            "bad_request" if status in (400, 413, 422) else f"http_{status}"
                        )
                        raise ProviderError(kind, f"HTTP {status}: {text}", attempts=attempt + 1)
            if attempt == self.max_retries:
                break
            await asyncio.sleep(self._backoff(attempt, wait))
        raise ProviderError(kind, f"{last} (gave up after {self.max_retries + 1} attempts)", attempts=self.max_retries + 1)

    @staticmethod
    def _read(resp: HTTPResponse, sse: _SSE | None) -> tuple[dict[str, Any] | None, float | None, str]:
        """The completion body of a 200 answer (NUL characters replaced, see ``_without_nul``) and its TTFT, or
        None and why it is unreadable."""
        data, ttft, why = OpenAIChat._parse(resp, sse)
        return (None if data is None else _without_nul(data)), ttft, why

    @staticmethod
    def _parse(resp: HTTPResponse, sse: _SSE | None) -> tuple[dict[str, Any] | None, float | None, str]:
        if sse is not None and not sse.chunks and resp.body.lstrip().startswith(b"{"):
            sse = None  # a server that ignores "stream" and answers plainly
        if sse is None:
            try:
                data = json.loads(resp.body)
                data["choices"][0]["message"]
            except (ValueError, KeyError, IndexError, TypeError):
                return None, None, f"unreadable completion body: {resp.text[:120]!r}"
            return data, None, ""
        if sse.bad is not None:
            return None, None, f"unreadable stream chunk: {sse.bad!r}"
        if not sse.done:  # the body ended, cleanly, before data: [DONE]
            return None, None, f"stream ended before [DONE] after {len(sse.chunks)} chunks"
        return sse.completion(), sse.ttft_ms, ""

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with equal jitter; at least what Retry-After asked for."""
        d = min(self.backoff_max, self.backoff_base * (2**attempt))
        d = d / 2 + self._rng.uniform(0, d / 2)
        if retry_after is not None:
            d = retry_after + self._rng.uniform(0, min(retry_after, self.backoff_base) * 0.2)
        return d

    def _not_found(self, resp: HTTPResponse) -> ProviderFatal:
        text = _error_text(resp)
        if "model" in text.lower():
            return ProviderFatal("not_found", f"model {self.api_model!r} is not served at {self.base_url} (HTTP 404: {text})")
        return ProviderFatal(
            "not_found",
            f"{self.url} answered 404 ({text}): is the base URL right? OpenAI-compatible servers usually end in /v1",
        )

    def _completion(self, data: dict[str, Any], latency: float, digest: str, *, cached: bool, attempts: int,
                    ttft_ms: float | None = None) -> Completion:
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        pt, ct = usage.get("prompt_tokens"), usage.get("completion_tokens")
        m = self.model
        cost = None
        if m.price_input_per_mtok is not None or m.price_output_per_mtok is not None:
            cost = ((pt or 0) * (m.price_input_per_mtok or 0.0) + (ct or 0) * (m.price_output_per_mtok or 0.0)) / 1e6
        lp = choice.get("logprobs")
        return Completion(
            text=(choice.get("message") or {}).get("content") or "",
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=pt,
            completion_tokens=ct,
            cost_usd=cost,
            latency_ms=latency,
            logprobs=lp.get("content") if isinstance(lp, dict) else None,
            cached=cached,
            digest=digest,
            attempts=attempts,
            raw=data,
            ttft_ms=ttft_ms,
        )


def _without_nul(value: Any) -> Any:
    """``value`` with every NUL character in its strings replaced by U+FFFD, as an HTML parser does: PostgreSQL
    text cannot hold NUL, so an answer carrying one failed the whole run there while SQLite kept it."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


@provider("openai")
def openai_chat(model: R.Model, *, cache: RequestCache | None = None, **options: Any) -> OpenAIChat:
    """Any OpenAI-compatible chat endpoint (the default provider); ``options`` are ``ClientSettings`` fields."""
    return OpenAIChat(model, ClientSettings(**options), cache=cache)
