"""`assay verify --verifier insecure_code` on JavaScript answers: one njsscan run for all (now) beside one per answer.

    ./scripts/install-njsscan && PYTHONPATH=src python3 benchmarks/bench_verify_njsscan.py [--answers 6] [--rounds 5]

Each round verifies the first ``--answers`` labelled JavaScript/TypeScript samples
(``src/assay/data/insecure/code_samples.jsonl``) in a fresh SQLite store twice, alternating:
as ``verify`` does now (``_prepared`` scans the pending answers in one njsscan run) and as it
did before (no pre-scan: each unit runs njsscan on its own blocks). Both must store the same
verdicts, checked first. Prints each round, then the medians and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from importlib import resources
from unittest import mock


def samples(n: int) -> list[dict]:
    text = resources.files("assay.data").joinpath("insecure", "code_samples.jsonl").read_text()
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [s for s in rows if s.get("analyser") == "njsscan"][:n]


def verify_once(rows: list[dict], batched: bool) -> tuple[dict[str, float], float]:
    """Verdicts (response text -> value) and wall seconds of one verify over ``rows``."""
    import assay.judges.jobs as jobs
    from assay import records as R
    from assay.judges import create
    from assay.session import Session
    from assay.store import Store

    import assay.redteam.code  # noqa: F401 - registers insecure_code

    with tempfile.TemporaryDirectory() as d:
        store = Store(os.path.join(d, "b.db"))
        items = [R.Item(id=R.Item.make_id("js", s["id"], None, None), dataset="js", external_id=s["id"],
                        prompt=f"task {s['id']}") for s in rows]
        resp = [R.Response(id=R.digest("r", i.id), item_id=i.id, model="a@1", text=s["text"])
                for i, s in zip(items, rows)]
        store.add([R.Dataset(name="js"), R.Model(id="a@1"), *items, *resp])
        judge = create("insecure_code")
        judge.rater()  # njsscan --version, once, outside the timing
        patch = mock.patch.object(jobs, "_prepared", lambda *a: {}) if not batched else mock.patch.object(
            jobs, "_prepared", jobs._prepared)
        with patch:
            t = time.perf_counter()
            run, rater = jobs.verify(Session(store), judge, models=["a@1"])
            wall = time.perf_counter() - t
        by_text = {r.id: r.text for r in resp}
        got = {by_text[j.response_id]: j.value for j in store.iter(R.Judgment, rater_id=rater.id)}
        store.close()
    assert run.failed == 0 and len(got) == len(rows)
    return got, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answers", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    rows = samples(a.answers)
    times: dict[str, list[float]] = {"batched": [], "per answer": []}
    first = None
    for k in range(a.rounds):
        for name in (("batched", "per answer") if k % 2 == 0 else ("per answer", "batched")):
            got, wall = verify_once(rows, name == "batched")
            first = first if first is not None else got
            assert got == first, "the two paths disagree"
            times[name].append(wall)
            print(f"round {k + 1} {name}: {wall:.2f} s", flush=True)
    b, p = statistics.median(times["batched"]), statistics.median(times["per answer"])
    print(f"{len(rows)} answers: batched median {b:.2f} s, per answer median {p:.2f} s ({p / len(rows):.2f} s each), "
          f"ratio {p / b:.1f}x")


if __name__ == "__main__":
    main()
