"""Streamed answers (Server-Sent Events) against the real scripted server: text, TTFT, usage, retries, cache."""

from __future__ import annotations

import pytest

from assay.providers import ProviderError, RequestCache, make_provider
from assay.records import Model
from assay.testing import Reply, ScriptedServer

USER = [{"role": "user", "content": "tell me"}]
TEXT = "The quick brown fox jumps over the lazy dog, twice:\n  once, and again."


def client(srv: ScriptedServer, **options):
    options = {"timeout": 5, "backoff_base": 0.01, "max_retries": 3, **options}
    return make_provider(Model(id="m@1", base_url=srv.base_url), **options)


@pytest.mark.parametrize("transport", ["lean", "httpx"])
async def test_streamed_answer_equals_the_plain_one(model_server, transport):
    lps = [{w: -0.1 * i, "x": -5.0} for i, w in enumerate(TEXT.split())]
    model_server.enqueue(*[Reply(text=TEXT, top_logprobs=lps, finish_reason="length", prompt_tokens=7,
                                 completion_tokens=13)] * 2)
    async with client(model_server, transport=transport) as c:
        plain = await c.complete(USER, logprobs=True, top_logprobs=2)
        streamed = await c.complete(USER, logprobs=True, top_logprobs=2, sample_index=1, stream=True)
    body = model_server.chat_requests[1].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "stream" not in model_server.chat_requests[0].body
    assert streamed.text == plain.text == TEXT
    assert streamed.finish_reason == plain.finish_reason == "length"
    assert streamed.logprobs == plain.logprobs and len(streamed.logprobs) == len(TEXT.split())
    # usage comes from the final chunk
    assert (streamed.prompt_tokens, streamed.completion_tokens) == (plain.prompt_tokens, plain.completion_tokens) == (7, 13)
    assert plain.ttft_ms is None and streamed.ttft_ms is not None


@pytest.mark.parametrize("transport", ["lean", "httpx"])
async def test_ttft_is_the_first_content_not_the_first_byte(transport):
    words = " ".join(f"w{i}" for i in range(12))  # 4 content chunks
    with ScriptedServer(first_token_s=0.2, token_interval_s=0.1, latency=0.05) as srv:
        async with client(srv, transport=transport, stream=True) as c:  # the client's option turns it on
            got = await c.complete([{"role": "user", "content": words}])
    assert got.text == "echo: " + words
    assert 200 <= got.ttft_ms < got.latency_ms  # latency + first_token_s (250 ms): the role chunk does not count
    assert got.latency_ms - got.ttft_ms >= 250  # three more chunks, 0.1 s apart (timers may wake a hair early)


async def test_no_usage_chunk_leaves_usage_unknown(model_server):
    async with client(model_server) as c:
        got = await c._post(b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true}', 10,
                            stream=True)
    data, _, attempts, ttft = got
    assert data["choices"][0]["message"]["content"] == "echo: hi" and data["usage"] is None
    assert attempts == 1 and ttft is not None


@pytest.mark.parametrize("transport", ["lean", "httpx"])
async def test_a_stream_cut_midway_is_retried(model_server, transport):
    model_server.enqueue(Reply(text=TEXT, cut_after=2), Reply(text=TEXT, cut_after=1), TEXT)
    async with client(model_server, transport=transport) as c:
        got = await c.complete(USER, stream=True)
    assert got.text == TEXT and got.attempts == 3  # the partial text of the cut streams is not kept
    assert len(model_server.chat_requests) == 3


async def test_a_stream_cut_every_time_gives_up_as_a_connection_error(model_server):
    model_server.enqueue(*[Reply(text=TEXT, cut_after=1)] * 3)
    async with client(model_server, max_retries=2) as c:
        with pytest.raises(ProviderError) as e:
            await c.complete(USER, stream=True)
    assert e.value.kind == "connection" and e.value.attempts == 3


async def test_errors_before_the_stream_are_retried_as_usual(model_server):
    model_server.enqueue(Reply.rate_limited(0.05), Reply.server_error(500), Reply.malformed(), TEXT)
    async with client(model_server) as c:
        got = await c.complete(USER, stream=True)
    assert got.text == TEXT and got.attempts == 4 and got.ttft_ms is not None
    assert [r.status for r in model_server.chat_requests] == [429, 500, 200, 200]


async def test_bad_request_before_the_stream_is_not_retried(model_server):
    model_server.enqueue(Reply(status=400, body={"error": {"message": "context length exceeded"}}))
    async with client(model_server) as c:
        with pytest.raises(ProviderError) as e:
            await c.complete(USER, stream=True)
    assert e.value.kind == "bad_request" and len(model_server.chat_requests) == 1


async def test_the_cache_ignores_the_stream_flag_and_keeps_the_ttft(store, model_server):
    model_server.first_token_s = 0.05
    async with client(model_server, cache=RequestCache(store)) as c:
        assert c.request_digest(USER) == c.request_digest(USER, stream=True)
        first = await c.complete(USER, stream=True)
    async with client(model_server, cache=RequestCache(store)) as c:
        again = await c.complete(USER, stream=True)
        plain = await c.complete(USER)  # the same request unstreamed: the same entry
        other = await c.complete(USER, sample_index=1)  # cached unstreamed: no TTFT to give back
        other_streamed = await c.complete(USER, sample_index=1, stream=True)
    assert len(model_server.chat_requests) == 2
    assert again.cached and plain.cached and (again.text, plain.text) == (first.text, first.text)
    assert first.ttft_ms >= 45 and again.ttft_ms == plain.ttft_ms == first.ttft_ms
    assert other_streamed.cached and other.ttft_ms is None and other_streamed.ttft_ms is None
