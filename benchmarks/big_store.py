"""Build a large store for the scale benchmarks: millions of judgments and comparisons, seeded.

    python benchmarks/big_store.py --db sqlite:///big.db --judgments 1000000 [--comparisons 0]
        [--raters 5] [--models 2] [--dimensions 2] [--seed 0]
    python benchmarks/big_store.py --db 'postgresql://postgres@127.0.0.1:5432/test?schema=big10m' \\
        --judgments 10000000 --comparisons 10000000

The judgments follow the shape of a rating programme: items x models responses, every
response rated by every human rater on each dimension of the default rubric, on its 1-5
scale. A response's true quality is drawn per item and model (model m@2 a little better
than m@1), and each rater adds a bias of their own and noise, so agreement is neither
perfect nor absent and an A/B test has a real, small effect to find. With
``--comparisons``, pairwise human verdicts among ``--rank-models`` models on the same
items, from a Bradley-Terry model with known strengths (the first model strongest).

Rows go through the store's own bulk path (``Store.add_rows``: the driver's executemany),
a few hundred thousand per transaction, so memory stays flat whatever the size. The
figures this builds are in benchmarks/README.md ("Scale").
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

import numpy as np

CHUNK = 200_000
DIMENSIONS = ["factuality", "coherence", "safety", "instruction-following", "creativity"]


def build(url: str, *, judgments: int, comparisons: int = 0, raters: int = 5, models: int = 2, dimensions: int = 2,
          rank_models: int = 20, seed: int = 0) -> dict[str, int]:
    from assay import records as R
    from assay.rubrics import add_rubric, default_rubric
    from assay.store import Store

    rng = np.random.default_rng(seed)
    dims = DIMENSIONS[:dimensions]
    per_item = models * raters * len(dims)
    n_items = max(1, judgments // per_item)
    now = datetime.now(timezone.utc)
    model_ids = [f"m@{k + 1}" for k in range(models)]
    rater_ids = [R.Rater.make_id("human", f"r{k}") for k in range(raters)]
    item_ids = [f"big-{i:09d}" for i in range(n_items)]
    counts = {"items": n_items}
    t0 = time.perf_counter()
    with Store(url) as store:
        store.add([R.Dataset(name="big"), *(R.Model(id=m) for m in model_ids),
                   *(R.Rater(id=r, kind="human", name=r.split(":", 1)[1]) for r in rater_ids)])
        add_rubric(store, default_rubric())
        for start in range(0, n_items, CHUNK):
            ids = item_ids[start : start + CHUNK]
            store.add_rows("items", [{"id": i, "dataset": "big", "external_id": i, "prompt": f"question {i}",
                                      "tags": [], "metadata": {}} for i in ids])
        # responses and their judgments, a chunk of items at a time
        bias = rng.normal(0.0, 0.35, size=raters)
        n_resp = n_judg = 0
        step = max(1, CHUNK // (models * raters * len(dims)))
        for start in range(0, n_items, step):
            ids = item_ids[start : start + step]
            resp_rows, judg_rows = [], []
            base = rng.normal(3.2, 0.8, size=len(ids))
            for mi, m in enumerate(model_ids):
                quality = base + 0.08 * mi + rng.normal(0.0, 0.5, size=len(ids))
                rids = [f"r-{i}-{mi}" for i in ids]
                resp_rows += [{"id": rid, "item_id": i, "model": m, "sample_index": 0, "text": "answer",
                               "metadata": {}, "created_at": now} for rid, i in zip(rids, ids)]
                for di, d in enumerate(dims):
                    shift = rng.normal(0.0, 0.3, size=len(ids)) * (di > 0)
                    for ri, r in enumerate(rater_ids):
                        v = np.clip(np.rint(quality + shift + bias[ri] + rng.normal(0.0, 0.6, size=len(ids))), 1, 5)
                        judg_rows += [{"id": f"j-{rid}-{di}-{ri}", "response_id": rid, "rater_id": r,
                                       "rubric": "default@1", "dimension": d, "value": float(x), "justification": "",
                                       "flags": [], "detail": {}, "created_at": now}
                                      for rid, x in zip(rids, v.tolist())]
            store.add_rows("responses", resp_rows)
            store.add_rows("judgments", judg_rows)
            n_resp += len(resp_rows)
            n_judg += len(judg_rows)
            print(f"\r{n_judg:,} judgments ({time.perf_counter() - t0:.0f} s)", end="", flush=True)
        counts.update(responses=n_resp, judgments=n_judg)
        if comparisons:
            counts.update(_comparisons(store, rng, item_ids, rater_ids, comparisons, rank_models, now))
    print()
    return counts


def _comparisons(store, rng: np.random.Generator, item_ids: list[str], rater_ids: list[str], n: int, k: int,
                 now: datetime) -> dict[str, int]:
    """``n`` pairwise verdicts among ``k`` models on the items, from Bradley-Terry with strengths falling by model."""
    from assay import records as R

    names = [f"rank-{j:02d}@1" for j in range(k)]
    store.add([R.Model(id=m) for m in names])
    items = item_ids[: max(1, min(len(item_ids), n // 50))]
    for start in range(0, len(items), CHUNK // k):
        store.add_rows("responses", [{"id": f"c-{i}-{j}", "item_id": i, "model": m, "sample_index": 0, "text": "answer",
                                      "metadata": {}, "created_at": now}
                                     for i in items[start : start + CHUNK // k] for j, m in enumerate(names)])
    strength = np.linspace(1.0, -1.0, k)
    done = 0
    while done < n:
        m = min(CHUNK, n - done)
        a = rng.integers(0, k, size=m)
        b = (a + rng.integers(1, k, size=m)) % k
        it = rng.integers(0, len(items), size=m)
        who = rng.integers(0, len(rater_ids), size=m)
        p = 1.0 / (1.0 + np.exp(-(strength[a] - strength[b])))
        u = rng.random(size=m)
        tie = np.abs(u - p) < 0.05
        rows = []
        for x, (ai, bi, ii, ri, ui, pi, ti) in enumerate(zip(a.tolist(), b.tolist(), it.tolist(), who.tolist(),
                                                             u.tolist(), p.tolist(), tie.tolist())):
            i = items[ii]
            ra, rb = f"c-{i}-{ai}", f"c-{i}-{bi}"
            rows.append({"id": f"cmp-{done + x:010d}", "item_id": i, "rater_id": rater_ids[ri],
                         "response_ids": [ra, rb], "shown_order": [ra, rb], "outcome": "tie" if ti else "win",
                         "winner": None if ti else (ra if ui < pi else rb), "justification": "", "flags": [],
                         "detail": {}, "created_at": now})
        store.add_rows("comparisons", rows)
        done += m
        print(f"\r{done:,} comparisons", end="", flush=True)
    return {"comparisons": n, "rank_models": k}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True)
    p.add_argument("--judgments", type=int, default=1_000_000)
    p.add_argument("--comparisons", type=int, default=0)
    p.add_argument("--raters", type=int, default=5)
    p.add_argument("--models", type=int, default=2)
    p.add_argument("--dimensions", type=int, default=2)
    p.add_argument("--rank-models", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    t0 = time.perf_counter()
    counts = build(a.db, judgments=a.judgments, comparisons=a.comparisons, raters=a.raters, models=a.models,
                   dimensions=a.dimensions, rank_models=a.rank_models, seed=a.seed)
    print(f"built {counts} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
