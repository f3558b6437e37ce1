"""Time the slice search on a million rows against the plain way (one boolean mask per slice).

12 categorical features (4 to 8 values, some missing) and one set-valued feature (6 tags),
a failure outcome; every slice of one or two predicates with at least 20 rows. The fast
path (``find_slices``: bincounts of two features' combined codes) is first checked to give
the reference's counts, sums and p-values, then both are timed alternately, CPU time,
median of ``--repeats`` runs.

    python benchmarks/bench_slices.py --rows 1000000 --repeats 5
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np

from assay.analysis.slices import Feature, SliceSearch, find_slices
from assay.stats.slicetests import two_proportions


def data(rows: int, seed: int = 0) -> tuple[list[Feature], np.ndarray]:
    rng = np.random.default_rng(seed)
    feats = []
    for i in range(12):
        k = 4 + i % 5
        codes = rng.integers(-1 if i % 3 == 0 else 0, k, rows)  # every third feature has missing rows
        feats.append(Feature(f"f{i}", tuple(f"v{j}" for j in range(k)), codes=codes.astype(np.int64)))
    member = rng.random((rows, 6)) < 0.2
    feats.append(Feature("tags", tuple(f"t{j}" for j in range(6)),
                         rows=tuple(np.flatnonzero(member[:, j]) for j in range(6))))
    y = (rng.random(rows) < 0.2 + 0.1 * (feats[0].codes == 1)).astype(float)
    return feats, y


def reference(feats: list[Feature], y: np.ndarray, min_size: int) -> dict[str, tuple[int, float, float]]:
    """Every slice by its own boolean mask: (n, failures, two-proportion p)."""
    n_rows, total = len(y), y.sum()
    masks = {f"{f.name}={f.labels[v]}": (f, f.mask(v, n_rows)) for f in feats for v in range(len(f.labels))}
    out = {}
    items = list(masks.items())
    for name, (_f, m) in items:
        n = int(m.sum())
        if min_size <= n < n_rows:
            k = float(y[m].sum())
            out[name] = (n, k, float(two_proportions([k], [n], [total - k], [n_rows - n]).pvalue[0]))
    for (a, (fa, ma)), (b, (fb, mb)) in itertools.combinations(items, 2):
        if fa is fb and not fa.is_multi:
            continue
        m = ma & mb
        n = int(m.sum())
        if n >= min_size and n < ma.sum() and n < mb.sum():
            k = float(y[m].sum())
            out[f"{a} AND {b}"] = (n, k, float(two_proportions([k], [n], [total - k], [n_rows - n]).pvalue[0]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    feats, y = data(args.rows)
    fast = find_slices(feats, y, search=SliceSearch(min_size=20))
    ref = reference(feats, y, 20)
    got = {r.slice: (r.n, r.value_in * r.n, r.p) for r in fast.slices.itertuples()}
    mirror = {k for k in ref if k not in got}
    assert all(k.count("=") == 1 for k in mirror), "only two-valued features' mirror slices may be left out"
    for k, (n, fails, p) in got.items():
        rn, rk, rp = ref[k]
        assert n == rn and abs(fails - rk) < 1e-6 and abs(p - rp) <= 1e-9 + 1e-9 * rp, k
    print(f"{args.rows} rows, {len(feats)} features, {fast.tested} slices tested: same counts, failures and "
          f"p-values as one mask per slice")
    times: dict[str, list[float]] = {"find_slices": [], "one mask per slice": []}
    for _ in range(args.repeats):
        for name, fn in (("find_slices", lambda: find_slices(feats, y, search=SliceSearch(min_size=20))),
                         ("one mask per slice", lambda: reference(feats, y, 20))):
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k}: median {v:.2f} s CPU over {args.repeats} runs ({', '.join(f'{t:.2f}' for t in times[k])})")
    print(f"ratio: {med['one mask per slice'] / med['find_slices']:.1f}x")


if __name__ == "__main__":
    main()
