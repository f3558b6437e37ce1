"""The request cache's stats and pruning, on both stores, over entries made by real runs."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from assay import records as R
from assay.providers import RequestCache, make_provider
from assay.runs import generate
from assay.store import tables as T
from assay.store.cache_admin import CacheSelection, cache_stats, prune_cache, vacuum_store
from assay.testing import ScriptedServer
from tests.sessions import session

NOW = R.utcnow()
AGE = {"a": 40, "b": 10, "c": 1, None: 100}  # days, per run (None: the entry made outside a run)


def _entries(store) -> dict[str, dict]:
    t = T.request_cache
    with store.engine.connect() as c:
        return {r.digest: dict(r._mapping) for r in c.execute(select(t.c.digest, t.c.model, t.c.run_id, t.c.request,
                                                                      t.c.response))}


def _bytes(rows) -> int:
    """What the store holds of each entry: the JSON texts of its request and response."""
    return sum(len(json.dumps(r["request"]).encode()) + len(json.dumps(r["response"]).encode()) for r in rows)


def _counts(store) -> dict[str, int]:
    with store.engine.connect() as c:
        return {t.name: c.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (T.responses, T.run_units, T.runs)}


@pytest.fixture
def filled(store):
    """Three generation runs of two models over four items, one entry made outside a run, of known ages.

    a: m@1, one sample (4 entries); b: m@1, two samples (sample 0 answered from a's entries, so
    4 new ones); c: n@1 (4); and n@1 asked directly by a client of its own (1, no run).
    """
    items = [R.Item(id=R.Item.make_id("qa", str(i), None, None), dataset="qa", external_id=str(i),
                    prompt=f"question {i}") for i in range(4)]
    store.add([R.Dataset(name="qa"), *items])
    runs = {}
    with ScriptedServer(models=["m", "n"]) as srv:
        m, n = (R.Model(id=f"{x}@1", base_url=srv.base_url) for x in "mn")
        runs["a"] = generate(session(store), m, "qa").id
        runs["b"] = generate(session(store), m, "qa", samples=2).id
        runs["c"] = generate(session(store), n, "qa").id

        async def outside() -> None:
            async with make_provider(n, cache=RequestCache(store)) as client:
                await client.complete([{"role": "user", "content": "outside any run"}])

        asyncio.run(outside())
        assert len(srv.chat_requests) == 13
    t = T.request_cache
    with store.transaction() as c:  # test set-up: give each run's entries their age
        for key, days in AGE.items():
            run_id = runs[key] if key else None
            where = t.c.run_id == run_id if run_id else t.c.run_id.is_(None)
            c.execute(t.update().where(where).values(created_at=NOW - timedelta(days=days)))
    by_run: dict[str | None, set[str]] = {}
    for d, row in _entries(store).items():
        by_run.setdefault(row["run_id"], set()).add(d)
    groups = {k: by_run.get(runs[k] if k else None, set()) for k in AGE}
    assert {k: len(v) for k, v in groups.items()} == {"a": 4, "b": 4, "c": 4, None: 1}
    return store, runs, groups


def test_stats_counts_bytes_and_dates_in_total_per_model_and_per_run(filled):
    store, runs, groups = filled
    rows = _entries(store)
    size = {k: _bytes(rows[d] for d in ds) for k, ds in groups.items()}
    st = cache_stats(store)
    assert (st.entries, st.payload_bytes) == (13, sum(size.values()))
    assert (st.oldest, st.newest) == (NOW - timedelta(days=100), NOW - timedelta(days=1))
    models = {g.key: (g.entries, g.bytes, g.oldest, g.newest) for g in st.models}
    assert models == {
        "m@1": (8, size["a"] + size["b"], NOW - timedelta(days=40), NOW - timedelta(days=10)),
        "n@1": (5, size["c"] + size[None], NOW - timedelta(days=100), NOW - timedelta(days=1)),
    }
    assert [(g.key, g.entries, g.bytes, g.kind, g.status) for g in st.runs] == sorted(
        [(runs[k], 4, size[k], "generate", "done") for k in "abc"], key=lambda r: (-r[2], r[0]))
    assert (st.no_run.entries, st.no_run.bytes, st.no_run.oldest) == (1, size[None], NOW - timedelta(days=100))
    assert st.more_runs == 0 and st.more_models == 0
    assert 0 < st.table_bytes < st.store_bytes and 0 < st.share < 1

    top = cache_stats(store, top=1)
    assert len(top.runs) == 1 and top.more_runs == 2 and len(top.models) == 1 and top.more_models == 1
    assert top.runs[0].bytes == max(size[k] for k in "abc")


SELECTIONS = [
    (CacheSelection(older_than=timedelta(days=30)), {"a", None}),
    (CacheSelection(model="n@1"), {"c", None}),
    (CacheSelection(run_id="b"), {"b"}),
    (CacheSelection(older_than=timedelta(days=30), model="m@1"), {"a"}),
    (CacheSelection(older_than=timedelta(days=5), model="n@1"), {None}),
    (CacheSelection(older_than=timedelta(days=5), run_id="c"), set()),
    (CacheSelection(everything=True), {"a", "b", "c", None}),
]


@pytest.mark.parametrize(("selection", "gone"), SELECTIONS, ids=["age", "model", "run", "age+model", "age+model-2",
                                                                   "age+run-none", "all"])
def test_prune_removes_exactly_the_selected_entries_and_nothing_else(filled, selection, gone):
    store, runs, groups = filled
    if selection.run_id is not None:  # the parametrization names the run by its key
        selection = CacheSelection(older_than=selection.older_than, run_id=runs[selection.run_id])
    before, results = _entries(store), _counts(store)
    removed = {d for k in gone for d in groups[k]}
    expect = (len(removed), _bytes(before[d] for d in removed))

    dry = prune_cache(store, selection, dry_run=True, now=NOW)
    assert (dry.entries, dry.bytes, dry.dry_run) == (*expect, True)
    assert _entries(store).keys() == before.keys()

    done = prune_cache(store, selection, now=NOW)
    assert (done.entries, done.bytes, done.dry_run) == (*expect, False)
    assert _entries(store).keys() == before.keys() - removed
    assert _counts(store) == results  # responses, the run ledger and the runs are untouched
    assert prune_cache(store, selection, now=NOW).entries == 0


def test_a_selection_must_choose_something():
    with pytest.raises(ValueError, match="older_than, model or run_id"):
        CacheSelection()
    with pytest.raises(ValueError, match="without older_than"):
        CacheSelection(everything=True, model="m@1")


def test_vacuum_after_pruning_everything_shrinks_the_store(filled):
    store, _, _ = filled
    with store.transaction() as c:  # test set-up: enough payload that freeing it shows on disk
        c.execute(T.request_cache.update().values(response={"body": {"pad": "x" * 200_000}}))
    prune_cache(store, CacheSelection(everything=True))
    freed = cache_stats(store)
    if store.backend == "sqlite":
        assert freed.free_bytes > 13 * 200_000 * 0.9  # deleted, not yet given back
    vac = vacuum_store(store)
    assert vac.done and vac.error is None and vac.after < vac.before
    if store.backend == "sqlite":
        assert vac.before - vac.after > 13 * 200_000 * 0.9 and cache_stats(store).free_bytes == 0
