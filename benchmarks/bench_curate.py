"""Near-duplicate removal: assay's `near-dup` against a plain datasketch MinHashLSH pass, on synthetic texts with
planted near-duplicates.

    python benchmarks/bench_curate.py [--n 1000000] [--planted N] [--runs 3] [--datasketch-runs R] [--check 3000]
                                      [--num-perm 128] [--no-datasketch] [--curate]

Texts are drawn from a Zipf-like vocabulary of 50,000 words (60 to 120 words each); each
planted copy is a random original with 1 to 3 words replaced, inserted or deleted, and
the texts are shuffled (a copy may come before its original). Both methods use word
5-gram shingles (``curate.text.ngrams(words(t), 5)``), 128 permutations, threshold 0.8 and
the same LSH bands (17 x 7: the optimum for ``minhash.LSH_WEIGHTS``, (0.02, 0.98), in
assay's ``lsh_bands`` and in datasketch); each keeps the first text of a group and
removes later ones.

- assay: ``curate.minhash.near_duplicates`` (what the `near-dup` step runs), every LSH
  candidate confirmed by exact Jaccard.
- datasketch, the plain pass: per text a ``MinHash`` (shared permutations,
  ``update_batch`` of the UTF-8 shingles), ``query``; a text with a candidate is removed,
  one without is ``insert``-ed.

Each run is a forked child process (its own peak memory), assay and datasketch
alternating; the median time of ``--runs`` is reported with the ratio.

Quality, two ways:
1. Against brute force on a separate corpus of ``--check`` texts (a fifth of them planted
   copies), where every pair's exact Jaccard is computed: brute force's keep-the-first
   removals are the truth. Recall: share of its removals each method makes; precision:
   share of a method's removals that have a kept earlier text at Jaccard >= 0.8.
2. On the large corpus, where brute force (n^2 pairs) is out of reach: recall over the
   planted pairs whose exact Jaccard reaches the threshold (a pair counts when it lost a
   member), and precision over every removal (the exact Jaccard of the removed text and the
   text it was matched with; for datasketch, any of its candidates). Unplanted pairs of
   this corpus are far below the threshold (check 1 finds none), so the planted pairs are
   all the true ones.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from assay.curate.minhash import LSH_WEIGHTS, lsh_bands, near_duplicates  # noqa: E402
from assay.curate.text import ngrams, words  # noqa: E402

THRESHOLD, NGRAM, VOCAB = 0.8, 5, 50_000


def corpus(n: int, planted: int, seed: int = 0) -> tuple[list[str], dict[int, int]]:
    """``n`` texts, of which ``planted`` are edited copies: the texts and copy index -> original index."""
    rng = np.random.default_rng(seed)
    originals = n - planted
    lengths = rng.integers(60, 121, originals)
    # Zipf-like, common words recur across texts: word k has density ~ 1 / (k + 10), drawn by inverting its CDF
    u = rng.random(int(lengths.sum()))
    ids = np.minimum(10 * ((VOCAB + 10) / 10) ** u - 10, VOCAB - 1).astype(np.int32)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    docs = [ids[starts[k]:starts[k + 1]] for k in range(originals)]
    sources = rng.integers(0, originals, planted)
    for src in sources.tolist():  # 1 to 3 edits: replace (1/2), insert (1/4), delete (1/4)
        t = docs[src].tolist()
        for _ in range(int(rng.integers(1, 4))):
            op, at, w = rng.random(), int(rng.integers(len(t))), int(rng.integers(VOCAB))
            if op < 0.5:
                t[at] = w
            elif op < 0.75:
                t.insert(at, w)
            else:
                del t[at]
        docs.append(np.array(t, dtype=np.int32))
    order = rng.permutation(n)  # copies may come before their originals
    where = np.empty(n, dtype=np.int64)
    where[order] = np.arange(n)
    texts = _render([docs[i] for i in order.tolist()])
    return texts, {int(where[originals + c]): int(where[s]) for c, s in enumerate(sources.tolist())}


def _render(docs: list[np.ndarray]) -> list[str]:
    """Word ids to texts ("w17 w3 ...")."""
    spelled = [f"w{k}" for k in range(VOCAB)]
    return [" ".join(map(spelled.__getitem__, d.tolist())) for d in docs]


def shingles(text: str) -> set[str]:
    return ngrams(words(text), NGRAM)


def jaccard_of(a: set[str], b: set[str]) -> float:
    common = len(a & b)
    return common / (len(a) + len(b) - common) if a or b else 0.0


def run_assay(texts: list[str], num_perm: int) -> dict[int, list[int]]:
    return {i: [j] for i, j, _ in near_duplicates(texts, threshold=THRESHOLD, ngram=NGRAM, num_perm=num_perm, seed=1)}


def run_datasketch(texts: list[str], num_perm: int) -> dict[int, list[int]]:
    from datasketch import MinHash, MinHashLSH

    template = MinHash(num_perm=num_perm, seed=1)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=num_perm, weights=LSH_WEIGHTS)
    assert (lsh.b, lsh.r) == lsh_bands(THRESHOLD, num_perm)  # the same bands as assay's
    removed = {}
    for k, t in enumerate(texts):
        sh = ngrams(words(t), NGRAM)
        if not sh:
            continue
        m = MinHash(num_perm=num_perm, seed=1, permutations=template.permutations, scheme=template.scheme)
        m.update_batch([s.encode("utf-8") for s in sh])
        found = lsh.query(m)
        if found:
            removed[k] = sorted(found)
        else:
            lsh.insert(k, m)
    return removed


METHODS = {"assay": run_assay, "datasketch": run_datasketch}


def _child(conn, name: str, num_perm: int) -> None:  # noqa: ANN001 - a multiprocessing Connection
    t0 = time.perf_counter()
    out = METHODS[name](_TEXTS, num_perm)
    elapsed = time.perf_counter() - t0
    conn.send((elapsed, out, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20))
    conn.close()


_TEXTS: list[str] = []  # the corpus, inherited by the forked children


def timed(name: str, num_perm: int) -> tuple[float, dict[int, list[int]], float]:
    """One run of ``name`` in a forked child: seconds, removals (text -> the kept texts it matched), peak RSS in GiB."""
    ctx = multiprocessing.get_context("fork")
    here, there = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(there, name, num_perm))
    p.start()
    there.close()
    got = here.recv()
    p.join()
    return got


def brute_force(texts: list[str]) -> dict[int, int]:
    sh = [shingles(t) for t in texts]
    kept: list[int] = []
    removed = {}
    for i in range(len(texts)):
        best = max(((jaccard_of(sh[i], sh[k]), -k) for k in kept if sh[i]), default=None)
        if best is not None and best[0] >= THRESHOLD:
            removed[i] = -best[1]
        else:
            kept.append(i)
    return removed


def precision(texts: list[str], removed: dict[int, list[int]]) -> tuple[int, int]:
    """Removals with a matched kept text at exact Jaccard >= the threshold, and all removals."""
    good = sum(any(jaccard_of(shingles(texts[i]), shingles(texts[j])) >= THRESHOLD for j in js)
               for i, js in removed.items())
    return good, len(removed)


def main() -> None:
    global _TEXTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--planted", type=int, default=None, help="planted copies (default: n / 20)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--check", type=int, default=3_000)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--datasketch-runs", type=int, default=None, help="runs of datasketch (default: --runs); "
                    "the first ones alternate with assay's")
    ap.add_argument("--no-datasketch", action="store_true", help="time assay only")
    ap.add_argument("--curate", action="store_true", help="also time one full curate() on a SQLite store")
    a = ap.parse_args()
    planted = a.n // 20 if a.planted is None else a.planted
    methods = ["assay"] if a.no_datasketch else ["assay", "datasketch"]
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")

    # 1. every pair's exact Jaccard on a small corpus
    if a.check:
        _TEXTS, _ = corpus(a.check, a.check // 5, seed=1)
        t0 = time.perf_counter()
        truth = brute_force(_TEXTS)
        print(f"check on {a.check:,} texts: brute force removes {len(truth)} ({time.perf_counter() - t0:.1f} s)")
        for name in methods:
            _, got, _ = timed(name, a.num_perm)
            good, total = precision(_TEXTS, got)
            same = sum(got.get(i, [None])[0] == j for i, j in truth.items()) if name == "assay" else None
            print(f"  {name}: removes {total}, recall {len(truth.keys() & got.keys()) / len(truth):.4f} "
                  f"({len(truth.keys() & got.keys())} of {len(truth)}), precision {good / max(total, 1):.4f} "
                  f"({good} of {total})" + (f", {same} name the same kept text as brute force" if same is not None else ""))

    # 2. the large corpus
    t0 = time.perf_counter()
    _TEXTS, copies = corpus(a.n, planted)
    texts = _TEXTS
    t_corpus = time.perf_counter() - t0
    true_pairs = [(c, s) for c, s in copies.items() if jaccard_of(shingles(texts[c]), shingles(texts[s])) >= THRESHOLD]
    print(f"{a.n:,} texts ({t_corpus:.1f} s to make), {planted:,} planted copies, {len(true_pairs):,} of them at "
          f"Jaccard >= {THRESHOLD}; load {os.getloadavg()[0]:.1f}")
    times: dict[str, list[float]] = {m: [] for m in methods}
    peak: dict[str, float] = {m: 0.0 for m in methods}
    result: dict[str, dict[int, list[int]]] = {}
    ds_runs = a.runs if a.datasketch_runs is None else a.datasketch_runs
    for r in range(max(a.runs, ds_runs)):
        now = [m for m in methods if r < (ds_runs if m == "datasketch" else a.runs)]
        for name in (now if r % 2 == 0 else now[::-1]):
            t, result[name], rss = timed(name, a.num_perm)
            times[name].append(t)
            peak[name] = max(peak[name], rss)
            print(f"  run {r + 1} {name}: {t:.1f} s, peak RSS {rss:.2f} GiB, load {os.getloadavg()[0]:.1f}", flush=True)
    for name in methods:
        got = result[name]
        found = sum(c in got or s in got for c, s in true_pairs)
        good, total = precision(texts, got)
        med = statistics.median(times[name])
        print(f"{name}: median {med:.1f} s of {len(times[name])} ({', '.join(f'{t:.1f}' for t in times[name])}), "
              f"{a.n / med:,.0f} texts/s, peak RSS {peak[name]:.2f} GiB; removed {total:,}: recall "
              f"{found / len(true_pairs):.4f} ({found:,} of {len(true_pairs):,} planted true pairs), "
              f"precision {good / max(total, 1):.4f} ({good:,} of {total:,} at exact Jaccard >= {THRESHOLD})")
    print(f"this process (corpus, checks): peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    if len(methods) == 2:
        print(f"assay is {statistics.median(times['datasketch']) / statistics.median(times['assay']):.2f}x "
              f"datasketch (ratio of medians)")

    if a.curate:
        import tempfile

        from assay import records as R
        from assay.curate import curate
        from assay.store import Store

        with tempfile.TemporaryDirectory() as d:
            store = Store(f"sqlite:///{d}/bench.db")
            store.add([R.Dataset(name="bench"),
                       *(R.Item(id=f"{k:08d}", dataset="bench", external_id=str(k), prompt=t) for k, t in enumerate(texts))])
            t0 = time.perf_counter()
            s = curate(store, "bench", "bench-clean", ["exact-dup", "near-dup"])
            print(f"curate() on SQLite (read, exact-dup + near-dup, write items and log): "
                  f"{time.perf_counter() - t0:.1f} s, kept {s.kept:,}")
            store.close()


if __name__ == "__main__":
    main()
