"""The Ray executor against a real local Ray instance and the scripted model server, on both stores.

Same records and ledger as the local executor (generation, a rubric panel, a pairwise judge),
faults ending answered or with a stored error, resume after the driver is cancelled or a
worker is killed, and `assay generate --executor ray` end to end. One Ray instance serves
every test (they share one xdist worker through their group).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections import Counter

import pytest

from assay import records as R
from assay.errors import AssayError
from assay.providers import ProviderFatal, RequestCache, make_provider
from assay.runs import GenerateTask, LocalExecutor, Outcome, Unit, generate, make_executor
from assay.store import Store
from assay.store.ledger import Ledger
from assay.testing import Faults, ScriptedServer

from tests.conftest import IN_CI, PG_URL

from .conftest import make_dataset
from assay.judges.jobs import RubricPrompt
from assay.redteam.iterative import IterativeAttack
from tests.sessions import session

try:
    import ray
except ImportError:
    if IN_CI:
        raise  # under CI=true the ray extra is installed (scripts/test): its absence is a failure
    pytest.skip("the Ray executor's tests need the ray extra: pip install -e '.[ray]'", allow_module_level=True)

pytestmark = pytest.mark.xdist_group("ray")

RAY = {"num_workers": 2, "chunk_size": 16}


@pytest.fixture(scope="session")
def ray_address():
    """One local Ray instance (2 CPUs) for every test here; its address for other processes."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def other_store(store_url, tmp_path):
    """A second fresh store on the same backend as ``store`` (the local executor's twin)."""
    if store_url.startswith("sqlite"):
        s = Store(f"sqlite:///{tmp_path / 'other.db'}")
        yield s
        s.close()
        return
    import psycopg

    schema = f"assay_test_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in PG_URL else "?"
    s = Store(f"{PG_URL}{sep}schema={schema}")
    yield s
    s.close()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


VOLATILE = {"latency_ms", "created_at", "started_at", "finished_at", "updated_at"}
CLAIMER = {"claimed_by"}  # the process that claimed a unit: each run is a process of its own


def snapshot(store, run_id: str) -> dict:
    """A run as the store keeps it, less timestamps and latencies: its Run, ledger rows, records and cache."""
    run = store.get("runs", run_id).model_dump(mode="json", exclude=VOLATILE)
    ledger = [{k: v for k, v in u.items() if k not in VOLATILE | CLAIMER} for u in Ledger(store).units(run_id)]
    records = {
        kind: sorted((r.model_dump(mode="json", exclude=VOLATILE) for r in store.iter(kind, run_id=run_id)),
                     key=lambda d: d["id"])
        for kind in ("responses", "judgments", "comparisons")
    }
    return {"run": run, "ledger": ledger, "records": records, "cached_requests": Ledger(store).cache_count()}


def prompts_sent(srv, since: int = 0) -> Counter:
    return Counter(r.last_user for r in srv.chat_requests[since:])


# ---- the same results as the local executor ----------------------------------------------------


def test_generation_gives_the_local_executors_records_ledger_and_progress(store, other_store, ray_address):
    for s in (store, other_store):
        make_dataset(s, "qa", 60)
    seen: dict[str, list[int]] = {"local": [], "ray": []}
    with ScriptedServer(models=["m"], latency=0.005) as srv:
        model = R.Model(id="m@1", base_url=srv.base_url, price_input_per_mtok=1.0, price_output_per_mtok=2.0)
        local = generate(session(store, concurrency=8, on_progress=lambda p: seen["local"].append(p.completed)),
                         model, "qa", samples=2, params={"temperature": 0.5})
        remote = generate(session(other_store, concurrency=8, on_progress=lambda p: seen["ray"].append(p.completed), executor="ray", executor_options=RAY),
                          model, "qa", samples=2, params={"temperature": 0.5})
        assert prompts_sent(srv) == {f"question {i}": 4 for i in range(60)}  # 2 samples, once per executor
    assert remote.id == local.id and (remote.succeeded, remote.failed) == (120, 0)
    assert remote.cost_usd == pytest.approx(local.cost_usd) and remote.cost_usd > 0
    a, b = snapshot(store, local.id), snapshot(other_store, remote.id)
    assert b == a and len(b["records"]["responses"]) == 120 and b["cached_requests"] == 120
    assert seen["ray"] == seen["local"] == list(range(1, 121))  # one callback per unit, counting up


