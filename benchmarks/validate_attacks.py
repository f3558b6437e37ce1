"""Validation of TAP and many-shot jailbreaking against scripted targets with planted weaknesses.

1. TAP, and the PAIR-style iterative attack at about the same budget: for each of the 8 framings
   planted in turn and 5 seeds, 3 behaviours each, the share of behaviours whose planted framing
   is found within the call budget, the calls used, and that no run exceeds its budget; a target
   with no weakness (control) must give no success. Blind (a refusal grades 1 whatever the
   framing) and with grade hints (the planted framing's family half-complies, grade 5, and the
   scripted attacker stays in a family that earned a 5), where score-based pruning can help.
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


def search(seeds: int, *, hints: bool, budget: int = 60) -> None:
    """TAP and the PAIR-style iterative attack on the same planted targets and seeds, about the same budget."""
    from assay.redteam.iterative import IterativeAttack, run_iterative

    tally = {"tap": [0, 0, [], 0], "pair": [0, 0, [], 0]}  # found, behaviours, calls/behaviour, over budget
    control = 0
    for framing in [*FRAMINGS, None]:
        for seed in range(seeds):
            for name in ("tap", "pair"):
                if framing is None and name == "pair":
                    continue
                with tempfile.TemporaryDirectory() as d:
                    store = Store(f"sqlite:///{d}/s.db")
                    behaviours(store)
                    with ScriptedServer(handler=PlantedRedTeam(framing=framing, hints=hints)) as srv:
                        m = {n: R.Model(id=f"{n}@1", base_url=srv.base_url) for n in ("target", "attacker", "judge")}
                        if name == "tap":
                            res = run_tap(session(store), m["target"], "beh", attacker=m["attacker"], scorer=m["judge"],
                                          attack=TapAttack(branching=3, width=3, depth=5, max_calls=budget, seed=seed))
                        else:  # 4 streams x 5 turns x (attacker, target, judge) = 60 calls at most
                            res = run_iterative(session(store), m["target"], "beh", attacker=m["attacker"],
                                                scorer=m["judge"], attack=IterativeAttack(streams=4, turns=5, seed=seed))
                        sent = len(srv.chat_requests)
                    won = len({a.behavior_id for a in store.list("attempts", run_id=res.run.id) if a.success})
                    store.close()
                if framing is None:
                    control += won
                    continue
                t = tally[name]
                t[0] += won
                t[1] += 3
                t[2].append(sent / 3)
                t[3] += sent > 3 * budget
    what = "with grade hints (the planted framing's family half-complies)" if hints else "blind (no partial grades)"
    print(f"search {what}, 8 framings x {seeds} seeds x 3 behaviours, <= {budget} calls per behaviour:")
    for name, (found, n, calls, over) in tally.items():
        label = "TAP (b3 w3 d5)" if name == "tap" else "PAIR-style (4 streams x 5 turns)"
        print(f"  {label}: planted framing found for {found}/{n} behaviours ({found / n:.1%}); calls per "
              f"behaviour median {statistics.median(calls):.1f}; runs over budget {over}")
    print(f"  control target with no weakness, TAP: {control} behaviours broken of {3 * seeds}")


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
    search(2 if args.quick else 5, hints=False)
    search(2 if args.quick else 5, hints=True)
    manyshot_curve(3 if args.quick else 30)
    resume(2 if args.quick else 5)
    print(f"({time.monotonic() - t0:.0f} s)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
