"""Agreement at scale: every coefficient and a 1,000-round bootstrap interval for each, from a summary.

Data (seeded): raters x units ratings on a 5-point scale, 5 raters, 10% of cells missing;
"ratings" below counts cells (raters x units), about 90% of them present. For each size:

1. checks that every coefficient from the summary equals the raw function (to 1e-12);
2. times, median of ``--runs``: coding + summarising (float labels, and string labels
   with the scale given, as `assay agreement` has them for an ordinal and a categorical
   scale), each coefficient with its analytic interval, the draw of ``--rounds``
   resamples, and each coefficient's bootstrap interval from them.

Then, at ``--old-size`` ratings, the current path (the stats functions on the raw array,
``bootstrap_interval`` for each coefficient, ``krippendorff_alpha_interval`` for alpha)
alternating with the summary path. The current path runs ``--old-rounds`` rounds per
coefficient (alpha: every round); its 1,000-round time is that scaled linearly (its cost
is per round), and the figures at the large sizes are extrapolations (linear in units)
that the script labels as such. The raw arrays here are floats without given
categories, the current path's fastest case: `assay agreement` passes the scale's
categories, which codes every resample through a Python loop.

    python benchmarks/bench_agreement_scale.py [--sizes 1000000 10000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import resource
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np

from assay.stats import agreement as A

SCALE = [1.0, 2.0, 3.0, 4.0, 5.0]
WORDS = ["poor", "weak", "fair", "good", "great"]
RATERS = 5


def make_data(n_ratings: int, seed: int = 0) -> np.ndarray:
    """RATERS x units ratings 1..5 around a latent label per unit, 10% missing."""
    units = n_ratings // RATERS
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=units)
    noise = np.clip(truth + rng.integers(-1, 2, size=(RATERS, units)), 1, 5)
    data = np.where(rng.random((RATERS, units)) < 0.7, truth, noise).astype(float)
    data[rng.random(data.shape) < 0.1] = np.nan
    return data


def as_words(data: np.ndarray) -> np.ndarray:
    return np.array(WORDS + [None], dtype=object)[np.nan_to_num(data, nan=6).astype(int) - 1]


# name -> (figure from a summary, figure from raw data, bootstrap options)
def coefficients(data: np.ndarray) -> dict[str, tuple[Callable, Callable, dict]]:
    pair = (data[0], data[1])
    out: dict[str, tuple[Callable, Callable, dict]] = {
        "percent agreement": (lambda s: s.percent_agreement(), lambda: A.percent_agreement(data),
                              {"coefficient": "percent_agreement"}),
        "alpha ordinal": (lambda s: s.krippendorff_alpha(level="ordinal"),
                          lambda: A.krippendorff_alpha(data, level="ordinal"),
                          {"coefficient": "krippendorff_alpha", "level": "ordinal"}),
        "alpha interval": (lambda s: s.krippendorff_alpha(level="interval"),
                           lambda: A.krippendorff_alpha(data, level="interval"),
                           {"coefficient": "krippendorff_alpha", "level": "interval"}),
        "Fleiss kappa": (lambda s: s.fleiss_kappa_interval(),
                         lambda: A.fleiss_kappa_interval(A.to_table(data)[0]), {"coefficient": "fleiss_kappa"}),
        "Gwet AC1": (lambda s: s.gwet_ac1_interval(), lambda: A.gwet_ac1_interval(data),
                     {"coefficient": "gwet_ac1"}),
        "Gwet AC2 quadratic": (lambda s: s.gwet_ac2_interval(weights="quadratic"),
                               lambda: A.gwet_ac2_interval(data, weights="quadratic"),
                               {"coefficient": "gwet_ac2", "weights": "quadratic"}),
        "Cohen kappa quadratic (raters 0, 1)": (
            lambda s: s.cohen_kappa_interval(weights="quadratic", raters=(0, 1)),
            lambda: A.cohen_kappa_interval(*pair, weights="quadratic"),
            {"coefficient": "cohen_kappa", "weights": "quadratic", "raters": (0, 1)}),
    }
    for form in A.ICC_FORMS:
        out[form] = (lambda s, form=form: s.icc_interval(form=form, nan_policy="omit"),
                     lambda form=form: A.icc_interval(data.T, form=form, nan_policy="omit"),
                     {"coefficient": "icc", "form": form})
    return out


def raw_bootstrap(data: np.ndarray, name: str, rounds: int, seed: int):
    """The current path: each coefficient's interval from the raw array, resampling units."""
    boot = functools.partial(A.bootstrap_interval, rounds=rounds, random_state=seed)
    if name == "percent agreement":
        return boot(A.percent_agreement, data)
    if name.startswith("alpha"):
        return A.krippendorff_alpha_interval(data, level=name.split()[1], rounds=rounds, random_state=seed)
    if name == "Fleiss kappa":
        return boot(A.fleiss_kappa, A.to_table(data)[0], unit_axis=0)
    if name == "Gwet AC1":
        return boot(A.gwet_ac1, data)
    if name == "Gwet AC2 quadratic":
        return boot(functools.partial(A.gwet_ac2, weights="quadratic"), data)
    if name.startswith("Cohen"):
        return boot(functools.partial(A.cohen_kappa, weights="quadratic"), (data[0], data[1]))
    return boot(functools.partial(A.icc, form=name, nan_policy="omit"), data.T, unit_axis=0)


