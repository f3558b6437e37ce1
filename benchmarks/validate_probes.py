"""Validation of `assay why` (issue #18): planted causes behind a scripted server, over seeded runs.

A scripted model knows a vault's code only when the reference is in the prompt, and then says
it with probability FIX; without it, it says it with probability LUCK (an unstable minority).
So the planted rates are: resample LUCK, reference FIX, system LUCK. Each run plants a fresh
entry of N failing prompts, runs `probe_entry` with resample (K answers), reference and
system, and records whether each probe's 95% Wilson interval covers its planted rate and
whether the measured cause is the reference. Runs go through the real run engine and HTTP, one
call at a time so a seed gives the same answers.

    python benchmarks/validate_probes.py [--runs 50] [--n 20] [--k 5]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.* helpers

from assay import records as R  # noqa: E402
from assay.library import add_entry, probe_entry  # noqa: E402
from assay.library import probes as P  # noqa: E402
from assay.library.why import ProbeSettings  # noqa: E402
from assay.session import Endpoint, Execution, Session  # noqa: E402
from assay.store import Store  # noqa: E402
from assay.testing import ScriptedServer  # noqa: E402

FIX, LUCK = 0.8, 0.1


class Planted:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def __call__(self, body: dict) -> str:
        text = "\n".join(m["content"] for m in body["messages"])
        code = re.search(r"CODE-\d{3}", text)
        vault = int(re.search(r"vault (\d+)", body["messages"][-1]["content"]).group(1))
        p = FIX if code else LUCK
        return f"CODE-{vault:03d}" if self.rng.random() < p else "I do not know."


def one(seed: int, n: int, k: int, folder: str) -> dict:
    with Store(f"sqlite:///{folder}/s{seed}.db") as store:
        store.add([R.Dataset(name="codes"), R.Model(id="m@1")])
        items = [R.Item(id=R.Item.make_id("codes", f"s{seed}c{i}", None, None), dataset="codes",
                        external_id=f"s{seed}c{i}", prompt=f"What is the secret code of vault {i}? Code only.",
                        reference=f"CODE-{i:03d}") for i in range(n)]
        store.add(items)
        resp = [R.Response(id=R.Response.make_id(i.id, "m@1", 0), item_id=i.id, model="m@1", text="I do not know.")
                for i in items]
        store.add(resp)
        add_entry(store, "codes", entry="codes", examples=[r.id for r in resp],
                  detector={"program": {"name": "exact_match", "args": {}}})
        with ScriptedServer(handler=Planted(seed)) as srv:
            session = Session(store, Endpoint(), Execution(concurrency=1))
            out = probe_entry(session, "codes", R.Model(id="m@1", base_url=srv.base_url),
                              [P.create("resample"), P.create("reference"), P.create("system")],
                              settings=ProbeSettings(samples=k))
    planted = {"resample": LUCK, "reference": FIX, "system": LUCK}
    cover = {r.probe: r.interval[0] <= planted[r.probe] <= r.interval[1] for r in out.results}
    return {"cover": cover, "found": out.measured.startswith("fixed by giving the reference")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--k", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = [one(seed, a.n, a.k, folder) for seed in range(a.runs)]
    print(f"{a.runs} runs, {a.n} failing prompts, {a.k} resamples; planted: reference {FIX}, others {LUCK}")
    for probe in ("resample", "reference", "system"):
        share = sum(r["cover"][probe] for r in rows) / len(rows)
        print(f"  {probe:9s} 95% interval covers the planted rate in {share:.0%} of runs")
    print(f"  the reference is the measured cause in {sum(r['found'] for r in rows)} of {len(rows)} runs")


if __name__ == "__main__":
    main()
