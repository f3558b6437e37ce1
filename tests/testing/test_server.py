"""The scripted model server, exercised over real HTTP with httpx."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import httpx
import pytest

from assay.testing import Faults, Reply, ScriptedServer


HTTP = httpx.Client(timeout=30)  # one client: making one per request costs ~50 ms (TLS context)


def chat(srv: ScriptedServer, content: str = "hello", **extra) -> httpx.Response:
    headers = extra.pop("headers", None)
    body = {"model": extra.pop("model", "m"), "messages": [{"role": "user", "content": content}], **extra}
    return HTTP.post(srv.base_url + "/chat/completions", json=body, headers=headers)


def test_echo_queue_handler_and_request_log(model_server):
    r = chat(model_server, "what is two plus two")
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "echo: what is two plus two"
    assert r.json()["usage"] == {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}

    model_server.enqueue("first", Reply(text="second", finish_reason="length"))
    assert chat(model_server).json()["choices"][0]["message"]["content"] == "first"
    second = chat(model_server).json()["choices"][0]
    assert (second["message"]["content"], second["finish_reason"]) == ("second", "length")

    model_server.handler = lambda body: f"{len(body['messages'])} messages, T={body.get('temperature')}"
    assert chat(model_server, temperature=0.3).json()["choices"][0]["message"]["content"] == "1 messages, T=0.3"

    assert [r.last_user for r in model_server.chat_requests] == ["what is two plus two", "hello", "hello", "hello"]
    assert model_server.chat_requests[-1].body["temperature"] == 0.3
    assert all(r.status == 200 for r in model_server.answered())


def test_async_handler():
    async def handler(body):
        await asyncio.sleep(0.01)
        return Reply(text=body["messages"][-1]["content"].upper())

    with ScriptedServer(handler=handler) as srv:
        assert chat(srv, "shout").json()["choices"][0]["message"]["content"] == "SHOUT"


def test_logprobs_with_top_alternatives(model_server):
    model_server.enqueue(Reply(text="4", top_logprobs=[{"4": -0.2, "5": -1.9, "3": -3.0}]))
    lp = chat(model_server, logprobs=True, top_logprobs=2).json()["choices"][0]["logprobs"]["content"]
    assert lp[0]["token"] == "4" and lp[0]["logprob"] == -0.2
    assert [(t["token"], t["logprob"]) for t in lp[0]["top_logprobs"]] == [("4", -0.2), ("5", -1.9)]
    # without logprobs in the request, none are returned
    model_server.enqueue(Reply(text="4", top_logprobs=[{"4": -0.2}]))
    assert chat(model_server).json()["choices"][0]["logprobs"] is None


def test_api_key_unknown_model_and_model_list():
    with ScriptedServer(models=["judge"], api_key="sekret") as srv:
        assert chat(srv, model="judge").status_code == 401
        ok = {"authorization": "Bearer sekret"}
        assert chat(srv, model="judge", headers=ok).status_code == 200
        r = chat(srv, model="nope", headers=ok)
        assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
        listed = HTTP.get(srv.base_url + "/models", headers=ok).json()
        assert [m["id"] for m in listed["data"]] == ["judge"]
        assert HTTP.post(srv.url + "/chat/completions", json={}, headers=ok).status_code == 404  # no /v1


def test_scripted_faults(model_server):
    model_server.enqueue(Reply.rate_limited(retry_after=2), Reply.server_error(503), Reply.malformed(), Reply(text="late", delay=0.2))
    r = chat(model_server)
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    assert chat(model_server).status_code == 503
    bad = chat(model_server)
    assert bad.status_code == 200
    with pytest.raises(ValueError):
        bad.json()
    t = time.perf_counter()
    assert chat(model_server).json()["choices"][0]["message"]["content"] == "late"
    assert time.perf_counter() - t >= 0.2


def test_timeout_hangs_past_the_client_timeout():
    before = set(threading.enumerate())
    with ScriptedServer(replies=[Reply.timeout()], hang_s=600) as srv:
        (thread,) = [t for t in set(threading.enumerate()) - before if t.name == "assay-model-server"]
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(srv.base_url + "/chat/completions", json={"model": "m", "messages": []}, timeout=0.3)
        assert chat(srv).status_code == 200  # the next request is answered
    # stopping released the hung request: the server's thread ended, long before the 600 s hang would
    assert not thread.is_alive()


def test_fault_rates_are_seeded():
    def statuses() -> list[int]:
        with ScriptedServer(faults=Faults(rate_limit=0.3, server_error=0.2, malformed=0.1, seed=7)) as srv:
            out = []
            for _ in range(60):
                r = chat(srv)
                out.append(r.status_code if r.status_code != 200 or r.text.endswith("}") else -1)
            return out

    a, b = statuses(), statuses()
    assert a == b
    assert {429, 500, -1, 200} == set(a)


def test_chunked_reply(model_server):
    model_server.enqueue(Reply(text="word " * 2000, chunked=True))
    r = chat(model_server)
    assert r.headers["transfer-encoding"] == "chunked"
    assert r.json()["choices"][0]["message"]["content"] == "word " * 2000


def test_module_serves_from_a_shell():
    proc = subprocess.Popen([sys.executable, "-m", "assay.testing", "--model", "m", "--latency", "0"], stdout=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:") and base.endswith("/v1")
        r = None
        deadline = time.monotonic() + 120  # the URL is printed before serving starts: wait for it, however slow the machine
        while r is None and proc.poll() is None and time.monotonic() < deadline:
            try:
                r = HTTP.post(base + "/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
            except httpx.ConnectError:
                time.sleep(0.05)
        assert r is not None, f"the server never answered (exit code {proc.poll()})"
        assert r.json()["choices"][0]["message"]["content"] == "echo: x"
    finally:
        proc.terminate()
        proc.wait(10)