def timed(fn: Callable):
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def value_of(x) -> float:
    return x.estimate if isinstance(x, A.Estimate) else float(x)


def check(data: np.ndarray, s: A.AgreementSummary) -> None:
    worst = 0.0
    for name, (ours, raw, _) in coefficients(data).items():
        a, b = ours(s), raw()
        diff = abs(value_of(a) - value_of(b))
        if isinstance(a, A.Estimate):
            diff = max(diff, abs(a.low - b.low), abs(a.high - b.high))
        worst = max(worst, diff)
        if diff > 1e-12:
            raise SystemExit(f"{name}: summary {a} differs from raw {b}: not timing a wrong answer")
    print(f"  check: every coefficient and analytic interval equals the raw function (max |diff| {worst:.1e})")


def summary_path(data: np.ndarray, words: np.ndarray, rounds: int, seed: int) -> dict[str, float]:
    """One run of the summary path; seconds per step."""
    t: dict[str, float] = {}
    t["summarise (float labels)"], s = timed(lambda: A.summarise(data))
    t["summarise (string labels, scale given)"], _ = timed(lambda: A.summarise(words, categories=WORDS))
    coefs = coefficients(data)
    for name, (ours, _, _) in coefs.items():
        t[f"point + analytic: {name}"], _ = timed(lambda ours=ours: ours(s))
    t[f"draw {rounds} resamples"], boot = timed(lambda: s.bootstrap(rounds=rounds, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (_, _, opts) in coefs.items():
            t[f"bootstrap interval: {name}"], _ = timed(lambda opts=opts: boot.interval(**opts))
    t["total: summarise (float) + draw + every bootstrap interval"] = (
        t["summarise (float labels)"] + t[f"draw {rounds} resamples"]
        + sum(v for k, v in t.items() if k.startswith("bootstrap interval")))
    return t


def report(runs: list[dict[str, float]]) -> dict[str, float]:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    for k, v in med.items():
        print(f"  {k:<62} {v * 1e3:10.1f} ms")
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--old-size", type=int, default=100_000)
    parser.add_argument("--old-rounds", type=int, default=50)
    args = parser.parse_args()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, "
          f"numpy {np.__version__}, load average {os.getloadavg()[0]:.1f}")

    totals = {}
    for size in args.sizes:
        data = make_data(size)
        words = as_words(data)
        print(f"\n{size:,} ratings: {data.shape[1]:,} units x {RATERS} raters, "
              f"{int(np.isfinite(data).sum()):,} present")
        s = A.summarise(data)
        print(f"  summary: {len(s.counts)} count patterns, {len(s.labels)} per-rater rows")
        check(data, s)
        runs = [summary_path(data, words, args.rounds, seed) for seed in range(args.runs)]
        print(f"  median of {args.runs} runs:")
        totals[size] = report(runs)["total: summarise (float) + draw + every bootstrap interval"]

    # the current path against the summary path at a size the current path finishes
    data = make_data(args.old_size)
    words = as_words(data)
    names = list(coefficients(data))
    print(f"\ncurrent path at {args.old_size:,} ratings, {args.old_rounds} rounds per coefficient "
          f"(scaled to {args.rounds}), alternating with the summary path ({args.rounds} rounds):")
    old_runs, new_runs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(args.runs):
            # alpha's current interval already reweights patterns: it runs every round
            old = {name: timed(lambda name=name: raw_bootstrap(
                data, name, args.rounds if name.startswith("alpha") else args.old_rounds, seed))[0]
                for name in names}
            old_runs.append(old)
            new_runs.append(summary_path(data, words, args.rounds, seed))
    old_med = {n: statistics.median(r[n] for r in old_runs)
               * (1 if n.startswith("alpha") else args.rounds / args.old_rounds) for n in names}
    new_total = statistics.median(r["total: summarise (float) + draw + every bootstrap interval"]
                                  for r in new_runs)
    for n in names:
        how = "measured" if n.startswith("alpha") else "scaled"
        print(f"  {n:<40} current, {args.rounds} rounds ({how}): {old_med[n]:8.2f} s")
    old_total = sum(old_med.values())
    print(f"  every coefficient, {args.rounds} rounds: current {old_total:.1f} s (scaled from "
          f"{args.old_rounds} rounds), summary path {new_total * 1e3:.1f} ms, "
          f"ratio {old_total / new_total:,.0f}x")
    for size in args.sizes:
        factor = size / args.old_size
        print(f"  at {size:,} ratings: current path extrapolated linearly in units "
              f"{old_total * factor / 60:.0f} min (not measured); summary path measured "
              f"{totals[size]:.2f} s")
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