def rubric_handler(body: dict) -> str:
    from tests.judges.scripted_judges import fenced, nonce_of

    n, answer = nonce_of(body), fenced(body, "ANSWER")
    score = {"j1": 4, "j2": 2}[body["model"]] + ("good" in answer)
    return f"fine\nVERDICT {n} factuality: {min(score, 5)}\nclear\nVERDICT {n} coherence: 5"


def pairwise_handler(body: dict) -> str:
    from tests.judges.scripted_judges import fenced, nonce_of

    a = fenced(body, "ANSWER A")
    return f"because\nVERDICT {nonce_of(body)}: {'A>B' if 'good' in a else 'B>A'}"


def test_judge_runs_give_the_local_executors_records_and_ledger(store, other_store, ray_address):
    from tests.judges.scripted_judges import store_responses

    from assay.judges.jobs import judge_pairwise, judge_rubric

    texts = {"a@1": [f"good answer {i}" for i in range(12)], "b@1": [f"poor answer {i}" for i in range(12)]}
    for s in (store, other_store):
        store_responses(s, texts)
    runs = {}
    with ScriptedServer(handler=rubric_handler) as srv:
        for name, s, where in (("local", store, {}), ("ray", other_store, {"executor": "ray", "executor_options": RAY})):
            runs[name], panel = judge_rubric(session(s, base_url=srv.base_url, concurrency=4, **where),
                                             ["j1@1", "j2@1"], "default",
                                             prompt=RubricPrompt(dimensions=["factuality", "coherence"]))
        assert len(srv.chat_requests) == 2 * 2 * 24  # two judges, 24 responses, once per executor
    assert snapshot(other_store, runs["ray"].id) == snapshot(store, runs["local"].id)
    assert runs["ray"].succeeded == 24 and other_store.count("judgments", rater_id=panel.id) == 48

    with ScriptedServer(handler=pairwise_handler) as srv:
        for name, s, where in (("local", store, {}), ("ray", other_store, {"executor": "ray", "executor_options": RAY})):
            runs[name], rater = judge_pairwise(session(s, base_url=srv.base_url, **where), ["a@1", "b@1"], ["j1@1"])
        assert len(srv.chat_requests) == 2 * 12 * 2  # both orders, 12 pairs, once per executor
    ray_snap = snapshot(other_store, runs["ray"].id)
    assert ray_snap == snapshot(store, runs["local"].id)
    assert {c["winner"] for c in ray_snap["records"]["comparisons"]} == {r.id for r in other_store.iter("responses", model="a@1")}


def test_a_program_verifier_gives_the_local_executors_judgments(store, other_store, ray_address):
    from assay.judges.jobs import verify
    from assay.judges.registry import create
    from tests.judges.scripted_judges import store_responses

    texts = {"a@1": [" ".join(["word"] * (i % 6)) for i in range(30)]}
    runs = {}
    for name, s, where in (("local", store, {}), ("ray", other_store, {"executor": "ray", "executor_options": RAY})):
        store_responses(s, texts)
        runs[name], rater = verify(session(s, **where), create("length", unit="words", max=3))
    assert snapshot(other_store, runs["ray"].id) == snapshot(store, runs["local"].id)
    assert sorted(Counter(j.value for j in other_store.iter("judgments", rater_id=rater.id)).items()) == [(0.0, 10), (1.0, 20)]


def test_a_second_run_over_the_same_calls_is_answered_from_the_drivers_cache(tmp_path, ray_address):
    """The driver looks up each chunk's requests in the store and ships the answers: no call is made again."""
    from tests.judges.scripted_judges import store_responses

    from assay.judges.jobs import judge_pairwise

    store = Store(f"sqlite:///{tmp_path / 'assay.db'}")
    store_responses(store, {"a@1": ["good", "good too"], "b@1": ["poor", "poor too"]})
    with ScriptedServer(handler=pairwise_handler) as srv:
        first, _ = judge_pairwise(session(store, base_url=srv.base_url, executor="ray", executor_options=RAY),
                                  ["a@1", "b@1"], ["j1@1", "j2@1"])
        assert len(srv.chat_requests) == 8
        second, _ = judge_pairwise(session(store, base_url=srv.base_url, executor="ray", executor_options=RAY),
                                   ["a@1", "b@1"], ["j1@1", "j2@1"], aggregate="mean")
        assert len(srv.chat_requests) == 8  # a new run (another aggregate), every member call from the cache
    assert second.id != first.id and (second.succeeded, second.cached) == (2, 2)
    store.close()


