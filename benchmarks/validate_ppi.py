"""Coverage of assay's 95% PPI++ intervals on real published data and on simulated judges.

Real data (issue #17, "Validation"): the full human labels are the truth. PandaLM (999
pairs; the majority of three annotators; GPT-3.5's published verdicts as the judge) and
HANNA (1,056 stories; the mean of three workers per criterion; ChatGPT's published ratings,
prompt 1, as the judge). Each repetition gives human labels to n units drawn at random and
the judge's verdicts alone to the others, and asks whether the interval covers the full-data
value. Two designs:

* ``wor``: the n labelled units are drawn without replacement from the data set and the
  rest are judge-only, what a labelling campaign does. The full-data value is then a
  finite-population mean and PPI's variance (made for an infinite population) overstates
  the error, more the larger n is against the data set: coverage rises above 95%.
* ``iid``: the data set's units are redrawn with replacement (as many as it has), n of them
  labelled. The full-data value is then exactly the mean of the distribution sampled, PPI's
  own setting, so coverage should be 95%.

Simulation: human scores with a known mean and judges with planted bias and noise,
including a useless judge (pure noise) and an inverted one.

For each setting the script prints the coverage of the PPI++ interval with the
small-sample correction (``small_sample=True``, the default) and without it (ppi_py's
normal interval), the human-only Student t interval's, and the mean width of PPI++ over
human-only. Everything is seeded.

    python benchmarks/validate_ppi.py [--reps 1000] [--n 50 100 200 400] [--part real|sim|all]
        [--only TARGET] [--design wor|iid|both] [--fixed-lam] [--seed 17]

Seeds: repetition streams are seeded by ``--seed``, the target and n, so a row's figures do
not depend on which other rows are run.
"""

from __future__ import annotations

import argparse
import ast
import collections
import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import numpy as np

from assay.stats import ppi

HANNA_CRITERIA = {"RE": "Relevance", "CH": "Coherence", "EM": "Empathy", "SU": "Surprise", "EG": "Engagement",
                  "CX": "Complexity"}


@dataclass(frozen=True)
class Target:
    """Per-unit human values and judge predictions whose mean is the quantity estimated."""

    name: str
    y: np.ndarray
    yhat: np.ndarray
    judge: str


def _data(*parts: str) -> str:
    return resources.files("assay.data").joinpath(*parts).read_text(encoding="utf-8")


def pandalm_targets() -> list[Target]:
    """Response 1's win rate (ties half), the tie rate, and llama-7b's win rate in its own comparisons.

    Human value: the majority of the three annotators (every pair has one). GPT-3.5's unreadable
    answers ("garbage", 25 of 999) count as a tie: any fixed prediction keeps PPI valid.
    """
    rows = json.loads(_data("pandalm", "testset-v1.json"))
    gpt = {r["idx"]: str(r["gpt_result"]).lower() for r in json.loads(_data("pandalm",
                                                                          "gpt-3.5-turbo-testset-v1.json"))}
    win = {0: 0.5, 1: 1.0, 2: 0.0}
    y, f, key = [], [], []
    for r in rows:
        votes = collections.Counter(r[f"annotator{i}"] for i in (1, 2, 3)).most_common()
        assert votes[0][1] >= 2, "a PandaLM pair without a majority"
        y.append(win[votes[0][0]])
        f.append({"1": 1.0, "2": 0.0}.get(gpt[r["idx"]], 0.5))
        key.append(r["cmp_key"])
    y, f, key = np.array(y), np.array(f), np.array(key)
    judge = "GPT-3.5 (published)"
    out = [Target("PandaLM: response 1 wins", y, f, judge),
           Target("PandaLM: tie", (y == 0.5).astype(float), (f == 0.5).astype(float), judge)]
    first = np.array([k.startswith("llama-7b_") for k in key])
    second = np.array([k.endswith("_llama-7b") for k in key])
    sel = first | second
    flip = lambda v: np.where(first[sel], v[sel], 1 - v[sel])  # noqa: E731 - llama-7b's side of the verdict
    out.append(Target("PandaLM: llama-7b wins", flip(y), flip(f), judge))
    return out


def hanna_table() -> dict[str, np.ndarray]:
    text = _data("hanna", "hanna_metric_scores_llm.csv")
    csv.field_size_limit(1 << 30)
    table = list(csv.DictReader(io.StringIO(text)))
    cols: dict[str, np.ndarray] = {"system": np.repeat([r["Model"] for r in table], 96)}
    for name in table[0]:
        if name != "Model":
            cols[name] = np.concatenate([np.asarray(ast.literal_eval(r[name]), dtype=float) for r in table])
    return cols


