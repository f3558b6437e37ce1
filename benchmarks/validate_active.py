"""Coverage and width of active sampling (assay.stats.ppi.active_mean) beside uniform PPI++, on real data and simulated.

Issue #17, "Validation", for the active sampler: the design of ``validate_ppi.py`` (full human
labels are the truth; budgets n = 50, 100, 200, 400; 1,000 seeded repetitions per row), but
the labelled units are drawn by ``assay.analysis.active``: probabilities proportional to an
uncertainty signal the judge's side of the data gives (no human label is used to choose),
mixed with uniform (``--mix``, 0.5 by default as in ``assay campaign create``), summing to n;
each unit drawn independently (Poisson sampling, so the number of labels varies around n); the
estimate and 95% interval from ``active_mean`` (Hajek weighting, lam tuned, small-sample
interval). Beside it, in the same repetitions: uniform PPI++ (exactly n units at random,
``ppi.mean``), the human-only Student t interval on those n, and the active design's own
human-only (inverse-probability weighted) interval.

Signals (what each data set publishes on the judge's side):

* PandaLM: the judge is GPT-3.5's published verdict; the signal is the disagreement of a
  two-judge panel, GPT-3.5 and PandaLM-7B (``pandalm-7b-testset-v1.json``, in
  ``/work/shared/validation/pandalm/data``; not bundled): half the absolute difference of their
  verdicts on the 1 / 0.5 / 0 scale (0, 0.25 or 0.5).
* HANNA: the judge is ChatGPT's rating with prompt 1; the signal is the K-sample spread of
  ChatGPT's ratings of the same story under its four published prompts (standard deviation).

Designs as in ``validate_ppi.py``: ``wor`` (the data set is the population; its mean is the
truth) and ``iid`` (the units redrawn with replacement each repetition, the probabilities
recomputed on the redraw; the full-data mean is the mean of the distribution sampled).

Simulation: human scores y ~ N(3, 1); a visible feature x ~ U(0, 1); a judge that answers K = 3
times, each y + 0.5 + N(0, sd^2) with sd 0.2 where x < 0.7 and 1.5 elsewhere, scored by the mean
of its answers; N = 10,000 fresh units per repetition (with 1,000, a third of the variance at
n = 100 is the population's own, Var(Y)/N, which no design reduces); the truth is 3. Signals: the sample standard deviation of the three
answers (K-sample spread), the error's true sd (oracle), and pure noise (an uninformative
signal, where active sampling can only lose a little).

    python benchmarks/validate_active.py [--reps 1000] [--n 50 100 200 400] [--part real|sim|all]
        [--design wor|iid|both] [--mix 0.5] [--only TARGET] [--seed 17]
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from validate_ppi import HANNA_CRITERIA, _data, hanna_table, pandalm_targets

from assay.analysis.active import design_probabilities, poisson_draw
from assay.stats import ppi

PANDALM_7B = Path("/work/shared/validation/pandalm/data/pandalm-7b-testset-v1.json")


@dataclass(frozen=True)
class Target:
    name: str
    y: np.ndarray
    yhat: np.ndarray
    signal: np.ndarray
    what: str


def pandalm() -> list[Target]:
    """validate_ppi's three PandaLM targets, with the GPT-3.5 / PandaLM-7B disagreement as the signal."""
    rows = json.loads(_data("pandalm", "testset-v1.json"))
    other = {str(r["idx"]): {0: 0.5, 1: 1.0, 2: 0.0}.get(r["pandalm_result"], 0.5)
             for r in json.loads(PANDALM_7B.read_text(encoding="utf-8"))}
    p7 = np.array([other[str(r["idx"])] for r in rows])
    key = np.array([r["cmp_key"] for r in rows])
    sel = np.array([k.startswith("llama-7b_") or k.endswith("_llama-7b") for k in key])
    wins, tie, llama = pandalm_targets()  # GPT-3.5's verdict on response 1 is wins.yhat
    u = np.abs(wins.yhat - p7) / 2
    what = "GPT-3.5 / PandaLM-7B disagreement"
    return [Target(wins.name, wins.y, wins.yhat, u, what), Target(tie.name, tie.y, tie.yhat, u, what),
            Target(llama.name, llama.y, llama.yhat, u[sel], what)]


