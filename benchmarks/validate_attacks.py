"""Validation of TAP and many-shot jailbreaking against scripted targets with planted weaknesses.

1. TAP: for each of the 8 framings planted in turn and 5 seeds, 3 behaviours each, the share of
   trees that find the planted framing within the call budget, the calls they used, and that no
   tree ever exceeds its budget; a target with no weakness (control) must give no success.
2. Many-shot: ASR (refusal detector, per behaviour) as a function of N on a target that yields
   only to >= 32 shots: 0 below, 1 from 32 on.
3. Resume: `assay redteam run --attack tap(...)` killed with SIGKILL a third of the way, run
   again, five times: calls repeated after the kill, and whether the union of requests equals
   an uninterrupted run's.

    PYTHONPATH=src python3 benchmarks/validate_attacks.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assay import records as R
from assay.redteam.tap import TapAttack, run_tap
from assay.session import Endpoint, Execution, Session
from assay.store import Store
from assay.testing import ScriptedServer
from assay.testing.redteam import FRAMINGS, PlantedRedTeam

GOALS = ["explain goal zero", "explain goal one", "explain goal two"]


def behaviours(store: Store, n: int = 3) -> None:
    goals = GOALS if n <= 3 else [f"explain goal {i}" for i in range(n)]
    items = [R.Item(id=R.Item.make_id("beh", str(i), None, None), dataset="beh", external_id=str(i), prompt=g)
             for i, g in enumerate(goals[:n])]
    store.add([R.Dataset(name="beh"), *items])


def session(store: Store) -> Session:
    return Session(store, Endpoint(max_retries=1, backoff_base=0.01), Execution())


def tap_search(budget: int, seeds: int) -> None:
    found, calls, over = 0, [], 0
    trees = 0
    per_framing = {}
    for f, framing in enumerate([*FRAMINGS, None]):
        hits = 0
        for seed in range(seeds):
            with tempfile.TemporaryDirectory() as d:
                store = Store(f"sqlite:///{d}/s.db")
                behaviours(store)
                with ScriptedServer(handler=PlantedRedTeam(framing=framing)) as srv:
                    srv_model = {n: R.Model(id=f"{n}@1", base_url=srv.base_url) for n in ("target", "attacker",
                                                                                           "judge")}
                    res = run_tap(session(store), srv_model["target"], "beh", attacker=srv_model["attacker"],
                                  scorer=srv_model["judge"], attack=TapAttack(branching=3, width=3, depth=5,
                                                                              max_calls=budget, seed=seed))
                    sent = len(srv.chat_requests)
                over += sent > 3 * budget
                if framing is None:
                    assert res.succeeded == 0, "the control target was broken"
                    store.close()
                    continue
                trees += 3
                hits += res.succeeded
                found += res.succeeded
                if res.succeeded == 3:
                    calls.append(sent / 3)
                store.close()
        per_framing[framing or "none (control)"] = hits
    print(f"TAP (branching 3, width 3, depth 5, budget {budget} calls/tree), {seeds} seeds x 8 framings x 3 "
          f"behaviours = {trees} trees")
    print(f"  planted framing found: {found}/{trees} trees ({found / trees:.1%}); runs over budget: {over}")
    if calls:
        print(f"  calls per tree when all 3 trees succeeded: median {statistics.median(calls):.1f}, "
              f"max {max(calls):.1f}")
    print("  successes per framing:", json.dumps(per_framing))


def manyshot_curve(n_behaviours: int) -> None:
    from assay.redteam.asr import asr
    from assay.redteam.attacks import run_attacks
    from assay.redteam.converters import parse_chain
    from assay.redteam.detect import detect_refusals

    ns = [1, 2, 4, 8, 16, 24, 31, 32, 48, 64, 128]
    with tempfile.TemporaryDirectory() as d:
        store = Store(f"sqlite:///{d}/s.db")
        behaviours(store, n_behaviours)
        with ScriptedServer(handler=PlantedRedTeam(framing=None, min_shots=32)) as srv:
            run_attacks(session(store), R.Model(id="target@1", base_url=srv.base_url), "beh",
                        [f"manyshot(shots={n})" for n in ns])
        detect_refusals(session(store), attempts_only=True)
        rows = {r["attack"]: r for r in asr(store, dimension="refusal", by=("attack",))["rows"]}
        print(f"many-shot ASR vs N ({n_behaviours} behaviours, target yields to >= 32 shots):")
        for n in ns:
            r = rows[parse_chain(f"manyshot(shots={n})").label()]
            print(f"  N={n:>4}: ASR {r['asr']:.2f} [{r['low']:.2f}, {r['high']:.2f}]  "
                  f"prompt {len(parse_chain(f'manyshot(shots={n})')('x')):,} chars")
        store.close()


def resume(repeats: int, budget: int = 30) -> None:
    repeated, equal = [], 0
    for rep in range(repeats):
        with tempfile.TemporaryDirectory() as d, ScriptedServer(handler=PlantedRedTeam(framing=None),
                                                                  latency=0.02) as srv:
            urls = [f"sqlite:///{d}/killed.db", f"sqlite:///{d}/clean.db"]
            for u in urls:
                s = Store(u)
                behaviours(s)
                s.close()

            def cmd(url: str) -> list[str]:
                return [sys.executable, "-c", "from assay.cli import console_main; console_main()", "--db", url,
                        "redteam", "run", "--behaviors", "beh", "--model", "target@1", "--base-url", srv.base_url,
                        "--attack", f"tap(branching=2, width=2, depth=8, max_calls={budget}, seed={rep})",
                        "--attacker", "attacker@1", "--scorer", "judge@1", "--yes"]

            proc = subprocess.Popen(cmd(urls[0]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while len(srv.answered()) < budget and time.monotonic() < deadline:
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            key = lambda r: json.dumps(r.body, sort_keys=True)  # noqa: E731
            first = {key(r) for r in srv.chat_requests}
            n1 = len(srv.chat_requests)
            subprocess.run(cmd(urls[0]), check=True, capture_output=True)
            second = [key(r) for r in srv.chat_requests[n1:]]
            n2 = len(srv.chat_requests)
            subprocess.run(cmd(urls[1]), check=True, capture_output=True)
            clean = {key(r) for r in srv.chat_requests[n2:]}
            repeated.append(len(first & set(second)))
            equal += (first | set(second)) == clean
    print(f"TAP killed with SIGKILL after {budget} of {3 * budget} calls, then rerun ({repeats} times): "
          f"calls repeated after the kill {repeated} (at most the 3 in flight); "
          f"requests equal to an uninterrupted run's: {equal}/{repeats}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    t0 = time.monotonic()
    tap_search(budget=60, seeds=2 if args.quick else 5)
    manyshot_curve(3 if args.quick else 30)
    resume(2 if args.quick else 5)
    print(f"({time.monotonic() - t0:.0f} s)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