def test_workers_share_a_models_limits_by_division():
    from assay.runs import Clients, WorkerCache

    spec = make_provider(R.Model(id="m@1", base_url="http://127.0.0.1:9/v1"), concurrency=16, rpm=600, tpm=9000).spec()
    client = Clients(WorkerCache(), share=3)(spec)
    assert (client.concurrency, client.rpm, client.tpm) == (5, 200, 3000)
    assert Clients(None, share=32)(spec).concurrency == 1


def test_two_workers_together_keep_to_the_models_rpm(store, ray_address):
    """RPM 1,200 (20/s, a burst of 1 s): 60 calls take at least 2 s; undivided, two workers would take 0.5 s."""
    make_dataset(store, "qa", 60)
    with ScriptedServer(models=["m"]) as srv:
        run = generate(session(store, rpm=1200, concurrency=8, executor="ray", executor_options={"num_workers": 2, "chunk_size": 10}),
                       R.Model(id="m@1", base_url=srv.base_url), "qa")
        at = sorted(r.at for r in srv.chat_requests)
    assert run.succeeded == 60 and at[-1] - at[0] >= 1.8


# ---- faults and fatal errors ---------------------------------------------------------------


def test_faults_end_with_every_unit_answered_or_a_stored_error(store, ray_address):
    make_dataset(store, "qa", 600)
    fast = {"timeout": 0.25, "max_retries": 2, "backoff_base": 0.01, "concurrency": 32}
    faults = Faults(rate_limit=0.2, server_error=0.1, timeout=0.05, retry_after=0.01, seed=5)
    with ScriptedServer(models=["m"], latency=0.002, faults=faults, hang_s=2) as srv:
        model = R.Model(id="m@1", base_url=srv.base_url)
        run = generate(session(store, executor="ray", executor_options={"num_workers": 2, "chunk_size": 50}, **fast),
                       model, "qa")
        sent = len(srv.chat_requests)
    units = Ledger(store).units(run.id)
    assert len(units) == run.total == run.succeeded + run.failed == 600
    assert Counter(u["status"] for u in units) == {"done": run.succeeded, "failed": run.failed}
    assert store.count("responses", run_id=run.id) == run.succeeded
    assert 600 < sent <= 3 * 600 and run.failed > 0 and sum(run.errors.values()) == run.failed
    assert set(run.errors) <= {"rate_limit", "server", "timeout"}
    failed = {u["unit_key"] for u in units if u["status"] == "failed"}
    assert all("gave up after 3 attempts" in u["error"] for u in units if u["status"] == "failed")

    with ScriptedServer(models=["m"]) as srv:  # the same run again, healthy: only the failed units are called
        again = generate(session(store, executor="ray", executor_options=RAY, **fast),
                         R.Model(id="m@1", base_url=srv.base_url), "qa")
        want = {store.get("items", k.split(":")[0]).prompt for k in failed}
        assert prompts_sent(srv) == {p: 1 for p in want}
    assert (again.id, again.succeeded, again.failed, again.errors) == (run.id, 600, 0, {})


def test_an_unknown_model_stops_the_run_from_a_worker(store, ray_address):
    make_dataset(store, "qa", 200)
    with ScriptedServer(models=["served"], latency=0.01) as srv:
        with pytest.raises(ProviderFatal, match="model 'typo' is not served"):
            generate(session(store, concurrency=4, backoff_base=0.01, executor="ray", executor_options=RAY),
                     R.Model(id="typo@1", base_url=srv.base_url), "qa")
        assert len(srv.chat_requests) < 200
    (run,) = Ledger(store).runs()
    assert run.status == "failed"


class _Unnamed:
    """A task whose unit work is a closure over the store: it cannot be rebuilt on a worker."""

    kind = "other"

    def config(self):
        return {"n": 1}

    def units(self):
        return [Unit("a")]

    async def run(self, unit):
        return Outcome()


def test_a_task_without_registered_work_is_refused_before_its_run_opens(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'assay.db'}")
    with pytest.raises(AssayError, match="cannot run on Ray: it names no registered unit work"):
        make_executor("ray", store).run(_Unnamed())
    assert Ledger(store).runs() == [] and LocalExecutor(store).run(_Unnamed()).succeeded == 1
    with pytest.raises(AssayError, match="unknown executor 'dask'"):
        make_executor("dask", store)
    store.close()


# ---- interrupted runs resume --------------------------------------------------------------------


def generate_task(store, model, items, **options) -> GenerateTask:
    store.add([model])
    client = make_provider(model, cache=RequestCache(store), concurrency=8, **options)
    return GenerateTask(client, items, dataset="qa")


