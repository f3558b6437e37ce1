"""kill -9 in the middle of `assay generate` / `assay judge`: the rerun repeats at most the calls in flight.

Each test starts the real command in a subprocess against a ScriptedServer with latency
(it records every request), SIGKILLs it once the server has answered a third of the
units, runs the same command again to the end, and counts the calls beyond one per
unit. A call keeps its slot until its answer is in the run's journal, and the rerun
replays the killed process's journal into the cache, so those are at most the
``--concurrency`` calls in flight at the kill. Before, answers waited up to a quarter of
a second for the writer's next batch, and a kill repeated all of them too.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from assay.store import Store
from assay.store.ledger import Ledger
from assay.testing import ScriptedServer
from tests.judges.scripted_judges import fenced, nonce_of, store_responses

from .conftest import make_dataset

pytestmark = pytest.mark.xdist_group("processes")  # several busy processes each: not beside one another

LAUNCH = "import sys\nfrom assay.cli import main\nsys.exit(main(sys.argv[1:]))"
N = 900
CONCURRENCY = 16
JUDGES = 32  # a judge's unit costs more CPU: more calls in flight keep the answers coming as fast


def assay(*args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCH, *args]


def kill_when(cmd: list[str], srv: ScriptedServer, answered: int) -> None:
    """Start ``cmd``, SIGKILL it once the server has answered ``answered`` calls, and reap it."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(srv.answered()) < answered and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, f"finished before the kill: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("cache", [[], ["--no-cache"]], ids=["cache", "no-cache"])
def test_generate_killed_repeats_only_the_calls_in_flight(store_url, cache):
    """With --no-cache too: the run answers from no other run's calls, but keeps its own."""
    with Store(store_url) as store:
        make_dataset(store, "qa", N)
        with ScriptedServer(models=["m"], latency=0.03) as srv:
            cmd = assay("--db", store_url, "generate", "--model", "m@1", "--dataset", "qa", "--base-url", srv.base_url,
                        "--concurrency", str(CONCURRENCY), *cache)
            kill_when(cmd, srv, N // 3)
            again = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
            assert again.returncode == 0, again.stderr
            asked = Counter(r.last_user for r in srv.chat_requests)
        assert len(asked) == N
        assert sum(asked.values()) - N <= CONCURRENCY  # only the calls in flight at the kill were asked again
        (run,) = Ledger(store).runs()
        final = store.get("runs", run.id)
        assert (final.status, final.succeeded, final.failed) == ("done", N, 0)
        assert store.count("responses") == N
        assert {u["attempts"] for u in Ledger(store).units(run.id)} == {1}


def _verdict(body: dict) -> str:
    return f"Checked.\nVERDICT {nonce_of(body)} factuality: 4"


def test_judge_killed_repeats_only_the_calls_in_flight(store_url):
    with Store(store_url) as store:
        store_responses(store, {"m@1": [f"answer {i}" for i in range(N)]})
        with ScriptedServer(models=["judge"], handler=_verdict, latency=0.05) as srv:
            cmd = assay("--db", store_url, "judge", "--rubric", "default", "--judge", "judge@1", "--base-url",
                        srv.base_url, "--dimensions", "factuality", "--concurrency", str(JUDGES), "--no-logprobs")
            kill_when(cmd, srv, N // 3)
            again = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
            assert again.returncode == 0, again.stderr
            asked = Counter(fenced(r.body, "ANSWER") for r in srv.chat_requests)
        assert len(asked) == N
        assert sum(asked.values()) - N <= JUDGES
        (run,) = Ledger(store).runs()
        final = store.get("runs", run.id)
        assert (final.status, final.succeeded, final.failed) == ("done", N, 0)
        assert store.count("judgments") == N
