"""Benchmark: Bradley-Terry with 1,000 bootstrap rounds on 2,000,000 battles among 100 models.

assay's ``bootstrap_ratings`` (Newton on the 100 x 100 win matrix, warm-started) against
Chatbot Arena's recipe, written out below: deduplicate to unique (model_a, model_b,
outcome) rows, draw multinomial counts over them, and refit each round with scipy's
L-BFGS-B on the unique rows.

Before timing, the reference solver is run on the very resamples assay drew (assay pools
the unique rows by unordered pair before drawing, which leaves Bradley-Terry's likelihood
and the bootstrap distribution unchanged), and the ratings are compared round by round.
The reference is run to a tight tolerance (``gtol=1e-11`` on the per-battle mean loss,
no iteration cap) so that it reaches the optimum to 1e-6 Elo points; Arena's own default
(``gtol=1e-6``, at most 100 iterations) is also timed and its distance from the optimum
printed.

A stronger reference is timed beside them (``--refs bincount``): the same unique rows and
draws, but the loss and gradient computed with ``np.bincount`` (one transcendental per
row) and each round refitted by L-BFGS-B at ``gtol=1e-6`` warm-started from the
full-data fit, which is how one would write it for speed without changing the method.

The reference costs seconds per round, so it is timed on a slice of rounds and scaled
to 1,000 (it does the same work every round). Runs alternate, assay then reference, and
the median of the repeats is reported.

    python benchmarks/bench_ranking.py                 # full size, 5 repeats
    python benchmarks/bench_ranking.py --battles 200000 --repeats 3 --ref-rounds 5
    python benchmarks/bench_ranking.py --refs bincount --ref-rounds 50   # the strong reference only
"""

from __future__ import annotations

import argparse
import math
import os

# "One core": keep BLAS single-threaded (set before numpy loads).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
import platform
import statistics
import time

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from assay.stats import _bt
from assay.stats.ranking import Bootstrap, bootstrap_ratings

SCALE, BASE, INIT = 400.0, 10.0, 1000.0


def make_battles(n_battles: int, n_models: int, seed: int = 7) -> pd.DataFrame:
    """Random pairings; outcomes from Bradley-Terry with 10% ties, true ratings N(0, 150^2)."""
    rng = np.random.default_rng(seed)
    true = rng.normal(0, 150, n_models)
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    p = 1 / (1 + BASE ** ((true[b] - true[a]) / SCALE))
    u = rng.random(n_battles)
    tie = rng.random(n_battles) < 0.10
    winner = np.where(tie, "tie", np.where(u < p, "model_a", "model_b"))
    names = np.array([f"model-{i:03d}" for i in range(n_models)], dtype=object)
    return pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})


# --- Chatbot Arena's recipe (reference), written from its description ----------------


def arena_preprocess(df: pd.DataFrame):
    n = len(df)
    ids, models = pd.factorize(pd.concat([df["model_a"], df["model_b"]]))
    schedule = np.ones((n, 3), dtype=np.int32)
    schedule[:, 0], schedule[:, 1] = ids[:n], ids[n:]
    schedule[(df["winner"] == "model_a").to_numpy(), 2] = 2
    schedule[(df["winner"] == "model_b").to_numpy(), 2] = 0
    rows, counts = np.unique(schedule, return_counts=True, axis=0)
    return rows[:, :2], rows[:, 2] / 2.0, list(models), counts.astype(float)


def arena_loss_and_grad(theta, matchups, outcomes, weights, alpha):
    r = theta[matchups]
    z = alpha * (r[:, 0] - r[:, 1])
    p = expit(z)
    loss = -((np.log(p) * outcomes + np.log(1 - p) * (1 - outcomes)) * weights).sum()
    g_row = -alpha * (outcomes - p) * weights
    grad = np.zeros_like(theta)
    np.add.at(grad, matchups[:, 0], g_row)
    np.add.at(grad, matchups[:, 1], -g_row)
    return loss, grad


