"""Kill `assay redteam run --attack crescendo(...)` with SIGKILL mid-conversation, start it again: no finished call
is repeated, and the conversations end as an uninterrupted run's do (as test_tap_resume does for TAP)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from assay.store import Store
from assay.testing import ScriptedServer
from assay.testing.redteam import PlantedRedTeam

from .test_attacks import GOALS, behaviors

STREAMS, TURNS = 2, 5
CALLS = len(GOALS) * STREAMS * TURNS * 3  # attacker, target, judge per round; nothing works, so every round is run


def key(r) -> str:
    return json.dumps(r.body, sort_keys=True)


def test_sigkill_mid_conversation_then_rerun_repeats_no_finished_call(store_url, tmp_path):
    store = Store(store_url)
    behaviors(store)
    # the target always refuses: rounds are backtracked, then kept. No off-topic proposals: those name no goal,
    # and the attacker's seed is per stream and turn, so two behaviours would send the target one same request
    handler = PlantedRedTeam(framing=None, off_topic=0)
    with ScriptedServer(handler=handler, latency=0.03) as srv:
        cmd = [sys.executable, "-c", "from assay.cli import console_main; console_main()", "--db", store_url,
               "redteam", "run", "--behaviors", "beh", "--model", "target@1", "--base-url", srv.base_url,
               "--attack", f"crescendo(streams={STREAMS}, turns={TURNS}, backtracks=2, seed=4)",
               "--attacker", "attacker@1", "--scorer", "judge@1", "--yes", "--json"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(srv.answered()) < CALLS // 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
        first = [key(r) for r in srv.chat_requests]
        assert CALLS // 3 <= len(first) < CALLS  # killed mid-way

        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        out = json.loads(again.stdout)["named"][0]
        assert out["attack"] == "crescendo" and out["succeeded"] == 0
        assert out["attempts"] == len(GOALS) * STREAMS * TURNS
        second = [key(r) for r in srv.chat_requests[len(first):]]
        # only calls in flight at the kill (at most one per conversation) may be asked again
        assert len(set(second) & set(first)) <= len(GOALS) * STREAMS
        assert len(first) == len(set(first)) and len(second) == len(set(second))
        assert len(set(first) | set(second)) == CALLS  # the rerun finished what the kill left
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
    assert len(attempts) == len({a.id for a in attempts}) == len(GOALS) * STREAMS * TURNS
    assert {a.attack for a in attempts} == {"crescendo"}
    backtracked = [a for a in attempts if "[backtracked" in (a.note or "")]
    assert len(backtracked) == len(GOALS) * STREAMS * 2  # two taken back per conversation, then refusals stay
    store.close()
