"""The local executor on both stores: faults, failures as data, retry of failures, abort, a judge-style task."""

from __future__ import annotations

from collections import Counter

import pytest

from assay import records as R
from assay.providers import ProviderFatal, make_provider
from assay.runs import LocalExecutor, Outcome, Unit, generate
from assay.store.ledger import Ledger
from assay.testing import Faults, ScriptedServer

from .conftest import make_dataset
from tests.sessions import session

# a timeout well above any healthy local answer, even on a loaded machine (a healthy request timed
# out by accident would be retried and change the counts); scripted timeouts hang longer (hang_s)
FAST = {"timeout": 2, "max_retries": 2, "backoff_base": 0.01, "concurrency": 32}


def test_2000_units_with_faults_end_answered_or_with_a_recorded_error(store):
    make_dataset(store, "qa", 2000)
    faults = Faults(rate_limit=0.10, server_error=0.05, timeout=0.02, retry_after=0.01, seed=3)
    with ScriptedServer(models=["m"], latency=0.002, faults=faults, hang_s=60) as srv:
        model = R.Model(id="m@1", base_url=srv.base_url)
        run = generate(session(store, **FAST), model, "qa")
        sent = len(srv.chat_requests)
    units = Ledger(store).units(run.id)
    assert run.total == len(units) == 2000
    assert run.succeeded + run.failed == 2000
    assert Counter(u["status"] for u in units) == {"done": run.succeeded, "failed": run.failed}
    assert store.count("responses", run_id=run.id) == run.succeeded
    # bounded retries: at most 3 attempts a unit, and some units ran out of them
    assert 2000 < sent <= 3 * 2000
    assert run.failed > 0 and sum(run.errors.values()) == run.failed
    assert set(run.errors) <= {"rate_limit", "server", "timeout"}
    failed = [u for u in units if u["status"] == "failed"]
    assert all(u["error"] and "gave up after 3 attempts" in u["error"] for u in failed)
    assert run.status == "done" and run.prompt_tokens == 2 * run.succeeded

    # the same run again, on a healthy server: only the failed units are called, once each
    with ScriptedServer(models=["m"]) as srv:
        model = R.Model(id="m@1", base_url=srv.base_url)
        again = generate(session(store, **FAST), model, "qa")
        assert len(srv.chat_requests) == run.failed
        assert sorted(r.last_user for r in srv.chat_requests) == sorted(
            f"question {store.get('items', u['unit_key'].split(':')[0]).external_id}" for u in failed
        )
    assert again.id == run.id and (again.succeeded, again.failed, again.errors) == (2000, 0, {})
    assert store.count("responses") == 2000


def test_unknown_model_aborts_the_run_within_the_first_calls(store):
    make_dataset(store, "qa", 500)
    with ScriptedServer(models=["served"], latency=0.01) as srv:
        model = R.Model(id="typo@1", base_url=srv.base_url)
        with pytest.raises(ProviderFatal, match="model 'typo' is not served"):
            generate(session(store, concurrency=8, backoff_base=0.01), model, "qa")
        # aborted within the first calls: the executor runs 2 x concurrency = 16 units at once, of 500
        assert len(srv.chat_requests) <= 16
    (run,) = Ledger(store).runs()
    assert run.status == "failed" and run.failed == 0 and Ledger(store).units(run.id) == []


class JudgeTask:
    """A judge x response task, the way LLM judges plug in: Judgment records with logprob scores."""

    kind = "judge"

    def __init__(self, client, responses, rater, broken=frozenset()):
        self.client, self.responses, self.rater, self.broken = client, responses, rater, broken
        self.calls = Counter()

    def config(self):
        return {"judge": self.rater.id, "responses": sorted(r.id for r in self.responses)}

    def units(self):
        return [Unit(f"{self.rater.id}:{r.id}", r) for r in self.responses]

    def caches(self):
        return [self.client.cache] if self.client.cache else []

    async def aclose(self):
        await self.client.aclose()

    async def run(self, unit):
        resp = unit.payload
        self.calls[unit.key] += 1
        if unit.key in self.broken:
            raise ValueError(f"cannot parse a score for {resp.id}")
        c = await self.client.complete([{"role": "user", "content": f"Rate 1-5: {resp.text}"}], logprobs=True, top_logprobs=2)
        top = c.logprobs[0]["top_logprobs"]
        j = R.Judgment(
            id=R.digest("judgment", self.rater.id, resp.id), response_id=resp.id, rater_id=self.rater.id,
            rubric="default@1", dimension="overall", value=float(top[0]["token"]), detail={"top": top},
        )
        return Outcome(j.id, [j], c.prompt_tokens or 0, c.completion_tokens or 0, cached=c.cached)


