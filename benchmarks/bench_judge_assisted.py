"""`assay rank --comparisons --judge J` on a store with a judge on every unit and people on a random share.

    python benchmarks/bench_judge_assisted.py --db sqlite:////tmp/ja.db --items 5000 --models 20 [--human 0.2]

Builds the store when it has no comparisons (seeded): ``--items`` items, each with one
answer per model and the judge's verdict on every pair of models (``items * m (m - 1) / 2``
units), one person's verdict on a random ``--human`` share of them. People follow
Bradley-Terry with strengths falling by model; the judge copies the person's verdict with
probability 0.6, else over-rates the middle model by 400 Elo points. Then it times, in the
same run and alternating, `rank --comparisons --rater judge` (today's leaderboard) and
`rank --comparisons --judge judge` (the same plus the judge-assisted ratings), ``--repeats``
times each, as CPU seconds of the process (the SQLite read runs in a child process, counted
too), and prints the medians, their ratio and the judge-assisted figures of the last run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

import numpy as np

CHUNK = 200_000


def build(url: str, *, items: int, models: int, human: float, seed: int) -> dict[str, int]:
    from assay import records as R
    from assay.store import Store

    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    names = [f"m{k:02d}@1" for k in range(models)]
    strength = np.linspace(1.0, -1.0, models)
    judged = strength.copy()
    judged[models // 2] += 400 / (400 / np.log(10))  # the judge's favourite: +400 Elo points
    judge, person = "llm:judge:bench", "human:person"
    counts = {"items": items, "judge": 0, "human": 0}
    with Store(url) as store:
        if store.count("comparisons"):
            return {"existing": store.count("comparisons")}
        store.add([R.Dataset(name="ja"), *(R.Model(id=m) for m in names), R.Rater(id=judge, kind="llm", name="judge"),
                   R.Rater(id=person, kind="human", name="person")])
        a, b = np.triu_indices(models, 1)
        per = max(1, CHUNK // len(a))
        for start in range(0, items, per):
            ids = [f"ja-{i:08d}" for i in range(start, min(items, start + per))]
            store.add_rows("items", [{"id": i, "dataset": "ja", "external_id": i, "prompt": f"q {i}", "tags": [],
                                      "metadata": {}} for i in ids])
            store.add_rows("responses", [{"id": f"{i}-{k}", "item_id": i, "model": m, "sample_index": 0,
                                          "text": "answer", "metadata": {}, "created_at": now}
                                         for i in ids for k, m in enumerate(names)])
            rows = []
            for i in ids:
                p = 1 / (1 + np.exp(-(strength[a] - strength[b])))
                pj = 1 / (1 + np.exp(-(judged[a] - judged[b])))
                u = rng.random(len(a)) < p
                j = np.where(rng.random(len(a)) < 0.6, u, rng.random(len(a)) < pj)
                lab = rng.random(len(a)) < human
                for x in range(len(a)):
                    ra, rb = f"{i}-{a[x]}", f"{i}-{b[x]}"
                    for rater, won in ((judge, j[x]), (person, u[x])) if lab[x] else ((judge, j[x]),):
                        rows.append({"id": f"c-{i}-{x}-{rater[0]}", "item_id": i, "rater_id": rater,
                                     "response_ids": [ra, rb], "shown_order": [ra, rb], "outcome": "win",
                                     "winner": ra if won else rb, "justification": "", "flags": [], "detail": {},
                                     "created_at": now})
                counts["judge"] += len(a)
                counts["human"] += int(lab.sum())
            store.add_rows("comparisons", rows)
            print(f"\r{counts['judge']:,} judge verdicts", end="", flush=True, file=sys.stderr)
    print(file=sys.stderr)
    return counts


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """CPU seconds (the command and its children) and wall seconds of one run, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True)
    p.add_argument("--items", type=int, default=5000)
    p.add_argument("--models", type=int, default=20)
    p.add_argument("--human", type=float, default=0.2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rounds", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    t = time.perf_counter()
    print("store:", build(a.db, items=a.items, models=a.models, human=a.human, seed=a.seed),
          f"({time.perf_counter() - t:.0f} s)")
    base = [sys.executable, "-m", "assay", "--db", a.db, "rank", "--comparisons", "--rounds", str(a.rounds)]
    runs: dict[str, list[tuple[float, float]]] = {"--rater": [], "--judge": []}
    last = ""
    for _ in range(a.repeats):
        for flag, times in runs.items():
            cpu, wall, out = timed(base + [flag, "judge", "--json"])
            times.append((cpu, wall))
            last = out if flag == "--judge" else last
    med = {f: (statistics.median(c for c, _ in r), statistics.median(w for _, w in r)) for f, r in runs.items()}
    for f, (cpu, wall) in med.items():
        print(f"rank --comparisons {f} judge: median CPU {cpu:.2f} s, wall {wall:.2f} s over {a.repeats} runs")
    print(f"ratio (--judge / --rater), CPU: {med['--judge'][0] / med['--rater'][0]:.2f}")
    ja = json.loads(last)["judge_assisted"]
    print(f"n = {ja['n']:,}, N = {ja['N']:,}, lam = {ja['lam']:.3f}; {ja['worth']}")


if __name__ == "__main__":
    main()
