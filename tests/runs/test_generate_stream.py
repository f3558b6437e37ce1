"""`assay generate --stream`: each Response keeps its time to first token; the run and cache are the same as unstreamed."""

from __future__ import annotations

import json

import pytest

from assay import records as R
from assay.cli import main
from assay.providers import make_provider
from assay.runs import GenerateTask
from assay.runs import Clients, build_work
from assay.testing import ScriptedServer

from .conftest import make_dataset


@pytest.fixture
def db(store, store_url):
    make_dataset(store, "qa", 12)
    return store_url


def gen(db, srv_url, *args):
    return main(["--db", db, "generate", "--model", "m@1", "--dataset", "qa", "--base-url", srv_url, "--backoff", "0.01",
                 "--json", *args])


def test_generate_stream_stores_ttft_and_shares_run_and_cache_with_plain_generation(db, store, capsys):
    with ScriptedServer(models=["m"], first_token_s=0.05, token_interval_s=0.01) as srv:
        assert gen(db, srv.base_url, "--stream") == 0
        run = json.loads(capsys.readouterr().out)
        assert (run["succeeded"], run["cached"]) == (12, 0) and len(srv.chat_requests) == 12
        assert all(r.body["stream"] is True for r in srv.chat_requests)
        responses = store.list("responses")
        assert len(responses) == 12 and all(r.text.startswith("echo: question") for r in responses)
        assert all(45 <= r.ttft_ms <= r.latency_ms for r in responses)  # timers may wake a hair early
        assert all(r.prompt_tokens and r.completion_tokens for r in responses)  # usage from the final chunk

        # streaming is how answers arrive, not what they are: without --stream it is the same, finished run
        assert gen(db, srv.base_url) == 0
        assert json.loads(capsys.readouterr().out)["id"] == run["id"] and len(srv.chat_requests) == 12

        # a second sample: sample 0 is answered from the cache, with the TTFT stored with it
        assert gen(db, srv.base_url, "--samples", "2") == 0
        second = json.loads(capsys.readouterr().out)
        assert (second["succeeded"], second["cached"]) == (24, 12) and len(srv.chat_requests) == 24
    by_sample = {k: [r for r in store.list("responses") if r.sample_index == k] for k in (0, 1)}
    assert all(r.ttft_ms is not None for r in by_sample[0])
    assert all(r.ttft_ms is None for r in by_sample[1])  # not streamed: no TTFT, none made up


async def test_the_work_spec_carries_the_stream_flag_to_a_worker(model_server):
    client = make_provider(R.Model(id="m@1", base_url=model_server.base_url), stream=True, concurrency=4)
    task = GenerateTask(client, [], dataset="qa")
    task.run_id = "r"
    assert task.work_spec().config["client"]["options"]["stream"] is True
    work = build_work(task.work_spec(), Clients())
    assert work.client.stream is True
    await client.aclose()
    await work.client.aclose()
