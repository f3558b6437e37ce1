"""How long failure discovery and the refusal detector take, at the sizes a team meets.

    python benchmarks/bench_library.py [--sizes 1000,5000] [--runs 3]

Discovery: N synthetic failures, each a judge's justification written from one of 12
failure modes with varied wording and topic, are embedded with the bundled MiniLM model
and clustered (``assay.library.discover``). Prints the median of ``--runs`` for the
embedding, the clustering (with c-TF-IDF terms and model shares) and the total, and the
adjusted Rand index of the clusters against the planted modes (a check that the timed
work is the real work). Refusal detector: every XSTest completion bundled with assay
(2,250 texts) through ``classify_refusal``, median of ``--runs``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

import numpy as np

MODES = [
    "refused a harmless request about {t}, citing safety policy",
    "gave the wrong arithmetic result when computing {t}",
    "ignored the requested word limit and wrote far too much about {t}",
    "invented a citation to a paper about {t} that does not exist",
    "answered in English although the user wrote in French about {t}",
    "returned malformed JSON that fails to parse when asked for {t}",
    "repeated the same paragraph several times while explaining {t}",
    "agreed with the user's false premise about {t} instead of correcting it",
    "leaked the system prompt when asked about {t}",
    "used a condescending, lecturing tone when discussing {t}",
    "stopped mid-sentence and left the answer about {t} unfinished",
    "gave outdated information about {t} as if it were current",
]
TOPICS = ["tax law", "python lists", "the french revolution", "photosynthesis", "bond yields", "knitting",
          "kidney stones", "rust lifetimes", "chess openings", "volcanoes", "sourdough", "satellite orbits"]
LEADS = ["The answer {m}.", "Clearly, the response {m}.", "Rated low: it {m}.", "Main problem: the model {m}.",
         "This {m}, which is a serious flaw.", "Poor: {m}."]


def synthetic_failures(n: int, seed: int = 0):  # noqa: ANN201
    from assay.library.failures import Failure, Failures

    rng = np.random.default_rng(seed)
    truth, out = [], []
    for i in range(n):
        mode = int(rng.integers(len(MODES)))
        text = LEADS[int(rng.integers(len(LEADS)))].format(m=MODES[mode].format(t=TOPICS[int(rng.integers(len(TOPICS)))]))
        model = f"m{int(rng.integers(3))}@1"
        out.append(Failure(f"r{i:06d}", f"i{i:06d}", model, "prompt", "response", [text], ["rubric:x@1/q"]))
        truth.append(mode)
    return Failures(out, Counter(f.model for f in out) | {"m0@1": n, "m1@1": n, "m2@1": n}), truth


def bench_discovery(n: int, runs: int) -> None:
    from sklearn.metrics import adjusted_rand_score

    from assay.library.discover import Clustering, cluster_labels, discover, embed_texts

    failures, truth = synthetic_failures(n)
    embed_texts(["warm up"])  # load the model once, outside the timings
    embed, cluster, total = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        vectors = embed_texts([f.text() for f in failures.failures])
        t1 = time.perf_counter()
        cluster_labels(vectors, distance_threshold=0.6)
        t2 = time.perf_counter()
        found = discover(failures, clustering=Clustering(min_size=3))
        t3 = time.perf_counter()
        embed.append(t1 - t0)
        cluster.append(t2 - t1)
        total.append(t3 - t2)
    def ari(d) -> float:  # noqa: ANN001
        label = {rid: k for k, c in enumerate(d.candidates) for rid in c.members}
        return adjusted_rand_score(truth, [label.get(f.response_id, -1 - i) for i, f in enumerate(failures.failures)])

    # what an LLM naming each failure's kind (--facets-with) would hand over at best: the mode without its topic
    named = {f.response_id: MODES[m].format(t="the subject") for f, m in zip(failures.failures, truth)}
    t0 = time.perf_counter()
    faceted = discover(failures, clustering=Clustering(min_size=3), facets=named)
    t_faceted = time.perf_counter() - t0
    print(f"discovery n={n}: embed {statistics.median(embed):.2f} s, cluster {statistics.median(cluster):.2f} s, "
          f"discover() total {statistics.median(total):.2f} s (median of {runs}); "
          f"{len(found.candidates)} modes found for 12 planted, ARI {ari(found):.3f}; "
          f"with ideal facets {len(faceted.candidates)} modes, ARI {ari(faceted):.3f} ({t_faceted:.2f} s)")


def bench_detector(runs: int) -> None:
    import csv
    from importlib import resources

    from assay.redteam.detect import classify_refusal

    folder = resources.files("assay.data").joinpath("xstest")
    texts = []
    for name in ("gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct"):
        with resources.as_file(folder.joinpath(f"xstest_v2_completions_{name}.csv")) as path, open(path, newline="") as f:
            texts += [row["completion"] or "" for row in csv.DictReader(f)]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for t in texts:
            classify_refusal(t)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"refusal detector: {len(texts)} texts in {med * 1000:.0f} ms (median of {runs}), "
          f"{len(texts) / med:,.0f} texts/s, {med / len(texts) * 1e6:.0f} us per text")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    bench_detector(max(a.runs, 5))
    for n in (int(x) for x in a.sizes.split(",")):
        bench_discovery(n, a.runs)


if __name__ == "__main__":
    main()