def arena_fit(matchups, outcomes, weights, n_models, *, gtol, maxiter):
    res = minimize(
        arena_loss_and_grad,
        np.zeros(n_models),
        args=(matchups, outcomes, weights, math.log(BASE)),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": gtol, "ftol": 0.0 if gtol < 1e-8 else 2.2e-9, "maxiter": maxiter},
    )
    return res.x * SCALE + INIT  # mean-zero start and zero-sum gradients keep the mean at INIT


def arena_bootstrap(df, rounds, *, seed, gtol, maxiter, take=None):
    """Arena's compute_bootstrap_bt, single process; ``take`` fits only the first rounds.

    Returns the ratings and an estimate of the time all ``rounds`` would take:
    deduplication once plus the per-round cost (draw and fit) times ``rounds``.
    """
    t0 = time.perf_counter()
    matchups, outcomes, models, counts = arena_preprocess(df)
    t_pre = time.perf_counter() - t0
    take = take or rounds
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    # Drawing the first `take` rounds gives the same rows as drawing all and slicing.
    draws = rng.multinomial(len(df), counts / counts.sum(), size=take)
    out = []
    for w in draws:
        out.append(arena_fit(matchups, outcomes, w / len(df), len(models), gtol=gtol, maxiter=maxiter))
    t_rounds = time.perf_counter() - t0
    return pd.DataFrame(out, columns=models), t_pre + t_rounds * rounds / take


# --- a stronger reference: bincount gradients, warm starts -----------------------------


def bincount_loss_and_grad(theta, a, b, outcomes, weights, alpha, n_models):
    """Mean log-loss and its gradient over the unique rows, scattered with ``np.bincount``.

    One transcendental per row: log(1 - p) = log p - z for p = sigmoid(z).
    """
    z = alpha * (theta[a] - theta[b])
    logp = log_expit(z)
    loss = -float(weights @ (logp - (1.0 - outcomes) * z))
    g_row = alpha * weights * (np.exp(logp) - outcomes)
    grad = np.bincount(a, g_row, n_models) - np.bincount(b, g_row, n_models)
    return loss, grad


def bincount_fit(a, b, outcomes, weights, n_models, x0, *, gtol=1e-6):
    res = minimize(
        bincount_loss_and_grad,
        x0,
        args=(a, b, outcomes, weights, math.log(BASE), n_models),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": gtol},
    )
    return res.x


def bincount_bootstrap(df, rounds, *, seed, gtol=1e-6, take=None):
    """The strong reference: Arena's resampling over the unique rows, each round refitted by
    L-BFGS-B on bincount gradients, warm-started from the full-data fit.

    Returns the ratings of the rounds fitted and the estimated time of all ``rounds``
    (deduplication and the full fit once, draws and refits per round).
    """
    t0 = time.perf_counter()
    matchups, outcomes, models, counts = arena_preprocess(df)
    a, b = matchups[:, 0].astype(np.intp), matchups[:, 1].astype(np.intp)
    m = len(models)
    full = bincount_fit(a, b, outcomes, counts / len(df), m, np.zeros(m), gtol=1e-9)
    t_pre = time.perf_counter() - t0
    take = take or rounds
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(df), counts / counts.sum(), size=take)
    out = [bincount_fit(a, b, outcomes, w / len(df), m, full, gtol=gtol) for w in draws]
    t_rounds = time.perf_counter() - t0
    ratings = np.array(out) * SCALE + (INIT - np.mean(out, axis=1, keepdims=True) * SCALE)
    return pd.DataFrame(ratings, columns=models), t_pre + t_rounds * rounds / take


# --- benchmark -------------------------------------------------------------------------


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, {platform.processor() or platform.machine()}, Python {platform.python_version()}"


