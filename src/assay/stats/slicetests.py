"""Vectorised tests of a slice against its complement, from sufficient statistics.

Every function takes arrays (one entry per slice) of counts and sums, so a lattice of
thousands of slices over a million rows is tested in one call once its sums are known
(``assay.analysis.slices`` computes them with ``np.bincount``).

- :func:`two_proportions`: failure rates in and out; the pooled two-proportion z test
  (Agresti, *Categorical Data Analysis*, 3rd ed., sec. 2.1.3), Newcombe's hybrid score
  interval for the difference (Newcombe 1998, *Stat. Med.* 17:873, method 10) and Cohen's
  h = 2 asin(sqrt p1) - 2 asin(sqrt p2) (Cohen 1988, *Statistical Power Analysis*, ch. 6).
- :func:`welch_means`: means in and out; Welch's t test with the Welch-Satterthwaite
  degrees of freedom (Welch 1947, *Biometrika* 34:28) and interval, and Cohen's d on the
  pooled standard deviation (Cohen 1988, ch. 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["SliceTest", "two_proportions", "welch_means", "wilson_bounds"]


@dataclass(frozen=True)
class SliceTest:
    """Per slice: the value in and out, their difference with its interval, an effect size and a p-value."""

    value_in: np.ndarray
    value_out: np.ndarray
    diff: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    effect: np.ndarray
    """Cohen's h (proportions) or d (means)."""
    pvalue: np.ndarray
    """Two-sided; NaN where the test is undefined (a side with no rows, or no variance on either side)."""


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_bounds(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval for k/n, elementwise (Wilson 1927, *JASA* 22:209).

    >>> lo, hi = wilson_bounds(np.array([81]), np.array([263]), 1.959963984540054)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.2553, 0.3662)
    """
    k, n = np.asarray(k, float), np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def two_proportions(k_in, n_in, k_out, n_out, *, confidence: float = 0.95) -> SliceTest:
    """Rates k/n in and out of each slice, compared (see the module docstring for the sources).

    Newcombe's method 10 on his example 1 (56/70 against 48/80): difference 0.2, interval
    [0.0524, 0.3339].

    >>> t = two_proportions([56], [70], [48], [80])
    >>> round(float(t.diff[0]), 4), round(float(t.ci_low[0]), 4), round(float(t.ci_high[0]), 4)
    (0.2, 0.0524, 0.3339)
    """
    z = _z(confidence)
    k1, n1, k2, n2 = (np.asarray(x, float) for x in (k_in, n_in, k_out, n_out))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = k1 / n1, k2 / n2
        diff = p1 - p2
        l1, u1 = wilson_bounds(k1, n1, z)
        l2, u2 = wilson_bounds(k2, n2, z)
        lo = diff - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        hi = diff + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
        pooled = (k1 + k2) / (n1 + n2)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        zs = diff / se
        p = 2 * stats.norm.sf(np.abs(zs))
        h = 2 * np.arcsin(np.sqrt(p1)) - 2 * np.arcsin(np.sqrt(p2))
    p = np.where(se > 0, p, np.where((n1 > 0) & (n2 > 0), 1.0, np.nan))  # no failure or no success at all: no evidence
    return SliceTest(p1, p2, diff, lo, hi, h, p)


def welch_means(n_in, sum_in, sumsq_in, n_out, sum_out, sumsq_out, *, confidence: float = 0.95) -> SliceTest:
    """Means in and out of each slice from counts, sums and sums of squares: Welch's t test.

    Sums are best taken around a centre near the mean (the caller's), so the variances do not
    lose their digits. A side needs two rows for a variance.

    >>> a, b = np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 6, 8, 10])
    >>> t = welch_means([4], [a.sum()], [(a * a).sum()], [5], [b.sum()], [(b * b).sum()])
    >>> ref = stats.ttest_ind(a, b, equal_var=False)
    >>> bool(np.isclose(t.pvalue[0], ref.pvalue)), float(t.diff[0])
    (True, -3.5)
    """
    n1, s1, q1, n2, s2, q2 = (np.asarray(x, float) for x in (n_in, sum_in, sumsq_in, n_out, sum_out, sumsq_out))
    with np.errstate(divide="ignore", invalid="ignore"):
        m1, m2 = s1 / n1, s2 / n2
        v1 = np.maximum(q1 - n1 * m1 * m1, 0) / (n1 - 1)
        v2 = np.maximum(q2 - n2 * m2 * m2, 0) / (n2 - 1)
        a, b = v1 / n1, v2 / n2
        se = np.sqrt(a + b)
        df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
        diff = m1 - m2
        t = diff / se
        p = 2 * stats.t.sf(np.abs(t), df)
        half = stats.t.ppf(0.5 + confidence / 2, df) * se
        pooled_sd = np.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
        d = diff / pooled_sd
    _z(confidence)
    ok = (n1 >= 2) & (n2 >= 2)
    p = np.where(ok & (se > 0), p, np.where(ok, np.where(diff == 0, 1.0, 0.0), np.nan))  # constant sides
    return SliceTest(m1, m2, diff, diff - half, diff + half, d, p)