async def test_a_cancelled_driver_resumes_without_calling_a_finished_unit_again(store, ray_address):
    from assay.runs import RayCluster, RayExecutor

    items = make_dataset(store, "qa", 300)
    prompt_of = {f"{it.id}:0": it.prompt for it in items}
    with ScriptedServer(models=["m"], latency=0.02) as srv:
        model = R.Model(id="m@1", base_url=srv.base_url)
        running: list[asyncio.Task] = []

        def stop_at_100(p):
            if p.completed >= 100 and not running[0].done():
                running[0].cancel()

        ex = RayExecutor(store, RayCluster(**RAY), on_progress=stop_at_100, concurrency=16)
        running.append(asyncio.ensure_future(ex.arun(generate_task(store, model, items))))
        with pytest.raises(asyncio.CancelledError):
            await running[0]
        (run,) = Ledger(store).runs()
        done_first = Ledger(store).done_keys(run.id)
        assert run.status == "interrupted" and 100 <= len(done_first) < 300 and ex.workers == []
        first_phase = len(srv.chat_requests)

        again = await RayExecutor(store, RayCluster(**RAY)).arun(generate_task(store, model, items))
        second = prompts_sent(srv, first_phase)
    assert not set(second) & {prompt_of[k] for k in done_first}  # no finished unit was called again
    # and none was lost: every question was asked in one phase or the other. A unit whose answer
    # reached the cache (shipped with an earlier batch) but not the ledger before the cancel is
    # answered from the cache on resume, so it need not be asked in the second phase.
    assert set(prompts_sent(srv)) == set(prompt_of.values())
    assert (again.id, again.status, again.succeeded, again.failed) == (run.id, "done", 300, 0)
    units = Ledger(store).units(run.id)
    assert len(units) == 300 and all(u["attempts"] == 1 for u in units)
    assert store.count("responses") == 300


async def test_a_killed_worker_loses_no_unit_and_the_rerun_calls_nothing(store, ray_address):
    from assay.runs import RayCluster, RayExecutor

    items = make_dataset(store, "qa", 240)
    with ScriptedServer(models=["m"], latency=0.02) as srv:
        model = R.Model(id="m@1", base_url=srv.base_url)
        killed = []

        def kill_one_at_60(p):
            if p.completed >= 60 and not killed:
                killed.append(ex.workers[0])
                ray.kill(ex.workers[0])

        ex = RayExecutor(store, RayCluster(**RAY), on_progress=kill_one_at_60, concurrency=16)
        run = await ex.arun(generate_task(store, model, items))
        assert killed and ex.spawned == 3  # two workers, and one in place of the killed
        sent = prompts_sent(srv)
        assert set(sent) == {it.prompt for it in items}
        assert sum(sent.values()) - 240 <= 2 * 16  # called again: at most the killed worker's two chunks in flight
        calls = len(srv.chat_requests)
        rerun = await RayExecutor(store, RayCluster(**RAY)).arun(generate_task(store, model, items))
        assert len(srv.chat_requests) == calls  # everything was done: nothing is called again
    assert (run.status, run.succeeded, run.failed) == ("done", 240, 0)
    assert (rerun.id, rerun.succeeded) == (run.id, 240)
    units = Ledger(store).units(run.id)
    assert len(units) == 240 and all(u["status"] == "done" and u["attempts"] == 1 for u in units)
    assert store.count("responses") == 240


# ---- the command line ---------------------------------------------------------------------------


def test_cli_generate_with_executor_ray_joins_a_cluster_and_resumes(tmp_path, ray_address):
    url = f"sqlite:///{tmp_path / 'assay.db'}"
    store = Store(url)
    make_dataset(store, "qa", 50)
    with ScriptedServer(models=["m"], latency=0.005) as srv:
        cmd = [sys.executable, "-m", "assay", "--db", url, "generate", "--model", "m@1", "--dataset", "qa",
               "--base-url", srv.base_url, "--samples", "2", "--executor", "ray", "--ray-address", ray_address,
               "--workers", "2", "--json"]
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert (out["status"], out["succeeded"], out["failed"]) == ("done", 100, 0)
        assert len(srv.chat_requests) == 100

        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        assert again.returncode == 0 and json.loads(again.stdout)["succeeded"] == 100
        assert len(srv.chat_requests) == 100  # finished: no call, and no Ray worker started
    assert store.count("responses") == 100 and {r.run_id for r in store.iter("responses")} == {out["id"]}
    store.close()


