"""The chat client against the real scripted server: retries, limits, fail-fast, logprobs, cost."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from assay.providers import OpenAIChat, ProviderError, ProviderFatal, TokenBucket, make_provider, providers
from assay.records import Model
from assay.testing import Reply, ScriptedServer

from tests.conftest import skip_or_fail

USER = [{"role": "user", "content": "two words"}]


def client(srv: ScriptedServer, model: str = "m@1", **options) -> OpenAIChat:
    # a timeout no answer of the local server comes near, even on a loaded machine: a request that
    # timed out by accident would be retried and change the counts the tests assert
    options = {"timeout": 30, "backoff_base": 0.01, "max_retries": 4, **options}
    return make_provider(Model(id=model, base_url=srv.base_url, **options.pop("fields", {})), **options)


@pytest.mark.parametrize("transport", ["lean", "httpx"])
async def test_retries_every_transient_fault_then_answers(model_server, transport):
    model_server.hang_s = 60  # the scripted timeout: the client gives up after its 2 s, the server never answers
    model_server.enqueue(Reply.rate_limited(None), Reply.server_error(502), Reply.timeout(), Reply.malformed(), "finally", Reply(text="chunked " * 500, chunked=True))
    async with client(model_server, transport=transport, timeout=2) as c:
        got = await c.complete(USER)
        assert (got.text, got.attempts, got.cached) == ("finally", 5, False)
        assert [r.status for r in model_server.chat_requests] == [429, 502, 0, 200, 200]
        assert (await c.complete(USER, sample_index=1)).text == "chunked " * 500


async def test_retry_after_is_honoured(model_server):
    model_server.enqueue(Reply.rate_limited(retry_after=0.4), "ok")
    async with client(model_server, backoff_base=0.001) as c:
        assert (await c.complete(USER)).text == "ok"
    first, second = model_server.chat_requests
    assert second.at - first.at >= 0.4


async def test_gives_up_after_bounded_retries_with_the_error_kind(model_server):
    model_server.enqueue(*[Reply.server_error()] * 3)
    async with client(model_server, max_retries=2) as c:
        with pytest.raises(ProviderError) as e:
            await c.complete(USER)
    assert e.value.kind == "server" and e.value.attempts == 3 and "gave up after 3 attempts" in e.value.message
    assert len(model_server.chat_requests) == 3


async def test_bad_request_is_not_retried(model_server):
    model_server.enqueue(Reply(status=400, body={"error": {"message": "context length exceeded"}}))
    async with client(model_server) as c:
        with pytest.raises(ProviderError) as e:
            await c.complete(USER)
    assert e.value.kind == "bad_request" and "context length" in e.value.message
    assert len(model_server.chat_requests) == 1


async def test_wrong_key_fails_fast(monkeypatch):
    monkeypatch.setenv("ASSAY_TEST_KEY", "wrong")
    with ScriptedServer(api_key="right") as srv:
        async with client(srv, fields={"api_key_env": "ASSAY_TEST_KEY"}) as c:
            with pytest.raises(ProviderFatal, match="refused the API key.*ASSAY_TEST_KEY") as e:
                await c.preflight()
            assert e.value.kind == "auth"
            with pytest.raises(ProviderFatal, match="refused the API key"):
                await c.complete(USER)
        assert len(srv.chat_requests) == 1  # no retry on 401
        monkeypatch.setenv("ASSAY_TEST_KEY", "right")
        async with client(srv, fields={"api_key_env": "ASSAY_TEST_KEY"}) as c:
            await c.preflight()
            assert (await c.complete(USER)).text == "echo: two words"


def test_missing_key_variable_fails_before_any_call(monkeypatch):
    monkeypatch.delenv("ASSAY_UNSET_KEY", raising=False)
    with pytest.raises(ProviderFatal, match="ASSAY_UNSET_KEY .* is not set"):
        make_provider(Model(id="m@1", base_url="http://127.0.0.1:9/v1", api_key_env="ASSAY_UNSET_KEY"))


async def test_unreachable_base_url_fails_fast():
    """A refused connection is fatal at once: the "cannot reach" message, not the one given after
    waiting out the timeout (a long 60 s here, so a wait could not pass unnoticed)."""
    with ScriptedServer() as srv:
        port = srv.port  # a port that was just freed: nothing listens there
    async with make_provider(Model(id="m@1", base_url=f"http://127.0.0.1:{port}/v1"), timeout=60) as c:
        with pytest.raises(ProviderFatal, match="cannot reach .*base URL") as e:
            await c.preflight()
        assert e.value.kind == "unreachable" and "within" not in str(e.value)


async def test_unknown_model_and_wrong_path_are_fatal_404s():
    with ScriptedServer(models=["served"]) as srv:
        async with client(srv, model="other@1") as c:
            await c.preflight()  # the server answers; the model is caught by the first call
            with pytest.raises(ProviderFatal, match="model 'other' is not served") as e:
                await c.complete(USER)
            assert e.value.kind == "not_found"
        wrong = make_provider(Model(id="served@1", base_url=srv.url), timeout=30)  # missing /v1
        with pytest.raises(ProviderFatal, match="is the base URL right"):
            await wrong.complete(USER)
        await wrong.aclose()
        assert len(srv.chat_requests) == 2  # one call each, no retries


async def test_logprobs_usage_and_cost(model_server):
    model_server.enqueue(Reply(text="5", top_logprobs=[{"5": -0.1, "4": -2.5}], prompt_tokens=1000, completion_tokens=250))
    fields = {"price_input_per_mtok": 2.0, "price_output_per_mtok": 8.0, "params": {"model": "served-name", "temperature": 0}}
    async with client(model_server, fields=fields) as c:
        got = await c.complete(USER, logprobs=True, top_logprobs=2, max_tokens=1)
    body = model_server.chat_requests[0].body
    assert body["model"] == "served-name" and body["temperature"] == 0 and body["max_tokens"] == 1
    assert got.logprobs[0]["top_logprobs"][1] == {"token": "4", "logprob": -2.5, "bytes": [52]}
    assert (got.prompt_tokens, got.completion_tokens) == (1000, 250)
    assert got.cost_usd == pytest.approx((1000 * 2.0 + 250 * 8.0) / 1e6)


class InFlight:
    """A server handler that counts requests in flight, per model and in all, and holds each one
    until ``full`` are in flight together, so the peak is reached however slow the machine is
    (no overlapping sleeps to line up). After the gate opens a request lingers a moment more, so
    a client that overshoots its limit shows it; a correct one never can."""

    def __init__(self, full: int, *, wait_s: float = 30.0) -> None:
        self.full, self.wait_s = full, wait_s
        self.now: Counter = Counter()
        self.peak: Counter = Counter()
        self.gate: asyncio.Event | None = None  # made on the server's event loop

    async def __call__(self, body: dict) -> str:
        if self.gate is None:
            self.gate = asyncio.Event()
        model = body["model"]
        self.now[model] += 1
        self.now["all"] += 1
        for k in (model, "all"):
            self.peak[k] = max(self.peak[k], self.now[k])
        if self.now["all"] >= self.full:
            self.gate.set()
        try:
            await asyncio.wait_for(self.gate.wait(), self.wait_s)  # never full: the peak assertion says so
        except asyncio.TimeoutError:
            pass
        await asyncio.sleep(0.02)
        self.now[model] -= 1
        self.now["all"] -= 1
        return "ok"


async def test_concurrency_limit_bounds_requests_in_flight():
    handler = InFlight(full=3)
    with ScriptedServer(handler=handler) as srv:
        async with client(srv, concurrency=3) as c:
            await asyncio.gather(*(c.complete(USER, sample_index=i) for i in range(12)))
        assert len(srv.chat_requests) == 12
    assert handler.peak["all"] == 3


async def test_clients_of_one_model_share_its_limits():
    handler = InFlight(full=2)
    with ScriptedServer(handler=handler) as srv:
        a, b = client(srv, concurrency=2), client(srv, concurrency=2)
        other = client(srv, model="n@1", concurrency=2)
        await asyncio.gather(*(c.complete(USER, sample_index=i) for c in (a, b) for i in range(6)))
        assert handler.peak["all"] == 2  # one budget for m@1, however many clients
        srv.handler = handler = InFlight(full=4)
        await asyncio.gather(*(c.complete(USER, sample_index=i) for c in (a, other) for i in range(6, 12)))
        assert (handler.peak["m"], handler.peak["n"], handler.peak["all"]) == (2, 2, 4)  # another model has its own
        for c in (a, b, other):
            await c.aclose()


async def test_requests_per_minute_limit(model_server):
    async with client(model_server, rpm=3000) as c:  # 50 a second, bursts of 50
        t = time.perf_counter()
        await asyncio.gather(*(c.complete(USER, sample_index=i) for i in range(100)))
        elapsed = time.perf_counter() - t
    assert elapsed >= 0.9


async def test_tokens_per_minute_limit(model_server):
    model_server.handler = lambda body: Reply(text="x", prompt_tokens=400, completion_tokens=100)
    async with client(model_server, tpm=60_000) as c:  # 1,000 tokens a second
        t = time.perf_counter()
        for i in range(5):  # 500 tokens each (charged once known): 2,000 before the 5th, 1,000 over the burst
            await c.complete(USER, sample_index=i, max_tokens=100)
        elapsed = time.perf_counter() - t
    assert elapsed >= 0.9


async def test_a_429_with_retry_after_pauses_the_whole_model(model_server):
    model_server.enqueue(Reply.rate_limited(retry_after=0.3))
    async with client(model_server, concurrency=1) as c:
        await asyncio.gather(c.complete(USER, sample_index=0), c.complete(USER, sample_index=1))
    ats = [r.at for r in model_server.chat_requests]
    assert len(ats) == 3 and ats[1] - ats[0] >= 0.3 and ats[2] - ats[0] >= 0.3


async def test_token_bucket_debt_keeps_the_average_rate():
    bucket = TokenBucket(6000)  # 100 a second, capacity 100
    t = time.perf_counter()
    await bucket.acquire(250)  # larger than the bucket: allowed when full, leaves a debt
    await bucket.acquire(10)
    assert time.perf_counter() - t >= 1.4  # the debt of 150 + 10 is paid at 100/s


def test_providers_are_registered_names_and_rebuild_from_spec():
    assert "openai" in providers()
    c = make_provider(Model(id="m@1", base_url="http://127.0.0.1:9/v1"), concurrency=4, rpm=60)
    spec = c.spec()
    assert spec["provider"] == "openai" and spec["options"] == {"concurrency": 4, "rpm": 60}
    again = make_provider(Model(**spec["model"]), **spec["options"])
    assert again.spec() == spec


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        skip_or_fail("the openssl command is not installed (apt-get install openssl)")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d / "key.pem", "-out", d / "cert.pem",
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return str(d / "cert.pem"), str(d / "key.pem")


@pytest.mark.parametrize("transport", ["lean", "httpx"])
async def test_https_verified_against_ssl_cert_file(tls_cert, monkeypatch, transport):
    cert, key = tls_cert
    with ScriptedServer(ssl_certfile=cert, ssl_keyfile=key) as srv:
        assert srv.base_url.startswith("https://")
        async with client(srv, transport=transport) as c:  # not trusted: certifi does not know it
            with pytest.raises(ProviderFatal, match="cannot reach"):
                await c.preflight()
        monkeypatch.setenv("SSL_CERT_FILE", cert)
        async with client(srv, transport=transport) as c:
            await c.preflight()
            got = await asyncio.gather(*(c.complete(USER, sample_index=i) for i in range(20)))
        assert {g.text for g in got} == {"echo: two words"}


async def test_compressed_and_extra_headers_are_understood(model_server):
    import gzip
    import json

    body = {"choices": [{"message": {"role": "assistant", "content": "zipped"}, "finish_reason": "stop"}], "usage": {}}
    model_server.enqueue(Reply(body=gzip.compress(json.dumps(body).encode()), headers={"content-encoding": "gzip"}))
    model_server.enqueue(Reply(status=429, body={"error": "slow down"}, headers={"retry-after-ms": "300"}))
    model_server.enqueue("plain")
    async with client(model_server) as c:
        assert (await c.complete(USER)).text == "zipped"
        assert (await c.complete(USER, sample_index=1)).text == "plain"
    ats = [r.at for r in model_server.chat_requests]
    assert ats[2] - ats[1] >= 0.3  # retry-after-ms honoured
