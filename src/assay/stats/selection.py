"""Choosing among candidate raters by their agreement with people, with honest held-out intervals.

``agreement_scores`` measures each candidate's agreement with a reference labelling (the human
consensus) on the same units; ``compare_to_baseline`` gives each candidate's held-out agreement
with a percentile interval, and its gain over a baseline with a paired cluster bootstrap
(every candidate and the baseline scored on the same resampled items; Efron and Tibshirani,
*An Introduction to the Bootstrap*, 1993, ch. 13 and 16; items as clusters as in Davison and
Hinkley, *Bootstrap Methods and their Application*, 1997, sec. 3.8). With m candidates beside
the baseline the gains' intervals are Bonferroni intervals at level 1 - (1 - confidence) / m, so
all m hold at once with probability at least ``confidence``, and their bootstrap p-values are
adjusted by Holm's step-down (Holm, "A simple sequentially rejective multiple test procedure",
Scand. J. Statist. 6, 1979): reading the whole table does not inflate the chance of a gain that
is noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assay.stats.ranking import Bootstrap

METRICS = ("accuracy", "kappa", "kappa_quadratic", "mae")
LOWER_IS_BETTER = frozenset({"mae"})


def default_metric(scale: str) -> str:
    """Cohen's kappa on nominal scales, quadratic-weighted kappa on ordinal ones, mean absolute error on continuous."""
    return {"ordinal": "kappa_quadratic", "continuous": "mae"}.get(scale, "kappa")


def agreement_scores(judged: np.ndarray, reference: np.ndarray, counts: np.ndarray, *, metric: str,
                     n_categories: int | None = None) -> np.ndarray:
    """One agreement figure per row of ``counts`` (how often each unit is drawn: ones for the data itself).

    ``judged`` and ``reference`` are category codes 0..K-1 (``n_categories`` = K) or, for
    ``mae``, numbers. ``accuracy`` is the share of equal labels; ``kappa`` Cohen's (1960)
    kappa and ``kappa_quadratic`` Cohen's (1968) weighted kappa with quadratic disagreement
    weights, 1 - observed / chance-expected disagreement (NaN when chance disagreement is 0,
    one category only); ``mae`` the mean absolute difference.

    >>> j, h = np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2])
    >>> agreement_scores(j, h, np.ones((1, 4)), metric="accuracy", n_categories=3).tolist()
    [0.75]
    >>> round(float(agreement_scores(j, h, np.ones((1, 4)), metric="kappa", n_categories=3)[0]), 6)
    0.636364
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    c = np.atleast_2d(np.asarray(counts, dtype=float))
    n = c.sum(axis=1)
    if metric == "mae":
        return c @ np.abs(np.asarray(judged, float) - np.asarray(reference, float)) / n
    j, h = np.asarray(judged, dtype=int), np.asarray(reference, dtype=int)
    if metric == "accuracy":
        return c @ (j == h).astype(float) / n
    k = int(n_categories if n_categories is not None else max(j.max(), h.max()) + 1)
    idx = np.arange(k)
    w = (idx[:, None] - idx[None, :]) ** 2 if metric == "kappa_quadratic" else (idx[:, None] != idx[None, :])
    w = w.astype(float)
    observed = c @ w[j, h] / n
    pj = (c @ np.eye(k)[j]) / n[:, None]
    ph = (c @ np.eye(k)[h]) / n[:, None]
    expected = np.einsum("bk,kl,bl->b", pj, w, ph)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1 - observed / np.where(expected > 0, expected, 1), np.nan)


@dataclass(frozen=True)
class HeldOut:
    """Candidates' held-out agreement and their gains over the baseline (see the module's docstring)."""

    metric: str
    higher_is_better: bool
    n_units: int
    n_clusters: int
    estimate: dict[str, float]
    """Each candidate's agreement on the held-out units."""
    interval: dict[str, tuple[float, float]]
    """Its percentile interval at ``confidence``."""
    gain: dict[str, float]
    """Improvement over the baseline (positive: better, whichever way the metric points); 0 for the baseline."""
    gain_interval: dict[str, tuple[float, float]]
    """The gain's paired-bootstrap percentile interval at the Bonferroni level ``adjusted_confidence``."""
    p_value: dict[str, float]
    """Two-sided bootstrap p-value of no gain, Holm-adjusted over the candidates compared with the baseline."""
    confidence: float
    adjusted_confidence: float
    rounds: int


def _percentile(boot: np.ndarray, confidence: float) -> tuple[float, float]:
    b = boot[np.isfinite(boot)]
    if b.size == 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(b, [tail, 1 - tail])
    return float(lo), float(hi)


def compare_to_baseline(judged: Mapping[str, Sequence], reference: Sequence, clusters: Sequence, *, baseline: str,
                        metric: str, n_categories: int | None = None,
                        bootstrap: Bootstrap = Bootstrap(rounds=2000, random_state=0)) -> HeldOut:
    """Held-out agreement of every candidate and its gain over ``baseline``, with multiplicity-corrected intervals.

    ``judged`` maps a candidate to its labels on the held-out units (aligned with
    ``reference``); ``clusters`` gives each unit's cluster (its item): resampling draws whole
    items, so responses to one prompt are not counted as independent evidence. ``bootstrap``
    gives the rounds, the confidence and the seed.
    """
    from assay.stats.abtest import adjust_pvalues

    rounds, confidence, random_state = bootstrap.rounds, bootstrap.confidence, bootstrap.random_state
    if baseline not in judged:
        raise ValueError(f"baseline {baseline!r} is not among the candidates")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    ref = np.asarray(reference)
    n = ref.size
    if n == 0:
        raise ValueError("no held-out units to compare on")
    _, cluster_of = np.unique(np.asarray(clusters, dtype=str), return_inverse=True)
    n_clusters = int(cluster_of.max()) + 1
    rng = np.random.default_rng(random_state)
    draws = rng.multinomial(n_clusters, np.full(n_clusters, 1 / n_clusters), size=rounds)
    counts = np.vstack([np.ones((1, n)), draws[:, cluster_of]])  # row 0: the data itself
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    scores = {name: agreement_scores(np.asarray(v), ref, counts, metric=metric, n_categories=n_categories)
              for name, v in judged.items()}
    others = [c for c in judged if c != baseline]
    m = max(1, len(others))
    adjusted = 1 - (1 - confidence) / m
    est, ci, gain, gci, raw_p = {}, {}, {}, {}, {}
    for name, s in scores.items():
        est[name] = float(s[0])
        ci[name] = _percentile(s[1:], confidence)
        g = sign * (s - scores[baseline])
        gain[name] = float(g[0])
        gci[name] = (0.0, 0.0) if name == baseline else _percentile(g[1:], adjusted)
        if name != baseline:
            gb = g[1:][np.isfinite(g[1:])]
            raw_p[name] = float(min(1.0, 2 * min((gb <= 0).mean(), (gb >= 0).mean()))) if gb.size else float("nan")
    holm = dict(zip(others, adjust_pvalues([raw_p[o] for o in others], method="holm").tolist())) if others else {}
    return HeldOut(metric=metric, higher_is_better=sign > 0, n_units=n, n_clusters=n_clusters, estimate=est,
                   interval=ci, gain=gain, gain_interval=gci, p_value={baseline: 1.0, **holm},
                   confidence=confidence, adjusted_confidence=adjusted, rounds=rounds)
