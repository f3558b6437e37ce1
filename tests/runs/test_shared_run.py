"""Several `assay generate` processes on one store split the run; one is SIGKILLed midway.

Every process claims units with a lease in the run's ledger, so each unit is asked once:
at most the killed process's calls in flight are asked again (by the others, which take
its units over). Four processes on PostgreSQL (as on several machines), two on SQLite.
Before leases, each process asked every unit: 4 processes made 4 calls a unit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from assay.store import Store
from assay.store.ledger import Ledger
from assay.testing import ScriptedServer

from .conftest import make_dataset

pytestmark = pytest.mark.xdist_group("processes")

LAUNCH = "import sys\nfrom assay.cli import main\nsys.exit(main(sys.argv[1:]))"
N = 2000
CONCURRENCY = 8  # requests in flight per process


@pytest.fixture(params=[("postgres", 4), ("sqlite", 2)], ids=["postgres-4", "sqlite-2"])
def shared(request, tmp_path):
    kind, processes = request.param
    url = request.getfixturevalue("pg_store_url") if kind == "postgres" else f"sqlite:///{tmp_path / 'assay.db'}"
    return url, processes


def test_processes_on_one_store_split_a_run_and_take_over_a_killed_ones_units(shared):
    url, processes = shared
    with Store(url) as store:
        items = make_dataset(store, "qa", N)
        with ScriptedServer(models=["m"], latency=0.05) as srv:
            cmd = [sys.executable, "-c", LAUNCH, "--db", url, "generate", "--model", "m@1", "--dataset", "qa",
                   "--base-url", srv.base_url, "--concurrency", str(CONCURRENCY), "--json"]
            env = {**os.environ, "ASSAY_LEASE_SECONDS": "10"}  # long enough that a loaded machine keeps its leases
            procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(processes)]
            killed = procs[0]
            deadline = time.monotonic() + 120
            while len(srv.answered()) < N // 3 and killed.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            assert killed.poll() is None, f"finished before the kill: {killed.communicate()}"
            killed.send_signal(signal.SIGKILL)
            killed.wait(30)
            for p in procs[1:]:
                out, err = p.communicate(timeout=180)
                assert p.returncode == 0, err
            asked = Counter(r.last_user for r in srv.chat_requests)
        assert len(asked) == N  # every unit asked
        assert sum(asked.values()) <= N + CONCURRENCY  # once, but for the killed process's calls in flight

        (run,) = Ledger(store).runs()
        final = store.get("runs", run.id)
        assert (final.status, final.succeeded, final.failed) == ("done", N, 0)
        units = Ledger(store).units(run.id)
        assert len(units) == N and {u["status"] for u in units} == {"done"} and {u["attempts"] for u in units} == {1}
        assert {u["lease_until"] for u in units} == {None}
        assert store.count("responses") == N and {r.item_id for r in store.iter("responses")} == {i.id for i in items}
        # the work was shared: every process, the killed one too, finished some of it
        by_pid = Counter(u["claimed_by"].split(":")[1] for u in units)
        assert set(by_pid) == {str(p.pid) for p in procs}
