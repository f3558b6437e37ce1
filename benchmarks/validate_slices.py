"""Planted-slice recall and false discovery rate of ``assay slices`` over seeded synthetic runs.

Each run draws ``--rows`` rows of 10 independent uniform features with 4 values each; two
single predicates (f0=v0 +0.20, f1=v1 +0.15) and two pairs (f2=v0 AND f3=v1 +0.30,
f4=v2 AND f5=v0 +0.25) raise the failure probability from 0.10 (``binary``) or the mean of
a normal score with sd 1 (``mean``: a paired difference, effects x 2); f6..f9 are null.

Recall: the share of planted slices reported (adjusted p < alpha, the exact predicate set).
False discovery: a reported slice whose tested null hypothesis is true: its true mean
equals its complement's, computed exactly from the generating model
(``assay.testing.planted.Planted.is_null``). That is the error the Benjamini-Hochberg and
-Yekutieli procedures bound (E[V / max(R, 1)] <= q). A reported slice that overlaps a
planted one (f0=v0 AND f7=v2, or f0=v3, whose rate is lower than the rest because f0=v0 is
not in it) truly differs from its complement, so it is not a false discovery; the table
also gives the share of reports that are exactly a planted slice, to show how much of the
output such overlaps are.

    python benchmarks/validate_slices.py --runs 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from assay.analysis.slices import SliceSearch, find_slices
from assay.testing.planted import PlantedSlice, planted_data


def one_run(seed: int, *, rows: int, binary: bool, fdr: str, alpha: float, null: bool = False) -> dict[str, float]:
    planted = () if null else None if binary else (PlantedSlice(((0, 0),), 0.4), PlantedSlice(((1, 1),), 0.3),
                                   PlantedSlice(((2, 0), (3, 1)), 0.6), PlantedSlice(((4, 2), (5, 0)), 0.5))
    d = planted_data(seed, rows=rows, binary=binary, planted=planted, base=0.1 if binary else 0.0)
    res = find_slices(d.features, d.y, binary=binary, search=SliceSearch(fdr=fdr, alpha=alpha))  # type: ignore[arg-type]
    truth = {tuple(sorted(s.predicates)) for s in d.planted}
    out: dict[str, float] = {"tested": res.tested}
    for name, frame in (("", res.significant()), ("shown_", res.shown())):
        keys = [d.key(p) for p in frame["predicates"]]
        false = sum(d.is_null(k) for k in keys)
        out.update({f"{name}recall": len(truth & set(keys)) / len(truth) if truth else float("nan"),
                    f"{name}fdp": false / max(len(keys), 1), f"{name}reported": len(keys),
                    f"{name}exact": sum(k in truth for k in keys) / max(len(keys), 1),
                    f"{name}any_false": float(false > 0)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args()
    print(f"{args.runs} seeded runs of {args.rows} rows, 10 features x 4 values, 4 planted slices, "
          f"nominal FDR {args.alpha}")
    print("| outcome | FDR | listed | mean recall | runs with recall 1 | FDR (mean FDP) [95% CI] "
          "| runs with a false report | reported per run | exactly planted | slices tested | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, binary, null in (("failure rate", True, False), ("mean (paired diff.)", False, False),
                                ("failure rate, nothing planted", True, True)):
        for fdr in ("bh", "by"):
            t0 = time.process_time()
            runs = [one_run(seed, rows=args.rows, binary=binary, fdr=fdr, alpha=args.alpha, null=null)
                    for seed in range(args.runs)]
            secs = time.process_time() - t0
            for listed, pre in (("all significant", ""), ("shown (pairs beyond parents)", "shown_")):
                get = lambda k: np.array([r[pre + k] for r in runs])  # noqa: E731
                fdp = get("fdp")
                half = 1.96 * fdp.std(ddof=1) / np.sqrt(len(fdp))
                recall = get("recall")
                print(f"| {label} | {fdr.upper()} | {listed} | {recall.mean():.3f} | {np.mean(recall == 1):.3f} | "
                      f"{fdp.mean():.4f} [{max(fdp.mean() - half, 0):.4f}, {fdp.mean() + half:.4f}] | "
                      f"{get('any_false').mean():.3f} | {get('reported').mean():.1f} | {get('exact').mean():.3f} | "
                      f"{np.mean([r['tested'] for r in runs]):.0f} | {secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
