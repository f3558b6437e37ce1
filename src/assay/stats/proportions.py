"""Proportions: a rate with its Wilson score interval, its exact (Clopper-Pearson) interval, and
the exact interval for answers clustered by prompt (Korn and Graubard's effective sample size).

Used for attack success rates, refusal rates, probe fix rates and any other "k of n" figure. Whether two models
(or two attacks) differ on the same behaviours is McNemar's test, :func:`assay.stats.abtest.mcnemar`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from assay.stats._intervals import check_confidence


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``n`` with the Wilson score interval."""

    successes: int
    n: int
    rate: float
    low: float
    high: float
    confidence: float
    method: str = "wilson"


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Proportion:
    """The proportion ``successes / n`` with its Wilson score interval.

    Wilson (1927), "Probable inference, the law of succession, and statistical inference",
    JASA 22:209-212; recommended over the Wald interval by Agresti & Coull (1998), "Approximate
    is better than 'exact' for interval estimation of binomial proportions", The American
    Statistician 52:119-126. With z the normal quantile, p = k/n::

        centre = (p + z^2 / 2n) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)

    Worked example (Newcombe 1998, Statistics in Medicine 17:857-872, Table II, method 3):
    81 of 263 gives 0.2553 to 0.3662.

    >>> p = wilson_interval(81, 263)
    >>> round(p.rate, 4), round(p.low, 4), round(p.high, 4)
    (0.308, 0.2553, 0.3662)

    ``n == 0`` has no rate: ValueError (the caller decides what an empty cell shows).
    """
    check_confidence(confidence)
    if n <= 0:
        raise ValueError("a proportion needs n > 0")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in 0..n, got {successes} of {n}")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # at k = 0 or k = n one limit is exactly 0 or 1; rounding must not move it
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Proportion(int(successes), int(n), p, low, high, confidence)


def _exact_limits(x: float, n: float, confidence: float) -> tuple[float, float]:
    """Clopper-Pearson limits from beta quantiles; ``x`` and ``n`` may be fractional (effective counts)."""
    alpha = 1 - confidence
    low = 0.0 if x <= 0 else float(stats.beta.ppf(alpha / 2, x, n - x + 1))
    high = 1.0 if x >= n else float(stats.beta.ppf(1 - alpha / 2, x + 1, n - x))
    return low, high


def exact_interval(successes: int, n: int, *, confidence: float = 0.95) -> Proportion:
    """The proportion ``successes / n`` with its exact (Clopper-Pearson) interval.

    Clopper and Pearson (1934), "The use of confidence or fiducial limits illustrated in the
    case of the binomial", Biometrika 26:404-413: the limits are the beta quantiles
    ``B(a/2; k, n-k+1)`` and ``B(1-a/2; k+1, n-k)``. Its coverage is never below the level
    (Wilson's dips below it at small p for some n; Brown, Cai and DasGupta 2001, Statistical
    Science 16:101-133), at the price of width.

    Worked example (Newcombe 1998, Statistics in Medicine 17:857-872, Table II, method 5):
    81 of 263 gives 0.2527 to 0.3676; 0 of 20 gives 0 to 0.1684.

    >>> p = exact_interval(81, 263)
    >>> round(p.low, 4), round(p.high, 4)
    (0.2527, 0.3676)
    """
    check_confidence(confidence)
    if n <= 0:
        raise ValueError("a proportion needs n > 0")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in 0..n, got {successes} of {n}")
    low, high = _exact_limits(successes, n, confidence)
    return Proportion(int(successes), int(n), successes / n, low, high, confidence, "clopper-pearson")


def clustered_exact_interval(counts: Sequence[tuple[int, int]], *, confidence: float = 0.95) -> Proportion:
    """A pooled rate over clusters (``(successes, n)`` per prompt) with an exact interval that allows
    for answers of one prompt being alike.

    Korn and Graubard (1998), "Confidence intervals for proportions with small expected number
    of positive counts estimated from survey data", Survey Methodology 24:193-201: with ``m``
    clusters, pooled rate ``p = sum k_i / sum n_i`` and its cluster-robust (ratio-estimator)
    variance ``v = m / (m - 1) * sum (k_i - p n_i)^2 / (sum n_i)^2``, the effective sample size is
    ``n* = p (1 - p) / v``, shrunk by the degrees-of-freedom factor ``(z / t_{m-1})^2``, and the
    interval is Clopper-Pearson's at ``x* = p n*`` of ``n*``. ``n*`` is capped at the number of
    answers (a design effect under 1 is not credited); when ``p`` is 0 or 1 (``v`` = 0) the
    number of answers is used. With one answer per cluster the answers are independent by
    design and the interval is exactly :func:`exact_interval`'s.

    >>> p = clustered_exact_interval([(1, 1)] * 81 + [(0, 1)] * 182)
    >>> round(p.low, 4), round(p.high, 4), p.method
    (0.2527, 0.3676, 'clopper-pearson')
    >>> q = clustered_exact_interval([(5, 5)] * 10 + [(0, 5)] * 30)  # 40 prompts, all-or-nothing
    >>> q.rate, q.n, round(q.low, 3), round(q.high, 3)
    (0.25, 200, 0.122, 0.42)
    """
    check_confidence(confidence)
    pairs = [(int(k), int(n)) for k, n in counts]
    for k, n in pairs:
        if n <= 0 or not 0 <= k <= n:
            raise ValueError(f"each cluster needs n > 0 and 0 <= successes <= n, got {k} of {n}")
    total, k_all = sum(n for _, n in pairs), sum(k for k, _ in pairs)
    if total == 0:
        raise ValueError("a proportion needs n > 0")
    if all(n == 1 for _, n in pairs):
        return exact_interval(k_all, total, confidence=confidence)
    p, m = k_all / total, len(pairs)
    n_eff = float(total)
    if 0 < p < 1 and m > 1:
        v = m / (m - 1) * sum((k - p * n) ** 2 for k, n in pairs) / total**2
        if v > 0:
            z = float(stats.norm.ppf(0.5 + confidence / 2))
            t = float(stats.t.ppf(0.5 + confidence / 2, m - 1))
            n_eff = min(float(total), p * (1 - p) / v * (z / t) ** 2)
    low, high = _exact_limits(p * n_eff, n_eff, confidence)
    return Proportion(k_all, total, p, low, high, confidence, "korn-graubard")


__all__ = ["Proportion", "clustered_exact_interval", "exact_interval", "wilson_interval"]
