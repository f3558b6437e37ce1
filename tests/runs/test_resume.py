"""Kill `assay generate` with SIGKILL mid-run, start it again: every unit finishes exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from assay.store import Store
from assay.store.ledger import Ledger
from assay.testing import ScriptedServer

from .conftest import make_dataset

N = 400


def test_sigkill_then_restart_finishes_every_unit_once(store_url):
    store = Store(store_url)
    items = make_dataset(store, "qa", N)
    prompt_of = {f"{it.id}:0": it.prompt for it in items}
    with ScriptedServer(models=["m"], latency=0.02) as srv:
        cmd = [
            sys.executable, "-c", "from assay.cli import console_main; console_main()",
            "--db", store_url, "generate", "--model", "m@1", "--dataset", "qa", "--base-url", srv.base_url,
            "--concurrency", "8",
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60

        def committed() -> int:
            runs = Ledger(store).runs()
            return len(Ledger(store).done_keys(runs[0].id)) if runs else 0

        # kill a third of the way in, once at least one batch is committed (a loaded machine may
        # answer a third of the calls before the writer's first commit)
        while ((len(srv.answered()) < N // 3 or committed() == 0) and time.monotonic() < deadline
               and proc.poll() is None):
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()

        (run,) = Ledger(store).runs()
        assert run.status == "running"  # killed: never closed
        done_first = Ledger(store).done_keys(run.id)
        assert 0 < len(done_first) < N
        first_phase = len(srv.requests)

        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert f"{N} answered" in again.stdout

        answered_first = {r.last_user for r in srv.requests[:first_phase] if r.status == 200
                          and r.path.endswith("/chat/completions")}
        second = {r.last_user for r in srv.requests[first_phase:] if r.path.endswith("/chat/completions")}
        assert not second & {prompt_of[k] for k in done_first}  # no finished call was made again
        # none lost: a unit not done before the kill was asked again, or its answer was kept in the cache
        assert set(prompt_of.values()) - second - {prompt_of[k] for k in done_first} <= answered_first

    units = Ledger(store).units(run.id)
    assert len(units) == N and {u["status"] for u in units} == {"done"}
    assert all(u["attempts"] == 1 for u in units if u["unit_key"] in done_first)
    assert store.count("responses") == N
    assert {r.item_id for r in store.iter("responses")} == {it.id for it in items}
    final = store.get("runs", run.id)
    assert (final.status, final.succeeded, final.failed) == ("done", N, 0)
    store.close()
