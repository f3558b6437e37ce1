"""McNemar's test on paired pass/fail outcomes, and p-value adjustment across tests.

Private; the public names are re-exported by :mod:`assay.stats.abtest`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test on paired pass/fail outcomes.

    ``a_only``: items A passed and B failed; ``b_only``: the reverse. ``difference`` is
    B's pass rate minus A's, (b_only - a_only) / n, with a Wald interval
    (Agresti 2013, Categorical Data Analysis, 3rd ed., Sec. 11.1.1).
    """

    statistic: float
    pvalue: float
    exact: bool
    n: int
    a_only: int
    b_only: int
    difference: float
    ci_low: float
    ci_high: float
    table: np.ndarray


def mcnemar(a, b=None, *, exact: bool = True, correction: bool = True, confidence: float = 0.95) -> McNemarResult:
    """McNemar's test for pass/fail outcomes of A and B on the same items.

    McNemar (1947), "Note on the sampling error of the difference between correlated
    proportions or percentages", Psychometrika 12:153-157.

    ``a`` and ``b`` are per-item outcomes (truthy = pass); or pass a 2x2 table as ``a``
    (rows: A pass, A fail; columns: B pass, B fail) and leave ``b`` out. Exact: the
    two-sided binomial test of the discordant pairs, p = min(1, 2 P(X <= min(n10, n01))),
    X ~ Bin(n10 + n01, 1/2), statistic min(n10, n01). Otherwise the chi-square statistic
    (|n10 - n01| - c)^2 / (n10 + n01) on one degree of freedom, c = 1 with ``correction``
    (Edwards 1948) or 0.

    Worked example (Agresti 2013, Table 11.1: approval of the Prime Minister in two
    surveys of the same 1600 people, discordant 150 and 86; the book gives z^2 = 17.36):

    >>> r = mcnemar([[794, 150], [86, 570]], exact=False, correction=False)
    >>> round(r.statistic, 2), r.pvalue < 0.001
    (17.36, True)

    Exact worked example (Fagerland, Lydersen & Laake 2013, BMC Med Res Methodol 13:91,
    Table 1: airway hyper-responsiveness of 21 patients before and after stem cell
    transplantation, discordant 1 and 7; the exact conditional p-value is 18/256):

    >>> mcnemar([[1, 1], [7, 12]]).pvalue
    0.0703125

    The one McNemar test of assay: red-team comparisons of two models or attacks use it too.
    """
    if b is None:
        table = np.asarray(a, dtype=float)
        if table.shape != (2, 2) or np.any(table < 0) or np.any(table != np.round(table)):
            raise ValueError("a 2x2 table of non-negative counts is needed when b is not given")
    else:
        a_ = np.asarray(a).astype(bool)
        b_ = np.asarray(b).astype(bool)
        if a_.shape != b_.shape or a_.ndim != 1:
            raise ValueError("a and b must be one-dimensional and of the same length")
        table = np.array(
            [[np.sum(a_ & b_), np.sum(a_ & ~b_)], [np.sum(~a_ & b_), np.sum(~a_ & ~b_)]], dtype=float
        )
    n = int(table.sum())
    if n == 0:
        raise ValueError("no items")
    a_only, b_only = int(table[0, 1]), int(table[1, 0])
    disc = a_only + b_only
    if disc == 0:
        stat, p = (0.0, 1.0)
    elif exact:
        stat = float(min(a_only, b_only))
        p = float(min(1.0, 2 * stats.binom.cdf(stat, disc, 0.5)))
    else:
        stat = float((abs(b_only - a_only) - (1.0 if correction else 0.0)) ** 2 / disc)
        if correction and abs(b_only - a_only) < 1:
            stat = 0.0
        p = float(stats.chi2.sf(stat, 1))
    diff = (b_only - a_only) / n
    se = math.sqrt(max(disc - (b_only - a_only) ** 2 / n, 0.0)) / n
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    return McNemarResult(
        statistic=stat, pvalue=p, exact=exact, n=n, a_only=a_only, b_only=b_only, difference=diff,
        ci_low=diff - z * se, ci_high=diff + z * se, table=table.astype(int),
    )


def adjust_pvalues(pvalues, *, method: str = "holm") -> np.ndarray:
    """Adjust p-values for multiple comparisons (e.g. across rubric dimensions).

    - ``"holm"``: Holm (1979) step-down, controls the family-wise error rate:
      p_(i) -> max_{j <= i} min(1, (m - j + 1) p_(j)).
    - ``"bonferroni"``: min(1, m p).
    - ``"fdr_bh"``: Benjamini & Hochberg (1995) step-up, controls the false discovery
      rate: p_(i) -> min_{j >= i} min(1, m p_(j) / j).
    - ``"fdr_by"``: Benjamini & Yekutieli (2001), BH times sum_{k<=m} 1/k, for any dependence.

    NaN p-values stay NaN and do not count towards m. Compare the adjusted values with alpha.

    >>> adjust_pvalues([0.01, 0.04, 0.03], method="holm").round(4).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_pvalues([0.01, 0.04, 0.03], method="fdr_bh").round(4).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError("pvalues must be one-dimensional")
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    if np.any((q < 0) | (q > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    m = len(q)
    if m == 0:
        return out
    order = np.argsort(q, kind="mergesort")
    sorted_p = q[order]
    rank = np.arange(1, m + 1)
    if method == "holm":
        adj = np.maximum.accumulate(np.minimum(1.0, (m - rank + 1) * sorted_p))
    elif method == "bonferroni":
        adj = np.minimum(1.0, m * sorted_p)
    elif method in ("fdr_bh", "fdr_by"):
        factor = 1.0 if method == "fdr_bh" else float(np.sum(1.0 / rank))
        adj = np.minimum.accumulate((m * factor * sorted_p / rank)[::-1])[::-1]
        adj = np.minimum(adj, 1.0)
    else:
        raise ValueError("method must be 'holm', 'bonferroni', 'fdr_bh' or 'fdr_by'")
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out