REFS = {
    "bincount": "bincount gradients, L-BFGS-B gtol=1e-6 warm-started from the full-data fit",
    "tight": "Arena's recipe, np.add.at gradients, gtol=1e-11 from zero",
    "arena": "Arena's recipe at its default gtol=1e-6, maxiter=100, from zero",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--battles", type=int, default=2_000_000)
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--ref-rounds", type=int, default=10, help="rounds the reference is timed on")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--refs", default="bincount,tight,arena",
                    help="references to time, comma-separated: " + ", ".join(f"{k} ({v})" for k, v in REFS.items()))
    args = ap.parse_args()

    print(f"machine: {machine()}")
    df = make_battles(args.battles, args.models)
    print(f"{len(df):,} battles, {args.models} models, {args.rounds} bootstrap rounds")

    # 1. Same answer first: the reference solver on assay's own resamples, round by round.
    k = args.ref_rounds
    ours = bootstrap_ratings(df, bootstrap=Bootstrap(rounds=args.rounds, random_state=args.seed))
    table = _bt.battle_table(df)
    pc = _bt.pair_counts(table)
    _, counts = next(_bt.bootstrap_counts(pc, args.rounds, np.random.default_rng(args.seed), n_draws=len(df)))
    matchups = np.repeat(np.column_stack([pc.i, pc.j]), 3, axis=0)
    outcomes = np.tile([0.0, 0.5, 1.0], len(pc.i))
    diffs = {}
    for name, gtol, maxiter in (("tight", 1e-11, 15000), ("arena", 1e-6, 100)):
        ref = np.array(
            [
                arena_fit(matchups, outcomes, c / len(df), table.n_models, gtol=gtol, maxiter=maxiter)
                for c in counts[:k]
            ]
        )
        diffs[name] = np.abs(ours.samples.iloc[:k][table.models].to_numpy() - ref).max()
    point = arena_fit(matchups, outcomes, pc.counts / len(df), table.n_models, gtol=1e-11, maxiter=15000)
    diff_point = np.abs(ours.leaderboard["rating"][table.models].to_numpy() - point).max()
    # The strong reference on the same resamples, warm-started from the full-data fit.
    ia, ib = matchups[:, 0].astype(np.intp), matchups[:, 1].astype(np.intp)
    x_full = (point - INIT) / SCALE
    ref = np.array([bincount_fit(ia, ib, outcomes, c / len(df), table.n_models, x_full) for c in counts[:k]])
    ref = (ref - ref.mean(axis=1, keepdims=True)) * SCALE + INIT
    diffs["bincount"] = np.abs(ours.samples.iloc[:k][table.models].to_numpy() - ref).max()
    print(f"max |assay - reference|, full-data ratings: {diff_point:.2e} Elo points")
    print(f"max |assay - reference| over {k} rounds x {args.models} models: {diffs['tight']:.2e} Elo points")
    print(f"(Arena's default gtol=1e-6, maxiter=100 lands {diffs['arena']:.2e} Elo points from the optimum;")
    print(f" the bincount reference at gtol=1e-6, warm-started, {diffs['bincount']:.2e})")
    if max(diffs["tight"], diff_point) > 1e-6:
        raise SystemExit("ratings differ by more than 1e-6: not timing")

    # 2. Time, alternating.
    refs = args.refs.split(",")
    times: dict[str, list[float]] = {"assay": [], **{r: [] for r in refs}}
    for rep in range(args.repeats):
        seed = args.seed + rep
        t0 = time.perf_counter()
        bootstrap_ratings(df, bootstrap=Bootstrap(rounds=args.rounds, random_state=seed))
        times["assay"].append(time.perf_counter() - t0)
        for r in refs:
            if r == "bincount":
                _, t = bincount_bootstrap(df, args.rounds, seed=seed, take=k)
            else:
                gtol, maxiter = (1e-11, 15000) if r == "tight" else (1e-6, 100)
                _, t = arena_bootstrap(df, args.rounds, seed=seed, gtol=gtol, maxiter=maxiter, take=k)
            times[r].append(t)
        line = ", ".join(f"{r} {times[r][-1]:.1f} s" for r in refs)
        print(f"repeat {rep + 1}: assay {times['assay'][-1]:.2f} s; references (scaled from {k} rounds): {line}")
    print(f"median assay: {statistics.median(times['assay']):.2f} s for {args.rounds} rounds "
          "(includes deduplication and intervals)")
    for r in refs:
        ratio = statistics.median(t / o for t, o in zip(times[r], times["assay"]))
        print(f"median reference {r} ({REFS[r]}): {statistics.median(times[r]):.1f} s; "
              f"median of paired ratios {ratio:.1f}x")


if __name__ == "__main__":
    main()
