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

The reference costs seconds per round, so it is timed on a slice of rounds and scaled
to 1,000 (it does the same work every round). Runs alternate, assay then reference, and
the median of the repeats is reported.

    python benchmarks/bench_ranking.py                 # full size, 5 repeats
    python benchmarks/bench_ranking.py --battles 200000 --repeats 3 --ref-rounds 5
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
from scipy.special import expit

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


# --- benchmark -------------------------------------------------------------------------


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, {platform.processor() or platform.machine()}, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--battles", type=int, default=2_000_000)
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--ref-rounds", type=int, default=10, help="rounds the reference is timed on")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
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
    print(f"max |assay - reference|, full-data ratings: {diff_point:.2e} Elo points")
    print(f"max |assay - reference| over {k} rounds x {args.models} models: {diffs['tight']:.2e} Elo points")
    print(f"(Arena's default gtol=1e-6, maxiter=100 lands {diffs['arena']:.2e} Elo points from the optimum)")
    if max(diffs["tight"], diff_point) > 1e-6:
        raise SystemExit("ratings differ by more than 1e-6: not timing")

    # 2. Time, alternating.
    t_ours, t_ref, t_loose = [], [], []
    for rep in range(args.repeats):
        t0 = time.perf_counter()
        bootstrap_ratings(df, bootstrap=Bootstrap(rounds=args.rounds, random_state=args.seed + rep))
        t_ours.append(time.perf_counter() - t0)
        _, t = arena_bootstrap(df, args.rounds, seed=args.seed + rep, gtol=1e-11, maxiter=15000, take=k)
        t_ref.append(t)
        _, t = arena_bootstrap(df, args.rounds, seed=args.seed + rep, gtol=1e-6, maxiter=100, take=k)
        t_loose.append(t)
        print(
            f"repeat {rep + 1}: assay {t_ours[-1]:.2f} s, reference {t_ref[-1]:.1f} s "
            f"(Arena tolerance {t_loose[-1]:.1f} s), scaled from {k} rounds"
        )
    mo, mr, ml = statistics.median(t_ours), statistics.median(t_ref), statistics.median(t_loose)
    r_tight = statistics.median(r / o for r, o in zip(t_ref, t_ours))
    r_loose = statistics.median(r / o for r, o in zip(t_loose, t_ours))
    print(f"median assay: {mo:.2f} s for {args.rounds} rounds (includes deduplication and intervals)")
    print(f"median reference (tight tol): {mr:.1f} s; median of paired ratios {r_tight:.1f}x")
    print(f"median reference (Arena default tol): {ml:.1f} s; median of paired ratios {r_loose:.1f}x")


if __name__ == "__main__":
    main()
