"""Mergeable summaries of paired scores: what :func:`assay.stats.abtest.paired_test` needs, by shard.

Public names are re-exported by :mod:`assay.stats.abtest`.

What the paired test needs, by method (read off :func:`~assay.stats.abtest.paired_test`):

- ``"t"`` without clusters: n, sum a, sum b, sum d and sum d^2 (:class:`PairedMoments`);
  with clusters, also per cluster the size and sum of d (the CR1 standard error).
- ``"bootstrap"`` and ``"permutation"``: the per-cluster (or, without clusters, per-unit)
  sums of d and sizes, *in a fixed order*: the seeded draws are indexed by position.
- ``"wilcoxon"``: every difference (its ranks).
- ``"sign"``: per unit whether b > a, b < a or a tie, and per-cluster sums of those scores.

So the exact summary is the per-unit table (:class:`PairedSummary`: unit key, a, b, and the
unit's cluster), kept sorted by key. Shards of disjoint units merge by concatenation and
sorting, and every method computed from the merge equals, to the last bit, the same method on
the raw arrays in key order. :class:`PairedMoments` are the few sums enough for the t-test's
estimate, standard error and effect size without clusters: they add up, equal to rounding
(exactly when the scores are small integers or halves), and take no memory per unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["PairedMoments", "PairedSummary", "merge_paired", "summarise_paired"]


@dataclass(frozen=True)
class PairedMoments:
    """Sums over paired units of b - a: enough for the unclustered t-test; add two with ``+``."""

    n: int = 0
    sum_a: float = 0.0
    sum_b: float = 0.0
    sum_d: float = 0.0
    sum_d2: float = 0.0

    def __add__(self, other: PairedMoments) -> PairedMoments:
        return PairedMoments(self.n + other.n, self.sum_a + other.sum_a, self.sum_b + other.sum_b,
                             self.sum_d + other.sum_d, self.sum_d2 + other.sum_d2)

    def __radd__(self, other: object) -> PairedMoments:
        if isinstance(other, int) and other == 0:  # sum(shards)
            return self
        return NotImplemented

    @property
    def mean(self) -> float:
        """mean(b - a)."""
        if self.n == 0:
            raise ValueError("no paired units")
        return self.sum_d / self.n

    @property
    def variance(self) -> float:
        """The sample variance of d (ddof 1), from the sums: (sum d^2 - n mean^2) / (n - 1)."""
        if self.n < 2:
            raise ValueError("need at least two paired items")
        return max(self.sum_d2 - self.n * self.mean**2, 0.0) / (self.n - 1)

    @property
    def se(self) -> float:
        """The paired t-test's standard error sd(d) / sqrt(n)."""
        return math.sqrt(self.variance / self.n)

    def t_test(self, *, confidence: float = 0.95):  # noqa: ANN201 - PairedTestResult, imported late
        """The paired t-test (unclustered) from the sums; equals ``paired_test(a, b)`` to rounding."""
        from scipy import stats

        from assay.stats.abtest import PairedTestResult

        if not 0 < confidence < 1:
            raise ValueError("confidence must be between 0 and 1")
        mean, se, df = self.mean, self.se, float(self.n - 1)
        sd = se * math.sqrt(self.n)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = mean / se if se > 0 else (math.nan if mean == 0 else math.copysign(math.inf, mean))
        p = float(2 * stats.t.sf(abs(t), df)) if np.isfinite(t) else (1.0 if np.isnan(t) else 0.0)
        crit = stats.t.ppf(1 - (1 - confidence) / 2, df)
        effect = mean / sd if sd > 0 else (math.nan if mean == 0 else math.copysign(math.inf, mean))
        return PairedTestResult(
            method="t", estimand="mean_difference", n=self.n, estimate=mean, se=se, ci_low=mean - crit * se,
            ci_high=mean + crit * se, confidence=confidence, pvalue=p, statistic=float(t), effect_size=effect,
            naive_se=se, df=df, mean_a=self.sum_a / self.n, mean_b=self.sum_b / self.n)