def hanna() -> list[Target]:
    """validate_ppi's HANNA criteria (judge ChatGPT, prompt 1), with ChatGPT's spread over its four prompts."""
    t = hanna_table()
    out = []
    for code, crit in HANNA_CRITERIA.items():
        ratings = []
        for prompt in (1, 2, 3, 4):
            f = t[f"ChatGPT {code} {prompt}"].copy()
            failed = (f < 1) | (f > 5)
            f[failed] = f[~failed].mean()
            ratings.append(f)
        out.append(Target(f"HANNA: {crit.lower()}", t[crit], ratings[0], np.std(ratings, axis=0, ddof=1),
                          "ChatGPT's spread over 4 prompts"))
    return out


def run(y_all: np.ndarray, f_all: np.ndarray, u_all: np.ndarray, n: int, reps: int, seed: int, design: str,
        mix: float, truth: float | None = None, draw: Callable | None = None) -> dict[str, float]:
    """Coverage and mean widths of active, uniform PPI++ and human-only intervals over ``reps`` repetitions."""
    rng = np.random.default_rng(seed)
    truth = float(np.mean(y_all)) if truth is None else truth
    hits = collections.Counter()
    widths = collections.defaultdict(list)
    pi_fixed = None if draw is not None or design == "iid" else design_probabilities(u_all, n, uniform_mix=mix)
    for _ in range(reps):
        if draw is not None:
            y, f, u = draw(rng)
        elif design == "iid":
            idx = rng.integers(0, len(y_all), len(y_all))
            y, f, u = y_all[idx], f_all[idx], u_all[idx]
        else:
            y, f, u = y_all, f_all, u_all
        pi = pi_fixed if pi_fixed is not None else design_probabilities(u, n, uniform_mix=mix)
        lab = poisson_draw(pi, int(rng.integers(2**63)))
        if lab.sum() < 2:
            hits["too_few"] += 1
            continue
        a = ppi.active_mean(np.where(lab, y, np.nan), f, lab, pi)
        perm = rng.permutation(len(y))
        s, rest = perm[:n], perm[n:]
        b = ppi.mean(y[s], f[s], f[rest])
        for name, lo, hi in (("active", a.low, a.high), ("active_human", a.classical_low, a.classical_high),
                             ("uniform", b.low, b.high), ("human", b.classical_low, b.classical_high)):
            hits[name] += lo <= truth <= hi
            widths[name].append(hi - lo)
        widths["labels"].append(a.n)
        widths["lam"].append(a.lam)
    done = reps - hits["too_few"]
    out = {k: hits[k] / done for k in ("active", "active_human", "uniform", "human")}
    out.update({f"w_{k}": float(np.mean(v)) for k, v in widths.items()})
    out["too_few"] = hits["too_few"]
    return out


HEADER = ("| target | n | active coverage | active human-only coverage | uniform PPI++ coverage | human-only coverage "
          "| mean labels drawn | width active | width uniform PPI++ | width human-only | active / uniform PPI++ "
          "| mean lam |\n" + "| --- " * 12 + "|")


def line(name: str, n: int, c: dict[str, float]) -> str:
    return (f"| {name} | {n} | {c['active']:.3f} | {c['active_human']:.3f} | {c['uniform']:.3f} | {c['human']:.3f} "
            f"| {c['w_labels']:.1f} | {c['w_active']:.4f} | {c['w_uniform']:.4f} | {c['w_human']:.4f} "
            f"| {c['w_active'] / c['w_uniform']:.3f} | {c['w_lam']:.2f} |")


