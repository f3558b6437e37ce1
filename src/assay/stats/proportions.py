"""Proportions: a rate with its Wilson score interval.

Used for attack success rates, refusal rates and any other "k of n" figure. Whether two models
(or two attacks) differ on the same behaviours is McNemar's test, :func:`assay.stats.abtest.mcnemar`.
"""

from __future__ import annotations

import math
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


__all__ = ["Proportion", "wilson_interval"]
