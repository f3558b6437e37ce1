"""Krippendorff's alpha on a million ratings: assay against the krippendorff package.

Data: 200,000 units x 5 raters, 5 ordinal levels, 20% of ratings missing (seeded).
Checks that both give the same alpha (to 1e-9), then times them alternating in one
process and prints the median of the runs and the ratio; then times assay's bootstrap
interval with 1,000 resamples over units.

    python benchmarks/bench_agreement.py [--runs 7] [--level ordinal]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from importlib.metadata import version

import numpy as np

from assay.stats.agreement import krippendorff_alpha, krippendorff_alpha_interval


def make_data(units=200_000, raters=5, levels=5, missing=0.2, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, levels + 1, size=units)
    noise = np.clip(truth + rng.integers(-1, 2, size=(raters, units)), 1, levels)
    data = np.where(rng.random((raters, units)) < 0.7, truth, noise).astype(float)
    data[rng.random(data.shape) < missing] = np.nan
    return data


def timed(fn) -> tuple[float, float]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--level", default="ordinal",
                        choices=["nominal", "ordinal", "interval", "ratio"])
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()

    import krippendorff  # the reference; a test dependency

    data = make_data()
    n_ratings = int(np.isfinite(data).sum())
    print(f"data: {data.shape[1]:,} units x {data.shape[0]} raters, {n_ratings:,} ratings present "
          f"(of {data.size:,}), level={args.level}")
    ours = krippendorff_alpha(data, level=args.level)
    ref = krippendorff.alpha(reliability_data=data, level_of_measurement=args.level)
    diff = abs(ours - ref)
    print(f"alpha: assay {ours:.15f}  krippendorff {ref:.15f}  |diff| {diff:.2e}")
    if diff > 1e-9:
        raise SystemExit("results differ by more than 1e-9: not timing a wrong answer")

    t_ours, t_ref = [], []
    for _ in range(args.runs):  # alternate so both see the same machine load
        t_ours.append(timed(lambda: krippendorff_alpha(data, level=args.level))[0])
        t_ref.append(timed(lambda: krippendorff.alpha(reliability_data=data,
                                                      level_of_measurement=args.level))[0])
    m_ours, m_ref = statistics.median(t_ours), statistics.median(t_ref)
    print(f"alpha, median of {args.runs}: assay {m_ours * 1e3:.1f} ms, "
          f"krippendorff {version('krippendorff')} {m_ref * 1e3:.1f} ms, "
          f"ratio {m_ref / m_ours:.2f}x")
    print("  assay runs (ms):       " + " ".join(f"{t * 1e3:.1f}" for t in t_ours))
    print("  krippendorff runs (ms): " + " ".join(f"{t * 1e3:.1f}" for t in t_ref))

    t_boot = []
    for seed in range(5):
        t, est = timed(lambda s=seed: krippendorff_alpha_interval(
            data, level=args.level, rounds=args.rounds, random_state=s))
        t_boot.append(t)
    print(f"bootstrap, {args.rounds} resamples over units, median of 5: "
          f"{statistics.median(t_boot):.2f} s  (last: alpha {est.estimate:.4f}, "
          f"95% [{est.low:.4f}, {est.high:.4f}], se {est.se:.5f})")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, "
          f"numpy {np.__version__}")


if __name__ == "__main__":
    main()
