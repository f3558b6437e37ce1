"""Proportions: a rate with its Wilson score interval, and McNemar's exact test on paired outcomes.

Used for attack success rates, refusal rates and any other "k of n" figure, and for asking
whether two models (or two attacks) differ on the same behaviours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from assay.stats._abtest_tables import mcnemar
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


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test on paired binary outcomes, summed up by its discordant counts.

    ``b``: pairs where only the first succeeded; ``c``: only the second. ``difference`` is
    the difference of the two success rates over all ``n`` pairs, (b - c) / n. The test is
    :func:`assay.stats.abtest.mcnemar` (exact), whose result has the full table, the
    statistic and an interval for the difference.
    """

    b: int
    c: int
    n: int
    difference: float
    p_value: float
    method: str = "exact-binomial"


def mcnemar_exact(b: int, c: int, *, n: int | None = None) -> McNemar:
    """McNemar's exact (conditional binomial) test from the discordant counts ``b`` and ``c``.

    McNemar (1947), "Note on the sampling error of the difference between correlated
    proportions or percentages", Psychometrika 12:153-157; the exact form conditions on the
    b + c discordant pairs, b ~ Binomial(b + c, 1/2) under no difference, and the two-sided
    p-value is min(1, 2 P(X <= min(b, c))).

    Worked example (Fagerland, Lydersen & Laake 2013, BMC Med Res Methodol 13:91, Table 1:
    airway hyper-responsiveness before and after stem cell transplantation): b = 1, c = 7
    gives the exact conditional p-value 0.0703 (= 18/256).

    >>> mcnemar_exact(1, 7).p_value
    0.0703125

    ``n`` (all pairs, concordant ones included) only scales ``difference``; without it the
    difference is over the discordant pairs. No discordant pair: p-value 1.
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
    total = b + c
    n = total if n is None else int(n)
    if n < total:
        raise ValueError(f"n ({n}) cannot be smaller than b + c ({total})")
    # concordant pairs do not change the exact test; they only make the table's total n
    p = 1.0 if total == 0 else mcnemar([[n - total, b], [c, 0]], exact=True).pvalue
    return McNemar(int(b), int(c), n, (b - c) / n if n else math.nan, float(p))


def mcnemar_paired(first: Sequence[bool], second: Sequence[bool]) -> McNemar:
    """McNemar's exact test on two aligned sequences of outcomes (one pair per unit).

    >>> mcnemar_paired([1, 1, 0, 0, 1], [0, 1, 0, 1, 0]).b
    2
    """
    a, s = np.asarray(first, dtype=bool), np.asarray(second, dtype=bool)
    if a.shape != s.shape or a.ndim != 1:
        raise ValueError("the two outcome sequences must be 1-d and of the same length")
    if a.size == 0:
        raise ValueError("no pairs to compare")
    return mcnemar_exact(int((a & ~s).sum()), int((~a & s).sum()), n=int(a.size))


__all__ = ["McNemar", "Proportion", "mcnemar_exact", "mcnemar_paired", "wilson_interval"]
