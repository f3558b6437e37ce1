"""Non-inferiority: is model B no worse than model A by more than a margin, on the same items?

The one-sided paired test of H0: mean(b - a) <= -margin against H1: mean(b - a) > -margin
(Wellek 2010, "Testing Statistical Hypotheses of Equivalence and Noninferiority", 2nd ed.,
Sec. 5.3; the FDA's 2016 guidance "Non-Inferiority Clinical Trials to Establish
Effectiveness", Sec. IV). Rejecting H0 shows B non-inferior; it is the same decision as the
one-sided (1 - alpha) lower confidence bound of mean(b - a) lying above -margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from assay.stats.abtest import _clustered_se, _prepare

__all__ = ["NonInferiorityResult", "non_inferiority_test"]


@dataclass(frozen=True)
class NonInferiorityResult:
    """B against A with a non-inferiority margin: ``estimate`` is mean(b - a), ``pvalue`` one-sided."""

    n: int
    margin: float
    estimate: float
    se: float
    df: float
    statistic: float
    """t = (estimate + margin) / se."""
    pvalue: float
    """P(T_df >= t): small when B is shown no worse than A by more than the margin."""
    lower: float
    """The one-sided (1 - alpha) lower confidence bound of mean(b - a)."""
    alpha: float
    mean_a: float
    mean_b: float
    n_clusters: int | None = None

    @property
    def non_inferior(self) -> bool:
        """Whether H0 is rejected at ``alpha`` (before any adjustment for several dimensions)."""
        return self.pvalue < self.alpha


def non_inferiority_test(a, b, *, margin: float, alpha: float = 0.05, clusters=None) -> NonInferiorityResult:
    """One-sided paired t-test that B is no worse than A by more than ``margin`` (see the module's docstring).

    ``a[i]`` and ``b[i]`` are the two models' scores on item i, higher better (negate both
    for a lower-is-better score). ``clusters`` makes the standard error cluster-robust
    (Miller 2024, "Adding Error Bars to Evals", eq. 4; C - 1 degrees of freedom), as in
    :func:`assay.stats.abtest.paired_test`.

    Worked example: Student's sleep data (Cushny & Peebles 1905), the second drug against the
    first with a margin of 1 hour (the paired t-test of the differences against mu = -1,
    one-sided: ``scipy.stats.ttest_1samp(b - a, -1, alternative="greater")`` gives t = 6.6331,
    df = 9, p = 4.779e-05):

    >>> a = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> b = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> r = non_inferiority_test(a, b, margin=1.0)
    >>> round(r.statistic, 4), r.df, float(f"{r.pvalue:.4g}"), round(r.lower, 4), r.non_inferior
    (6.6331, 9.0, 4.779e-05, 0.867, True)
    """
    if not margin >= 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be a finite number >= 0, got {margin}")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    a, b, codes, n_clusters = _prepare(a, b, clusters)
    d = b - a
    n = len(d)
    mean = float(d.mean())
    if codes is None:
        se, df = float(d.std(ddof=1)) / math.sqrt(n), float(n - 1)
    else:
        se, df = _clustered_se(d, codes, n_clusters), float(n_clusters - 1)
    if se > 0:
        t = (mean + margin) / se
        p = float(stats.t.sf(t, df))
    else:  # every item shows the same difference: it is either above -margin or not
        t = math.copysign(math.inf, mean + margin) if mean + margin != 0 else 0.0
        p = 0.0 if mean + margin > 0 else 1.0
    lower = mean - float(stats.t.ppf(1 - alpha, df)) * se
    return NonInferiorityResult(n=n, margin=float(margin), estimate=mean, se=se, df=df, statistic=float(t), pvalue=p,
                                lower=lower, alpha=alpha, mean_a=float(np.mean(a)), mean_b=float(np.mean(b)),
                                n_clusters=n_clusters)
