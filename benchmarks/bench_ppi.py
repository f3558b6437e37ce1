"""assay.stats.ppi against ppi_py, and the coverage of its intervals with few human labels.

Prints (1) the largest absolute difference between assay's interval limits and ppi_py's, per
function and lam, over seeded synthetic data sets (good, biased, useless judge; tiny labelled
set), and (2) the coverage and width of the 95% PPI++ and classical intervals for a mean by
simulation, for n = 10 ... 400 labelled units. Needs ``pip install ppi-python`` (test extra).

    python benchmarks/bench_ppi.py [--reps 4000]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from scipy.special import expit

from assay.stats import ppi

JUDGES = {  # name: (n labelled, N unlabelled, slope, bias, noise)
    "good": (150, 3000, 1.0, 0.0, 0.3),
    "biased": (150, 3000, 0.7, 0.8, 0.5),
    "useless": (150, 3000, 0.0, 0.2, 1.0),
    "tiny": (8, 500, 1.0, 0.3, 0.5),
}
LAMS = (None, 0.0, 1.0, 0.35)


def agreement(seeds: int = 5) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import ppi_py

    worst: dict[str, float] = {}

    def note(key: str, ours, ref) -> None:  # noqa: ANN001
        ours, ref = np.ravel(np.asarray(ours, dtype=float)), np.ravel(np.asarray(ref, dtype=float))
        keep = np.isfinite(ref)
        worst[key] = max(worst.get(key, 0.0), float(np.max(np.abs(ours[keep] - ref[keep]))))

    for kind, (n, big_n, slope, bias, noise) in JUDGES.items():
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            y = rng.normal(3, 1, (n + big_n, 2))
            f = slope * y + bias + rng.normal(0, noise, (n + big_n, 2))
            d, fd = y[:n, 0] - y[:n, 1], f[:, 0] - f[:, 1]
            for lam in LAMS:
                r = ppi.mean(y[:n, 0], f[:n, 0], f[n:, 0], alpha=0.1, lam=lam, small_sample=False)
                note(f"mean lam={lam}", r.interval, ppi_py.ppi_mean_ci(y[:n, 0], f[:n, 0], f[n:, 0], alpha=0.1,
                                                                      lam=lam))
                r = ppi.paired_difference(y[:n, 0], y[:n, 1], f[:n, 0], f[:n, 1], f[n:, 0], f[n:, 1], lam=lam,
                                          small_sample=False)
                note(f"paired_difference lam={lam}", r.interval, ppi_py.ppi_mean_ci(d, fd[:n], fd[n:], alpha=0.05,
                                                                                   lam=lam))
                w, wh = (d > 0).astype(float), expit(fd)
                r = ppi.win_rate(w, wh[:n], wh[n:], lam=lam, small_sample=False)
                note(f"win_rate lam={lam}", r.interval, ppi_py.ppi_mean_ci(w, wh[:n], wh[n:], alpha=0.05, lam=lam))
            folds = f[n:, :1] + rng.normal(0, 0.2, (big_n, 5))
            r = ppi.cross_mean(y[:n, 0], f[:n, 0], folds, alpha=0.1, small_sample=False)
            note("cross_mean", r.interval, ppi_py.crossppi_mean_ci(y[:n, 0], f[:n, 0], folds, alpha=0.1))

            # pairwise verdicts among 4 models with planted strengths; the judge sees the verdict, noisily
            m, nn = 4, max(n, 80)
            strength = np.linspace(0.8, -0.6, m)
            a = rng.integers(0, m, nn + 2000)
            b = (a + rng.integers(1, m, nn + 2000)) % m
            yb = (rng.random(nn + 2000) < expit(strength[a] - strength[b])).astype(float)
            fb = expit(2 * slope * (2 * yb - 1) + bias + rng.normal(0, 2 * noise, nn + 2000)) if slope else \
                rng.random(nn + 2000)
            x = np.zeros((nn + 2000, m))
            x[np.arange(nn + 2000), a], x[np.arange(nn + 2000), b] = 1.0, -1.0
            x = x[:, 1:]
            pairs = list(zip(a, b))
            for lam in LAMS:
                try:
                    r = ppi.bradley_terry(pairs[:nn], yb[:nn], fb[:nn], pairs[nn:], fb[nn:], models=range(m),
                                          lam=lam)
                except ValueError:  # a model unbeaten in the human labels: no finite human-only fit
                    continue
                lo, hi = ppi_py.ppi_logistic_ci(x[:nn], yb[:nn], fb[:nn], x[nn:], fb[nn:], alpha=0.05, lam=lam)
                note(f"bradley_terry / logistic lam={lam}", (r.low[1:], r.high[1:]), (lo, hi))
            kf = np.clip(fb[nn:, None] + rng.normal(0, 0.05, (2000, 3)), 0, 1)
            try:
                r = ppi.cross_bradley_terry(pairs[:nn], yb[:nn], fb[:nn], pairs[nn:], kf, models=range(m))
            except ValueError:
                continue
            lo, hi = ppi_py.crossppi_logistic_ci(x[:nn], yb[:nn], fb[:nn], x[nn:], kf, alpha=0.05,
                                                 optimizer_options={"ftol": 1e-15})
            note("cross_bradley_terry / cross_logistic", (r.low[1:], r.high[1:]), (lo, hi))
    return worst


def coverage(reps: int) -> None:
    print(f"\n95% intervals for a mean, biased judge (f = 0.7 y + 0.8 + N(0, 0.5^2)), N = 1,000, {reps} repetitions")
    print("PPI++ and classical: small_sample=True (the default, Student t); normal: small_sample=False (ppi_py's)")
    print("| n | PPI++ coverage | PPI++ normal | classical coverage | classical normal | mean width PPI++ / classical "
          "| median n_eff |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n in (10, 20, 50, 100, 200, 400):
        rng = np.random.default_rng(7)
        cov = cov_z = cov_c = cov_cz = 0
        ratio, n_eff = [], []
        for _ in range(reps):
            y = rng.normal(3, 1, n + 1000)
            f = 0.7 * y + 0.8 + rng.normal(0, 0.5, n + 1000)
            r = ppi.mean(y[:n], f[:n], f[n:])
            z = ppi.mean(y[:n], f[:n], f[n:], small_sample=False)
            cov += r.low <= 3 <= r.high
            cov_z += z.low <= 3 <= z.high
            cov_c += r.classical_low <= 3 <= r.classical_high
            cov_cz += z.classical_low <= 3 <= z.classical_high
            ratio.append((r.high - r.low) / (r.classical_high - r.classical_low))
            n_eff.append(r.n_eff)
        print(f"| {n} | {cov / reps:.3f} | {cov_z / reps:.3f} | {cov_c / reps:.3f} | {cov_cz / reps:.3f} | "
              f"{np.mean(ratio):.3f} | {np.median(n_eff):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=4000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="'penalty' was deprecated", category=FutureWarning)  # ppi_py's sklearn
    print("largest |assay - ppi_py| over interval limits")
    for key, value in agreement().items():
        print(f"  {key:40s} {value:.1e}")
    coverage(args.reps)


if __name__ == "__main__":
    main()
