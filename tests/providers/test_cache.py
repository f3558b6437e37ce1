"""The request cache in the store (SQLite and PostgreSQL), seen from the client."""

from __future__ import annotations

import asyncio

from assay.providers import RequestCache, make_provider, request_digest
from assay.records import Model
from assay.store.ledger import Ledger

USER = [{"role": "user", "content": "cache me"}]


async def test_repeated_request_is_answered_from_the_cache(store, model_server):
    model = Model(id="m@1", base_url=model_server.base_url)
    async with make_provider(model, cache=RequestCache(store)) as c:
        first = await c.complete(USER, temperature=0)
    assert not first.cached and len(model_server.chat_requests) == 1
    assert Ledger(store).cache_count(model="m@1") == 1  # written on close

    async with make_provider(model, cache=RequestCache(store)) as c:
        again = await c.complete(USER, temperature=0)
        assert again.cached and again.text == first.text and again.prompt_tokens == first.prompt_tokens
        assert len(model_server.chat_requests) == 1  # the server saw nothing new
        # any change of the request is a new request: parameters, sample index, messages
        await c.complete(USER, temperature=0.5)
        await c.complete(USER, temperature=0, sample_index=1)
        await c.complete([{"role": "user", "content": "other"}], temperature=0)
        assert len(model_server.chat_requests) == 4

    async with make_provider(model, cache=RequestCache(store), no_cache=True) as c:
        fresh = await c.complete(USER, temperature=0)
    assert not fresh.cached and len(model_server.chat_requests) == 5


async def test_concurrent_lookups_are_batched_and_correct(store, model_server):
    model = Model(id="m@1", base_url=model_server.base_url)
    cache = RequestCache(store)
    async with make_provider(model, cache=cache, concurrency=32) as c:
        await asyncio.gather(*(c.complete(USER, sample_index=i) for i in range(100)))
    cache = RequestCache(store)
    async with make_provider(model, cache=cache, concurrency=32) as c:
        got = await asyncio.gather(*(c.complete(USER, sample_index=i) for i in range(150)))
    assert [g.cached for g in got] == [True] * 100 + [False] * 50
    assert (cache.hits, cache.misses) == (100, 50)
    assert len(model_server.chat_requests) == 150
    d = request_digest("m@1", USER, {}, 3)
    assert d in Ledger(store).cache_get_many([d, "absent"])
