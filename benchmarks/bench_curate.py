"""Near-duplicate removal (`near-dup`, MinHash LSH) on synthetic texts with planted near-duplicates.

    python benchmarks/bench_curate.py [--n 100000] [--planted 5000] [--runs 5] [--check 3000]

Texts are drawn from a Zipf-like vocabulary (60 to 120 words each); each planted copy is
a random earlier text with 1 to 3 words replaced, inserted or deleted. A copy counts as a
true near-duplicate when the exact Jaccard of its word 5-gram shingles with its original
reaches the threshold (0.8). Before timing, the step's removals on ``--check`` other texts
(a fifth of them planted copies) are compared with brute-force Jaccard over every pair. Then the step runs ``--runs``
times on all texts: the median time, recall (true planted pairs that lost one member) and
precision (removals whose kept item is of the same planted group). Last, one full `curate()` on a SQLite store
(read, steps, write the dataset and the log in one transaction) is timed once.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from assay import records as R  # noqa: E402
from assay.curate import create, curate  # noqa: E402
from assay.curate.text import jaccard, ngrams, words  # noqa: E402

THRESHOLD, NGRAM = 0.8, 5


def corpus(n: int, planted: int, seed: int = 0) -> tuple[list[str], dict[int, int]]:
    """``n`` texts, of which ``planted`` are edited copies: the texts and copy index -> original index."""
    rng = random.Random(seed)
    vocab = [f"w{k}" for k in range(50_000)]
    weights = [1 / (k + 10) for k in range(len(vocab))]  # Zipf-like: common words recur across texts
    originals = n - planted
    texts = []
    for _ in range(originals):
        texts.append(rng.choices(vocab, weights, k=rng.randint(60, 120)))
    copies: dict[int, int] = {}
    for _ in range(planted):
        src = rng.randrange(originals)
        t = list(texts[src])
        for _ in range(rng.randint(1, 3)):
            op, at = rng.random(), rng.randrange(len(t))
            if op < 0.5:
                t[at] = rng.choice(vocab)
            elif op < 0.75:
                t.insert(at, rng.choice(vocab))
            else:
                del t[at]
        copies[len(texts)] = src
        texts.append(t)
    order = list(range(n))
    rng.shuffle(order)  # copies may come before their originals
    where = {old: new for new, old in enumerate(order)}
    return [" ".join(texts[i]) for i in order], {where[c]: where[s] for c, s in copies.items()}


def items_of(texts: list[str]) -> list[R.Item]:
    return [R.Item(id=f"{k:08d}", dataset="bench", external_id=str(k), prompt=t) for k, t in enumerate(texts)]


def brute_force(texts: list[str]) -> dict[int, int]:
    sh = [ngrams(words(t), NGRAM) for t in texts]
    kept: list[int] = []
    removed = {}
    for i in range(len(texts)):
        best = max(((jaccard(sh[i], sh[k]), -k) for k in kept), default=None)
        if best is not None and best[0] >= THRESHOLD:
            removed[i] = -best[1]
        else:
            kept.append(i)
    return removed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--planted", type=int, default=5_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--check", type=int, default=3_000)
    ap.add_argument("--num-perm", type=int, default=128)
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, {platform.python_version()}, load {os.getloadavg()[0]:.1f}")

    texts, copies = corpus(a.n, a.planted)
    truth = {c for c, s in copies.items()
             if jaccard(ngrams(words(texts[c]), NGRAM), ngrams(words(texts[s]), NGRAM)) >= THRESHOLD}
    print(f"{a.n:,} texts, {a.planted:,} planted copies, {len(truth):,} of them at Jaccard >= {THRESHOLD}")

    step = create("near-dup", threshold=THRESHOLD, ngram=NGRAM, num_perm=a.num_perm)
    # the fast path against the reference, on a corpus small enough for every pair (a fifth planted)
    sample = corpus(a.check, a.check // 5, seed=1)[0]
    t0 = time.perf_counter()
    expected = brute_force(sample)
    t_brute = time.perf_counter() - t0
    got = {int(o.item_id): int(o.related_id) for o in step.apply(items_of(sample))}
    same = sum(got.get(k) == v for k, v in expected.items())
    print(f"check on {a.check:,} texts: brute force removes {len(expected)} ({t_brute:.1f} s), near-dup "
          f"{len(got)}; {same} identical (item and kept item), {len(set(got) - set(expected))} not in brute force")

    items = items_of(texts)
    times, result = [], None
    for _ in range(a.runs):
        t0 = time.perf_counter()
        result = step.apply(items)
        times.append(time.perf_counter() - t0)
    pairs = {int(o.item_id): int(o.related_id) for o in result}  # type: ignore[union-attr]
    group = {k: copies.get(k, k) for k in range(a.n)}  # a copy belongs to its original's group
    right = sum(group[i] == group[j] for i, j in pairs.items())
    found = sum(c in pairs or copies[c] in pairs for c in truth)
    print(f"near-dup on {a.n:,}: median {statistics.median(times):.1f} s of {a.runs} "
          f"({', '.join(f'{t:.1f}' for t in times)}); {a.n / statistics.median(times):,.0f} texts/s")
    print(f"removed {len(pairs):,}: recall {found / len(truth):.4f} ({found:,} of {len(truth):,} true pairs lost "
          f"a member), precision {right / len(pairs):.4f} ({right:,} removals name an item of the same planted group)")

    with tempfile.TemporaryDirectory() as d:
        from assay.store import Store

        store = Store(f"sqlite:///{d}/bench.db")
        store.add([R.Dataset(name="bench"), *items])
        t0 = time.perf_counter()
        s = curate(store, "bench", "bench-clean", ["exact-dup", "near-dup"])
        print(f"curate() on SQLite (read, exact-dup + near-dup, write items and log): "
              f"{time.perf_counter() - t0:.1f} s, kept {s.kept:,}")
        store.close()


if __name__ == "__main__":
    main()