def test_cli_says_in_one_line_when_no_ray_cluster_answers(tmp_path):
    url = f"sqlite:///{tmp_path / 'assay.db'}"
    store = Store(url)
    make_dataset(store, "qa", 5)
    with ScriptedServer(models=["m"]) as srv:
        cmd = [sys.executable, "-m", "assay", "--db", url, "generate", "--model", "m@1", "--dataset", "qa",
               "--base-url", srv.base_url, "--executor", "ray", "--ray-address", "127.0.0.1:1"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert srv.chat_requests == []
    assert done.returncode == 1
    err = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert err == ["error: cannot join the Ray cluster at 127.0.0.1:1: nothing answers there (Connection refused); "
                   "is the head node running and the address host:port of its GCS?"]
    (run,) = Ledger(store).runs()
    assert run.status == "failed" and Ledger(store).units(run.id) == []
    store.close()


def test_ray_is_imported_only_by_the_ray_executor():
    code = "import sys, assay.cli, assay.runs, assay.judges.jobs; print('ray' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


def test_cli_refuses_an_unknown_executor_and_ray_options_without_ray(tmp_path, capsys):
    from assay.cli import main

    url = f"sqlite:///{tmp_path / 'assay.db'}"
    base = ["--db", url, "generate", "--model", "m@1", "--dataset", "qa", "--base-url", "http://127.0.0.1:9/v1"]
    assert main([*base, "--executor", "dask"]) == 2
    assert "field '--executor': must be one of local, ray" in capsys.readouterr().err
    assert main([*base, "--workers", "3"]) == 2
    assert "go with --executor ray" in capsys.readouterr().err


def test_streamed_generation_stores_ttft_from_ray_workers(store, ray_address):
    make_dataset(store, "qa", 20)
    with ScriptedServer(models=["m"], first_token_s=0.03) as srv:
        model = R.Model(id="m@1", base_url=srv.base_url)
        run = generate(session(store, concurrency=4, stream=True, executor="ray", executor_options=RAY), model,
                       "qa")
        assert all(r.body.get("stream") is True for r in srv.chat_requests)
    assert (run.succeeded, run.failed) == (20, 0)
    ttfts = [r.ttft_ms for r in store.iter("responses", run_id=run.id)]
    assert len(ttfts) == 20 and all(t is not None and t >= 25 for t in ttfts), ttfts


# ---- the iterative red-team attack -----------------------------------------------------------------


def test_the_iterative_attack_gives_the_local_executors_attempts(store, other_store, ray_address):
    """Units that write items, responses and attempts (a multi-turn conversation each) run on Ray workers too."""
    import base64 as b64

    from assay.redteam.iterative import run_iterative

    def handler(body: dict) -> str:
        m, msgs = body["model"], body["messages"]
        if m == "attacker":
            goal = msgs[0]["content"].split("GOAL: ")[1].splitlines()[0]
            rounds = sum(1 for x in msgs if x["role"] == "assistant")
            return json.dumps({"prompt": f"round {rounds}: {goal}"})
        said = [x for x in msgs if x["role"] == "user"]
        return "Here it is, in full." if len(said) >= 2 else f"I'm sorry, no ({b64.b64encode(said[-1]['content'].encode()).decode()[:8]})."

    found = {}
    with ScriptedServer(handler=handler, latency=0.01) as srv:
        for s, where in ((other_store, {}), (store, {"executor": "ray", "executor_options": RAY})):
            s.add([R.Dataset(name="beh"), *[R.Item(id=f"b{i}", dataset="beh", prompt=f"goal number {i}")
                                            for i in range(6)]])
            res = run_iterative(session(s, **where), R.Model(id="target@1", base_url=srv.base_url), "beh",
                                attacker=R.Model(id="attacker@1", base_url=srv.base_url), scorer="no-refusal",
                                attack=IterativeAttack(streams=2, turns=3, conversation=True))
            assert res.run.status == "done" and res.succeeded_streams == 12 and res.attempts == 24
            found[where.get("executor", "local")] = sorted(
                (a.id, a.item_id, a.response_id, a.turn, a.success, a.parent_id) for a in s.list("attempts"))
            # the scripted attacker ignores its seed, so a behaviour's two streams send the same conversation
            assert s.count("items", dataset="beh~multiturn") == 12 and s.count("responses") == 12
        sent = len(srv.chat_requests)
        again = run_iterative(session(store, executor="ray", executor_options=RAY),
                              R.Model(id="target@1", base_url=srv.base_url), "beh",
                              attacker=R.Model(id="attacker@1", base_url=srv.base_url), scorer="no-refusal",
                              attack=IterativeAttack(streams=2, turns=3, conversation=True))
        assert again.run.id == res.run.id and len(srv.chat_requests) == sent  # finished streams are not rerun
    assert found["ray"] == found["local"]