def hanna_targets(judge: str = "ChatGPT", prompt: int = 1) -> list[Target]:
    """Mean human rating per criterion; and GPT-2 minus GPT on the mean of the six, paired by prompt.

    The judge's ratings (``<judge> <code> <prompt>``) are HANNA's published LLM ratings (a
    failed rating, 3 of ChatGPT's 6,336, is replaced by the judge's mean on that criterion); the
    human one is the mean of the three workers (the file's criterion column).
    """
    t = hanna_table()
    name = f"{judge} (published, prompt {prompt})"
    out, judged = [], []
    for code, crit in HANNA_CRITERIA.items():
        f = t[f"{judge} {code} {prompt}"].copy()
        failed = (f < 1) | (f > 5)  # HANNA marks a failed answer with 0 or less
        f[failed] = f[~failed].mean()  # from judge scores alone: any fixed prediction keeps PPI valid
        judged.append(f)
        out.append(Target(f"HANNA: {crit.lower()}", t[crit], f, name))
    human = np.mean([t[c] for c in HANNA_CRITERIA.values()], axis=0)
    llm = np.mean(judged, axis=0)  # the file's "AVG" column, but without the failed ratings
    a, b = t["system"] == "GPT-2", t["system"] == "GPT"  # both in prompt order 0..95
    out.append(Target("HANNA: GPT-2 minus GPT (paired)", human[a] - human[b], llm[a] - llm[b], name))
    return out


def coverage(y_all: np.ndarray, f_all: np.ndarray, n: int, reps: int, seed: int, design: str,
             truth: float | None = None, draw: Callable | None = None,
             fixed_lam: float | None = None) -> dict[str, float]:
    """Share of ``reps`` 95% intervals covering the truth, and mean widths, for one setting.

    ``draw(rng)`` (simulations) returns fresh ``(y, f)`` for all units; otherwise units are
    drawn from ``y_all``, ``f_all`` by ``design`` and the truth is their mean. ``fixed_lam``:
    also count the small-sample interval with ``lam`` given instead of tuned (a diagnosis).
    """
    rng = np.random.default_rng(seed)
    m = len(y_all) if y_all is not None else None
    truth = float(np.mean(y_all)) if truth is None else truth
    hits = collections.Counter()
    width, width_c, width_ratio, lam = [], [], [], []
    for _ in range(reps):
        if draw is not None:
            y, f = draw(rng)
        elif design == "wor":
            idx = rng.permutation(m)
            y, f = y_all[idx], f_all[idx]
        else:
            idx = rng.integers(0, m, m)
            y, f = y_all[idx], f_all[idx]
        r = ppi.mean(y[:n], f[:n], f[n:])
        z = ppi.mean(y[:n], f[:n], f[n:], small_sample=False)
        hits["ppi_t"] += r.low <= truth <= r.high
        hits["below"] += r.high < truth  # the interval lies below the truth
        hits["above"] += r.low > truth
        hits["ppi_z"] += z.low <= truth <= z.high
        hits["classical_t"] += r.classical_low <= truth <= r.classical_high
        hits["classical_z"] += z.classical_low <= truth <= z.classical_high
        if fixed_lam is not None:
            o = ppi.mean(y[:n], f[:n], f[n:], lam=fixed_lam)
            hits["fixed_lam"] += o.low <= truth <= o.high
        width.append(r.high - r.low)
        width_c.append(r.classical_high - r.classical_low)
        if width_c[-1] > 0:  # all n labels alike (a rare outcome) leave a zero-width human-only interval
            width_ratio.append(width[-1] / width_c[-1])
        lam.append(r.lam)
    out = {k: hits[k] / reps for k in ("ppi_t", "ppi_z", "classical_t", "classical_z", "fixed_lam",
                                                 "below", "above")}
    out.update(width=float(np.mean(width)), width_classical=float(np.mean(width_c)),
               ratio=float(np.mean(width) / np.mean(width_c)), max_ratio=float(np.max(width_ratio)),
               lam=float(np.mean(lam)))
    return out