def test_a_judge_style_task_records_failures_and_retries_only_them(store):
    from assay.testing import Reply

    make_dataset(store, "qa", 30)
    with ScriptedServer(models=["gen", "judge"]) as srv:
        gen_run = generate(session(store, concurrency=8), R.Model(id="gen@1", base_url=srv.base_url), "qa")
        assert gen_run.succeeded == 30
        responses = store.list("responses")
        rater = R.Rater(id=R.Rater.make_id("llm", "judge", "t1"), kind="llm", name="judge", model="judge@1")
        judge_model = R.Model(id="judge@1", base_url=srv.base_url)
        store.add([rater, judge_model])
        srv.handler = lambda body: Reply(text="4", top_logprobs=[{"4": -0.3, "5": -1.4}])
        broken = {f"{rater.id}:{responses[i].id}" for i in (2, 7)}
        task = JudgeTask(make_provider(judge_model), responses, rater, broken)
        run = LocalExecutor(store, concurrency=4, batch_size=7).run(task)
        assert (run.kind, run.succeeded, run.failed, run.errors) == ("judge", 28, 2, {"ValueError": 2})
        failed = Ledger(store).units(run.id, status="failed")
        assert {u["unit_key"] for u in failed} == broken
        assert all("cannot parse a score" in u["error"] for u in failed)
        assert store.count("judgments") == 28
        assert store.list("judgments")[0].detail["top"][1]["token"] == "5"

        fixed = JudgeTask(make_provider(judge_model), responses, rater)
        again = LocalExecutor(store, concurrency=4).run(fixed)
        assert set(fixed.calls) == broken  # only the failed units ran again
        assert (again.id, again.succeeded, again.failed, again.errors) == (run.id, 30, 0, {})
        assert {u["attempts"] for u in Ledger(store).units(run.id) if u["unit_key"] in broken} == {2}


def test_progress_reports_every_unit_with_cost(store):
    make_dataset(store, "qa", 40)
    seen = []
    with ScriptedServer() as srv:
        model = R.Model(id="m@1", base_url=srv.base_url, price_input_per_mtok=1.0, price_output_per_mtok=1.0)
        run = generate(session(store, concurrency=4, on_progress=lambda p: seen.append((p.completed, p.cost_usd))),
                       model, "qa")
    assert [c for c, _ in seen] == list(range(1, 41))
    assert seen[-1][1] == pytest.approx(run.cost_usd) and run.cost_usd == pytest.approx(40 * (2 + 3) / 1e6)  # "question i" -> "echo: question i"


def test_two_processes_on_the_same_run_do_not_corrupt_it(store, store_url):
    """Two executors of one run at once (threads, separate engines): each unit ends with one result."""
    import threading

    from assay.store import Store

    make_dataset(store, "qa", 300)
    errors = []
    with ScriptedServer(models=["m"], latency=0.003) as srv:
        model = R.Model(id="m@1", base_url=srv.base_url)

        stores = [Store(store_url) for _ in range(2)]  # opened here: Alembic's migrate is not thread-safe
        start = threading.Barrier(2)

        def go(s):
            try:
                start.wait(10)
                generate(session(s, concurrency=8), model, "qa", samples=2)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
            finally:
                s.close()

        threads = [threading.Thread(target=go, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []
    assert 600 <= len(srv.chat_requests) <= 1200  # both ran (in step, they repeat each other)
    (run,) = Ledger(store).runs()
    units = Ledger(store).units(run.id)
    assert len(units) == 600 and {u["status"] for u in units} == {"done"}
    assert store.count("responses") == 600 and Ledger(store).cache_count() == 600
    assert Ledger(store).finish_run(run.id, "done").succeeded == 600


def test_generate_task_on_the_executor_directly_stamps_its_run(store):
    from assay.providers import RequestCache
    from assay.runs import GenerateTask

    items = make_dataset(store, "qa", 5)
    with ScriptedServer() as srv:
        model = R.Model(id="m@1", base_url=srv.base_url)
        store.add([model])
        client = make_provider(model, cache=RequestCache(store))
        task = GenerateTask(client, items, dataset="qa", samples=2, params={"temperature": 0.2})
        run = LocalExecutor(store, concurrency=3).run(task)
        assert {r.body["temperature"] for r in srv.chat_requests} == {0.2}
    assert (run.total, run.succeeded) == (10, 10)
    assert {r.run_id for r in store.iter("responses")} == {run.id}
    assert Ledger(store).cache_count(model="m@1") == 10