def signal_summary(t: Target) -> str:
    """How much any allocation on this signal could gain: the oracle bound (E sqrt m)^2 / E m, m the
    mean squared error of the linearly calibrated judge among units with the same signal (deciles
    when it takes more than 20 values). That is the variance ratio of the labelled part with
    pi proportional to sqrt(m) against uniform pi, its square root the width ratio."""
    err2 = (t.y - np.polyval(np.polyfit(t.yhat, t.y, 1), t.yhat)) ** 2
    values = np.unique(t.signal)
    groups = (np.searchsorted(values, t.signal) if len(values) <= 20 else
              np.searchsorted(np.quantile(t.signal, np.linspace(0.1, 0.9, 9)), t.signal))
    share = np.bincount(groups) / len(groups)
    m = np.bincount(groups, weights=err2) / np.maximum(np.bincount(groups), 1)
    bound = np.sum(share * np.sqrt(m)) ** 2 / np.sum(share * m)
    corr = np.corrcoef(t.signal, np.sqrt(err2))[0, 1]
    return (f"signal vs |calibrated error| correlation {corr:.3f}; best width ratio any allocation on it "
            f"could reach {np.sqrt(bound):.3f}")


def real(reps: int, ns: list[int], seed: int, designs: tuple[str, ...], mix: float, only: str | None) -> None:
    targets = pandalm() + hanna()
    print("\nSignals: " + "; ".join(sorted({f"{t.name.split(':')[0]}: {t.what}" for t in targets})))
    for t in targets:
        print(f"{t.name}: {signal_summary(t)}")
    for design in designs:
        print(f"\nDesign {design}, uniform mix {mix}, {reps} repetitions per row; n only up to 60% of the units")
        print(HEADER)
        worst = 1.0
        for ti, t in enumerate(targets):
            for n in ns:
                if n > 0.6 * len(t.y) or (only and only.lower() not in t.name.lower()):
                    continue
                c = run(t.y, t.yhat, t.signal, n, reps, seed + 1000 * ti + n, design, mix)
                worst = min(worst, c["active"])
                print(line(t.name, n, c) + (f" ({c['too_few']} draws under 2 labels)" if c["too_few"] else ""),
                      flush=True)
        print(f"lowest active coverage in design {design}: {worst:.3f}")


def simulated(signal: str, size: int = 10_000) -> Callable:
    """Fresh units: y ~ N(3, 1), x ~ U(0, 1), three judge answers y + 0.5 + N(0, sd^2), f their mean.

    sd is 0.2 where x < 0.7 and 1.5 elsewhere: a judge reliable on most items (short answers, an
    easy category) and poor on the rest, which the visible x tells apart.
    """
    def draw(rng: np.random.Generator):  # noqa: ANN202
        x = rng.random(size)
        y = rng.normal(3, 1, size)
        sd = np.where(x < 0.7, 0.2, 1.5)
        answers = y[:, None] + 0.5 + rng.normal(0, 1, (size, 3)) * sd[:, None]
        f = answers.mean(axis=1)
        u = {"K = 3 spread": answers.std(axis=1, ddof=1), "oracle sd": sd,
             "uninformative": rng.random(size)}[signal]
        return y, f, u
    return draw


def simulation(reps: int, ns: list[int], seed: int, mix: float) -> None:
    print(f"\nSimulation: N = 10,000 fresh units per repetition, truth 3, uniform mix {mix}, {reps} repetitions per row")
    print(HEADER)
    for si, signal in enumerate(("K = 3 spread", "oracle sd", "uninformative")):
        for n in ns:
            c = run(None, None, None, n, reps, seed + 1000 * si + n, "sim", mix, truth=3.0, draw=simulated(signal))
            print(line(f"judge sd 0.2 (x < 0.7) or 1.5; signal: {signal}", n, c), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--n", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--part", choices=["real", "sim", "all"], default="all")
    parser.add_argument("--design", choices=["wor", "iid", "both"], default="both")
    parser.add_argument("--mix", type=float, default=0.5, help="share of the budget spread uniformly")
    parser.add_argument("--only", help="real data: only targets whose name contains this")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    start = time.process_time()
    if args.part in ("real", "all"):
        real(args.reps, args.n, args.seed, ("wor", "iid") if args.design == "both" else (args.design,), args.mix,
             args.only)
    if args.part in ("sim", "all"):
        simulation(args.reps, args.n, args.seed, args.mix)
    print(f"\n{time.process_time() - start:.0f} s CPU")


if __name__ == "__main__":
    main()