@dataclass(frozen=True, eq=False)
class PairedSummary:
    """Paired scores, one row per unit sorted by its key; shards merge with ``+`` (:func:`merge_paired`).

    ``keys`` (strings, unique, sorted) name the units; ``a`` and ``b`` are the two models'
    scores on each; ``clusters`` the cluster key of each unit, or None when no unit has one
    (then each unit is its own cluster: when merged with a summary that has clusters, such
    units get their own key as cluster key).

    What merges exactly: summaries of disjoint units (a unit in two shards is refused: shard
    by something that keeps a unit's scores together, such as its dataset). Every result of
    :meth:`test` on the merge is bit-for-bit the result on the raw arrays in key order.
    """

    keys: np.ndarray
    a: np.ndarray
    b: np.ndarray
    clusters: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.keys)

    def moments(self) -> PairedMoments:
        """The sums over units (:class:`PairedMoments`)."""
        d = self.b - self.a
        return PairedMoments(self.n, float(self.a.sum()), float(self.b.sum()), float(d.sum()), float(d @ d))

    def cluster_keys(self) -> np.ndarray | None:
        """The clusters the test should use: None when there are none or fewer than two distinct."""
        if self.clusters is None or len(np.unique(self.clusters)) < 2:
            return None
        return self.clusters

    def test(self, *, method: str = "t", clustered: bool = True, confidence: float = 0.95,
             random_state: int | np.random.Generator | None = None, n_resamples: int = 10_000):  # noqa: ANN201
        """:func:`assay.stats.abtest.paired_test` on the units in key order (clusters if ``clustered``)."""
        from assay.stats.abtest import paired_test

        return paired_test(self.a, self.b, method=method, clusters=self.cluster_keys() if clustered else None,
                           confidence=confidence, random_state=random_state, n_resamples=n_resamples)

    def same_as(self, other: PairedSummary) -> bool:
        """Whether both hold the same units, scores and clusters (then every test gives the same result)."""
        def eq(x, y) -> bool:  # noqa: ANN001
            return (x is None and y is None) or (x is not None and y is not None and x.shape == y.shape
                                                 and bool(np.all(x == y)))
        return (eq(self.keys, other.keys) and eq(self.a, other.a) and eq(self.b, other.b)
                and eq(self.clusters, other.clusters))

    def __add__(self, other: PairedSummary) -> PairedSummary:
        return merge_paired(self, other)

    def __radd__(self, other: object) -> PairedSummary:
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented


def _strings(values) -> np.ndarray:  # noqa: ANN001
    """Object array of str (not numpy's fixed-width unicode: a prompt-text key can be long)."""
    v = np.asarray(values, dtype=object)
    if v.ndim != 1:
        return v
    return np.fromiter((x if isinstance(x, str) else str(x) for x in v), dtype=object, count=len(v))


def summarise_paired(keys, a, b, *, clusters=None) -> PairedSummary:  # noqa: ANN001 - array-likes
    """The :class:`PairedSummary` of paired scores: ``a[i]``, ``b[i]`` on unit ``keys[i]``, sorted by key.

    ``clusters`` gives each unit's cluster key (None: no clusters). Keys and cluster keys
    are compared as strings. Scores must be finite (drop units missing either first).

    >>> s = summarise_paired(["q2", "q1"], [1.0, 2.0], [2.0, 4.0])
    >>> s.keys.tolist(), (s.b - s.a).tolist()
    (['q1', 'q2'], [2.0, 1.0])
    >>> (summarise_paired(["q1"], [2.0], [4.0]) + summarise_paired(["q2"], [1.0], [2.0])).same_as(s)
    True
    """
    k = _strings(keys)
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if k.ndim != 1 or a.shape != k.shape or b.shape != k.shape:
        raise ValueError("keys, a and b must be one-dimensional and of the same length (one score per unit)")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("scores must be finite; drop units missing a score from either model first")
    c = None
    if clusters is not None:
        c = _strings(clusters)
        if c.shape != k.shape:
            raise ValueError("clusters must give one key per unit")
    order = np.argsort(k, kind="stable")
    k = k[order]
    if len(k) > 1 and (k[1:] == k[:-1]).any():
        dup = k[1:][k[1:] == k[:-1]][0]
        raise ValueError(f"unit {dup!r} appears twice: give one pair of scores per unit")
    return PairedSummary(k, a[order], b[order], None if c is None else c[order])


def merge_paired(*parts: PairedSummary) -> PairedSummary:
    """The summary of the units of every part (disjoint units; a unit in two parts is a ValueError).

    The merge is the summary of the concatenated units: rows sorted by key, and when some part
    has clusters, the units of parts without them are their own clusters (their keys).
    """
    if not parts:
        raise ValueError("nothing to merge")
    if len(parts) == 1:
        return parts[0]
    keys = np.concatenate([p.keys for p in parts])
    clusters = None
    if any(p.clusters is not None for p in parts):
        clusters = np.concatenate([p.keys if p.clusters is None else p.clusters for p in parts])
    try:
        return summarise_paired(keys, np.concatenate([p.a for p in parts]), np.concatenate([p.b for p in parts]),
                                clusters=clusters)
    except ValueError as e:
        if "appears twice" in str(e):
            raise ValueError(f"{e.args[0].split(':')[0]} is in two shards: shard by a key that keeps a unit's "
                             "scores together (its dataset, its item)") from None
        raise
