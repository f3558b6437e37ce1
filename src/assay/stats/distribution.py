"""Two samples compared feature by feature: chi-square or G for categories, Kolmogorov-Smirnov for numbers.

- :func:`categorical_test`: the 2 x K contingency table of two samples' labels, Pearson's
  chi-square test of homogeneity (Pearson 1900) or the G-test (likelihood ratio, Sokal and
  Rohlf, *Biometry*, 3rd ed., 1995, section 17.7), both as ``scipy.stats.chi2_contingency``
  computes them (no continuity correction), with the Jensen-Shannon divergence of the two
  label distributions as the effect size.
- :func:`numeric_test`: the two-sample Kolmogorov-Smirnov test (Smirnov 1948), as
  ``scipy.stats.ks_2samp`` computes it (exact p-value for small samples, asymptotic
  otherwise); its statistic D, the largest gap between the two empirical CDFs, is the effect size.
- :func:`jensen_shannon`: ``JSD(P, Q) = H(M) - (H(P) + H(Q)) / 2`` with ``M = (P + Q) / 2``,
  in bits, so it lies in [0, 1] (Lin 1991, "Divergence measures based on the Shannon
  entropy", IEEE Trans. Inf. Theory 37(1), eq. 4.1).

>>> round(jensen_shannon([1, 0], [0, 1]), 6), round(jensen_shannon([0.5, 0.5], [0.5, 0.5]), 6)
(1.0, 0.0)
>>> t = categorical_test(["a"] * 30 + ["b"] * 10, ["a"] * 10 + ["b"] * 30)
>>> round(t.statistic, 4), t.dof
(20.0, 1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = ["CategoricalTest", "NumericTest", "categorical_test", "jensen_shannon", "numeric_test"]


def jensen_shannon(p: Sequence[float], q: Sequence[float]) -> float:
    """The Jensen-Shannon divergence of two distributions over the same categories, in bits (0 to 1).

    ``p`` and ``q`` are counts or shares (each is normalised); ValueError when either sums to 0.
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError("p and q must be one-dimensional and of the same length")
    if p.sum() <= 0 or q.sum() <= 0 or (p < 0).any() or (q < 0).any():
        raise ValueError("p and q must be non-negative with a positive sum")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def h(x: np.ndarray) -> float:
        x = x[x > 0]
        return float(-(x * np.log2(x)).sum())

    return max(0.0, h(m) - (h(p) + h(q)) / 2)


@dataclass(frozen=True)
class CategoricalTest:
    """Two samples' labels compared: the 2 x K table, the test and the Jensen-Shannon divergence."""

    categories: list[str]
    counts_a: list[int]
    counts_b: list[int]
    statistic: float
    """Pearson's chi-square, or G for ``method="g"``; NaN with fewer than two categories."""
    pvalue: float
    dof: int
    jsd: float
    """Jensen-Shannon divergence of the two label distributions, in bits."""
    method: str
    small_expected: float
    """Share of the table's expected counts under 5: above 0.2 the chi-square approximation is
    doubtful (Cochran 1954, "Some methods for strengthening the common chi-square tests")."""
    note: str | None = None


def categorical_test(a: Sequence[object], b: Sequence[object], *, method: str = "chi2") -> CategoricalTest:
    """Are the labels ``a`` and ``b`` drawn from one distribution? Chi-square (``"chi2"``) or G (``"g"``).

    Categories are the union of both samples' labels, in sorted order of their text. With one
    category only the test is undefined: statistic and p-value are NaN and ``note`` says why.
    """
    if method not in ("chi2", "g"):
        raise ValueError(f"method must be 'chi2' or 'g', not {method!r}")
    if not len(a) or not len(b):
        raise ValueError("both samples need at least one label")
    ca, cb = Counter(map(str, a)), Counter(map(str, b))
    cats = sorted(set(ca) | set(cb))
    table = np.array([[ca.get(c, 0) for c in cats], [cb.get(c, 0) for c in cats]], dtype=float)
    jsd = jensen_shannon(table[0], table[1])
    if len(cats) < 2:
        return CategoricalTest(cats, table[0].astype(int).tolist(), table[1].astype(int).tolist(), float("nan"),
                               float("nan"), 0, jsd, method, 0.0, "one category only: nothing to test")
    res = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood" if method == "g" else None)
    small = float((res.expected_freq < 5).mean())
    return CategoricalTest(cats, table[0].astype(int).tolist(), table[1].astype(int).tolist(), float(res.statistic),
                           float(res.pvalue), int(res.dof), jsd, method, small,
                           "over 20% of expected counts are under 5: the p-value is approximate" if small > 0.2 else None)


@dataclass(frozen=True)
class NumericTest:
    """Two samples of numbers compared: the Kolmogorov-Smirnov test and each sample's quantiles."""

    statistic: float
    """D, the largest gap between the two empirical distribution functions (0 to 1)."""
    pvalue: float
    n_a: int
    n_b: int
    quantiles_a: dict[str, float] = field(default_factory=dict)
    quantiles_b: dict[str, float] = field(default_factory=dict)


QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def quantiles(x: Sequence[float], qs: Sequence[float] = QUANTILES) -> dict[str, float]:
    """``x``'s mean and quantiles (linear interpolation), keyed ``mean``, ``p5``, ``p25``...; empty for no data."""
    v = np.asarray(x, dtype=float)
    if not len(v):
        return {}
    out = {"mean": float(v.mean())}
    out.update({f"p{round(q * 100):d}": float(val) for q, val in zip(qs, np.quantile(v, qs))})
    return out


def numeric_test(a: Sequence[float], b: Sequence[float]) -> NumericTest:
    """Are the numbers ``a`` and ``b`` drawn from one distribution? The two-sample Kolmogorov-Smirnov test."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not len(x) or not len(y):
        raise ValueError("both samples need at least one value")
    res = stats.ks_2samp(x, y)
    return NumericTest(float(res.statistic), float(res.pvalue), len(x), len(y), quantiles(x), quantiles(y))
