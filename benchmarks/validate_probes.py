"""Validation of `assay why` (issue #18): planted causes behind a scripted server, over seeded runs.

A scripted model knows a vault's code only when the reference is in the prompt, and then says
it with probability FIX; without it, it says it with probability LUCK (an unstable minority).
So the planted rates are: resample LUCK, reference FIX, system LUCK. Each run plants a fresh
entry of N failing prompts, runs `probe_entry` with resample (K answers), reference and
system, and records whether each probe's 95% interval (exact, prompts as the unit:
``stats.proportions.clustered_exact_interval``) covers its planted rate and whether the measured
cause is the reference. Runs go through the real run engine and HTTP, one call at a time so a
seed gives the same answers.

``--prompts-differ``: each prompt has its own rates, drawn at random per run (without the
reference 0.0 with probability 2/3 and 0.3 otherwise; with it 0.6 or 1.0, even odds), so the
planted rates are the means over prompts, 0.1 and 0.8, and one prompt's answers are alike: an
interval that took the resample's 100 answers as independent would be too narrow.

    python benchmarks/validate_probes.py [--runs 50] [--n 20] [--k 5] [--prompts-differ]
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
from assay.stats.proportions import wilson_interval  # noqa: E402
from assay.store import Store  # noqa: E402
from assay.testing import ScriptedServer  # noqa: E402

FIX, LUCK = 0.8, 0.1


class Planted:
    def __init__(self, seed: int, n: int, differ: bool) -> None:
        self.rng = random.Random(seed)
        draw = random.Random(10**6 + seed)
        self.rates = {i: ((0.0 if draw.random() < 2 / 3 else 0.3), (0.6 if draw.random() < 0.5 else 1.0))
                      if differ else (LUCK, FIX) for i in range(n)}

    def __call__(self, body: dict) -> str:
        text = "\n".join(m["content"] for m in body["messages"])
        code = re.search(r"CODE-\d{3}", text)
        vault = int(re.search(r"vault (\d+)", body["messages"][-1]["content"]).group(1))
        p = self.rates[vault][1] if code else self.rates[vault][0]
        return f"CODE-{vault:03d}" if self.rng.random() < p else "I do not know."


def one(seed: int, n: int, k: int, folder: str, differ: bool = False) -> dict:
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
        with ScriptedServer(handler=Planted(seed, n, differ)) as srv:
            session = Session(store, Endpoint(), Execution(concurrency=1))
            out = probe_entry(session, "codes", R.Model(id="m@1", base_url=srv.base_url),
                              [P.create("resample"), P.create("reference"), P.create("system")],
                              settings=ProbeSettings(samples=k))
    planted = {"resample": LUCK, "reference": FIX, "system": LUCK}
    cover = {r.probe: r.interval[0] <= planted[r.probe] <= r.interval[1] for r in out.results}
    naive = {r.probe: wilson_interval(r.passed, r.n) for r in out.results}  # answers taken as independent
    wilson = {p: w.low <= planted[p] <= w.high for p, w in naive.items()}
    return {"cover": cover, "wilson": wilson, "found": out.measured.startswith("fixed by giving the reference")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--prompts-differ", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = [one(seed, a.n, a.k, folder, a.prompts_differ) for seed in range(a.runs)]
    print(f"{a.runs} runs, {a.n} failing prompts, {a.k} resamples; planted: reference {FIX}, others {LUCK}"
          + (" (means over prompts whose rates differ)" if a.prompts_differ else ""))
    for probe in ("resample", "reference", "system"):
        share = sum(r["cover"][probe] for r in rows) / len(rows)
        naive = sum(r["wilson"][probe] for r in rows) / len(rows)
        print(f"  {probe:9s} 95% interval covers the planted rate in {share:.1%} of runs"
              f" (a Wilson interval over answers: {naive:.1%})")
    print(f"  the reference is the measured cause in {sum(r['found'] for r in rows)} of {len(rows)} runs")


if __name__ == "__main__":
    main()
