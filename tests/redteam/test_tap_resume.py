"""Kill `assay redteam run --attack tap(...)` with SIGKILL mid-tree, start it again: no finished call is repeated,
and the trees end as an uninterrupted run's do."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from assay.store import Store
from assay.testing import ScriptedServer
from assay.testing.redteam import PlantedRedTeam

from .test_attacks import behaviors

BUDGET = 24


def key(r) -> str:
    return json.dumps(r.body, sort_keys=True)


def test_sigkill_mid_tree_then_rerun_repeats_no_finished_call(store_url, tmp_path):
    store = Store(store_url)
    behaviors(store)
    # nothing works: every tree spends its whole budget (a level whose proposals are all off topic,
    # as a quarter of the scripted attacker's are, branches again instead of ending the tree)
    handler = PlantedRedTeam(framing=None)
    with ScriptedServer(handler=handler, latency=0.03) as srv:
        cmd = [sys.executable, "-c", "from assay.cli import console_main; console_main()", "--db", store_url,
               "redteam", "run", "--behaviors", "beh", "--model", "target@1", "--base-url", srv.base_url,
               "--attack", f"tap(branching=2, width=2, depth=6, max_calls={BUDGET}, seed=4)",
               "--attacker", "attacker@1", "--scorer", "judge@1", "--yes", "--json"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(srv.answered()) < BUDGET and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
        first = [key(r) for r in srv.chat_requests]
        assert BUDGET <= len(first)  # killed mid-way (checked below against the whole run)

        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        out = json.loads(again.stdout)["named"][0]
        assert out["attack"] == "tap" and out["succeeded"] == 0
        second = [key(r) for r in srv.chat_requests[len(first):]]
        # only calls in flight at the kill (at most one per tree) may be asked again
        assert len(set(second) & set(first)) <= 3
        assert len(first) == len(set(first)) and len(second) == len(set(second))
        total = len(set(first) | set(second))
        assert len(first) < total == 3 * BUDGET  # the rerun finished what the kill left
        sent = len(srv.chat_requests)
        # and a third run sends nothing
        assert subprocess.run(cmd, capture_output=True, text=True, timeout=120).returncode == 0
        assert len(srv.chat_requests) == sent

        # an uninterrupted run on a fresh store asks exactly the same requests
        clean = f"sqlite:///{tmp_path / 'clean.db'}"
        fresh = Store(clean)
        behaviors(fresh)
        fresh.close()
        before = len(srv.chat_requests)
        assert subprocess.run([*cmd[:4], clean, *cmd[5:]], capture_output=True, text=True,
                              timeout=120).returncode == 0
        assert sorted(key(r) for r in srv.chat_requests[before:]) == sorted(set(first) | set(second))
    attempts = store.list("attempts")
    assert len(attempts) == len({a.id for a in attempts}) and {a.attack for a in attempts} == {"tap"}
    store.close()