HEADER = ("| target | n | N | PPI++ coverage | PPI++ coverage, normal | human-only coverage | mean width PPI++ "
          "| mean width human-only | ratio | mean lam |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def row(name: str, n: int, big_n: int, c: dict[str, float], fixed: bool = False) -> str:
    return (f"| {name} | {n} | {big_n} | {c['ppi_t']:.3f} | {c['ppi_z']:.3f} | {c['classical_t']:.3f} | "
            f"{c['width']:.4f} | {c['width_classical']:.4f} | {c['ratio']:.3f} | {c['lam']:.2f} |"
            + (f" {c['fixed_lam']:.3f} | {c['below']:.3f} | {c['above']:.3f} |" if fixed else ""))


def real(reps: int, ns: list[int], seed: int, only: str | None = None,
         designs: tuple[str, ...] = ("wor", "iid"), fixed: bool = False) -> None:
    targets = pandalm_targets() + hanna_targets()
    print("\nJudges: " + "; ".join(sorted({f"{t.name.split(':')[0]}: {t.judge}" for t in targets})))
    print("Full-data values (the truth): " + "; ".join(f"{t.name} = {t.y.mean():.4f} ({len(t.y)} units, "
                                                       f"judge mean {t.yhat.mean():.4f})" for t in targets))
    for design in designs:
        print(f"\nDesign {design}, {reps} repetitions per row; n only up to 60% of the units")
        extra = " | lam fixed at its full-data optimum | PPI++ below the truth | PPI++ above the truth |\n"
        print(HEADER.replace(" |\n", extra).replace("--- |", "--- | --- | --- | --- |", 1) if fixed else HEADER)
        worst = 1.0
        for ti, t in enumerate(targets):
            for n in ns:
                if n > 0.6 * len(t.y) or (only and only.lower() not in t.name.lower()):
                    continue
                big_n = len(t.y) - n
                # the population value of the tuned lam: Cov(Y, f) / ((1 + n/N) Var(f)) on the full data
                lam_opt = np.cov(t.y, t.yhat)[0, 1] / np.var(t.yhat, ddof=1) / (1 + n / big_n)
                c = coverage(t.y, t.yhat, n, reps, seed + 1000 * ti + n, design,
                             fixed_lam=float(np.clip(lam_opt, 0, 1)) if fixed else None)
                worst = min(worst, c["ppi_t"])
                print(row(t.name, n, big_n, c, fixed), flush=True)
        print(f"lowest PPI++ coverage (small-sample interval) in design {design}: {worst:.3f}")


def judges() -> dict[str, tuple[str, Callable]]:
    """Simulated settings: (description, draw(rng, size) -> (y, f)). Human scores y ~ N(3, 1) unless binary."""
    def cont(slope: float, bias: float, noise: float) -> Callable:
        def draw(rng: np.random.Generator, size: int):  # noqa: ANN202
            y = rng.normal(3, 1, size)
            f = slope * y + bias + rng.normal(0, noise, size) if slope else rng.normal(3 + bias, noise, size)
            return y, f
        return draw

    def binary(rng: np.random.Generator, size: int):  # noqa: ANN202
        y = (rng.random(size) < 0.3).astype(float)
        f = (rng.random(size) < np.where(y == 1, 0.8, 0.25)).astype(float)  # says yes too often
        return y, f

    return {
        "good": ("f = y + N(0, 0.3^2)", cont(1.0, 0.0, 0.3)),
        "biased": ("f = 0.7 y + 0.8 + N(0, 0.5^2)", cont(0.7, 0.8, 0.5)),
        "biased, noisy": ("f = 0.5 y - 1 + N(0, 1)", cont(0.5, -1.0, 1.0)),
        "binary, lenient": ("y ~ Bernoulli(0.3); f = 1 w.p. 0.8 if y else 0.25", binary),
        "inverted": ("f = -y + N(0, 0.5^2)", cont(-1.0, 0.0, 0.5)),
        "useless": ("f ~ N(3.5, 1), independent of y", cont(0.0, 0.5, 1.0)),
    }


def simulation(reps: int, ns: list[int], seed: int, big_n: int = 1000) -> None:
    print(f"\nSimulation: N = {big_n:,} judge-only units, {reps} repetitions per row; truth 3 (binary: 0.3)")
    print("| judge | n | PPI++ coverage | PPI++ coverage, normal | human-only coverage | mean width ratio "
        "| largest width ratio | mean lam |\n| --- | --- | --- | --- | --- | --- | --- | --- |")
    for ji, (name, (desc, draw)) in enumerate(judges().items()):
        truth = 0.3 if name.startswith("binary") else 3.0
        for n in ns:
            c = coverage(None, None, n, reps, seed + 1000 * ji + n, "sim", truth=truth,
                         draw=lambda rng, d=draw, n=n: d(rng, n + big_n))
            print(f"| {name}: {desc} | {n} | {c['ppi_t']:.3f} | {c['ppi_z']:.3f} | {c['classical_t']:.3f} | "
                  f"{c['ratio']:.3f} | {c['max_ratio']:.3f} | {c['lam']:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--n", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--part", choices=["real", "sim", "all"], default="all")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--only", help="real data: only targets whose name contains this")
    parser.add_argument("--design", choices=["wor", "iid", "both"], default="both")
    parser.add_argument("--fixed-lam", action="store_true",
                        help="real data: also the coverage with lam fixed at its full-data optimum (not tuned)")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.part in ("real", "all"):
        designs = ("wor", "iid") if args.design == "both" else (args.design,)
        real(args.reps, args.n, args.seed, args.only, designs, args.fixed_lam)
    if args.part in ("sim", "all"):
        simulation(args.reps, args.n, args.seed)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
