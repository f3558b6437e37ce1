"""Paired A/B tests: is model B better than model A on the same items?

- :func:`paired_test`: mean difference b - a with its (clustered) standard error,
  interval, p-value and effect size, by t, paired bootstrap, sign-flip permutation,
  Wilcoxon signed-rank, or the sign test for preferences with ties.
- :func:`mcnemar`: pass/fail outcomes on the same items.
- :func:`adjust_pvalues`: Holm or Benjamini-Hochberg across dimensions.
- :func:`verdict`: the result in plain words.

Mergeable paired scores (per shard, merged exactly) live in :mod:`assay.stats._paired`:
:func:`summarise_paired`, :func:`merge_paired`, :class:`PairedSummary`, :class:`PairedMoments`.

McNemar and the p-value adjustments live in :mod:`assay.stats._abtest_tables`.
Power planning lives in :mod:`assay.stats.power`, sequential monitoring in
:mod:`assay.stats.sequential`; their public names are re-exported here.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from assay.stats._abtest_tables import McNemarResult, adjust_pvalues, mcnemar
from assay.stats._paired import PairedMoments, PairedSummary, merge_paired, summarise_paired
from assay.stats.power import (
    VarianceComponents,
    estimate_variance_components,
    minimum_detectable_effect,
    sample_size,
)
from assay.stats.sequential import SequentialMonitor, SequentialResult, msprt

__all__ = [
    "McNemarResult",
    "PairedMoments",
    "PairedSummary",
    "PairedTestResult",
    "SequentialMonitor",
    "SequentialResult",
    "VarianceComponents",
    "adjust_pvalues",
    "estimate_variance_components",
    "format_pvalue",
    "mcnemar",
    "merge_paired",
    "minimum_detectable_effect",
    "msprt",
    "paired_test",
    "sample_size",
    "sign_test",
    "summarise_paired",
    "verdict",
]

METHODS = ("t", "bootstrap", "permutation", "wilcoxon", "sign")


@dataclass(frozen=True)
class PairedTestResult:
    """One paired comparison of B against A.

    ``estimate`` is mean(b - a) (``estimand="mean_difference"``), or for the sign test
    B's win rate with ties counted half (``estimand="win_rate"``, null value 0.5).
    ``se`` is the CLT standard error (clustered when clusters were given); ``naive_se``
    the unclustered one, for comparison. ``effect_size`` is Cohen's d_z = mean(d)/sd(d)
    (Cohen 1988, Sec. 2.3), or for the sign test (wins_b - wins_a) / n.
    """

    method: str
    estimand: str
    n: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    confidence: float
    pvalue: float
    statistic: float
    effect_size: float
    naive_se: float
    df: float | None = None
    n_clusters: int | None = None
    mean_a: float = math.nan
    mean_b: float = math.nan
    wins_a: int | None = None
    wins_b: int | None = None
    ties: int | None = None

    @property
    def null_value(self) -> float:
        return 0.5 if self.estimand == "win_rate" else 0.0


def _clustered_se(d: np.ndarray, codes: np.ndarray, n_clusters: int) -> float:
    """Cluster-robust SE of a mean (Miller 2024 eq. 4, with the CR1 factor C/(C-1))."""
    resid = np.bincount(codes, weights=d - d.mean(), minlength=n_clusters)
    return float(math.sqrt(n_clusters / (n_clusters - 1) * np.sum(resid**2)) / len(d))


def _prepare(a, b, clusters):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("a and b must be one-dimensional and of the same length (one score per item)")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("scores must be finite; drop items missing a score from either model first")
    if len(a) < 2:
        raise ValueError("need at least two paired items")
    codes = n_clusters = None
    if clusters is not None:
        clusters = np.asarray(clusters)
        if clusters.shape != a.shape:
            raise ValueError("clusters must give one key per item")
        uniq, codes = np.unique(clusters, return_inverse=True)
        n_clusters = len(uniq)
        if n_clusters < 2:
            raise ValueError("need at least two clusters")
    return a, b, codes, n_clusters


def _chunks(total: int, size: int):
    for start in range(0, total, size):
        yield min(size, total - start)


def paired_test(
    a,
    b,
    *,
    method: str = "t",
    clusters=None,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = None,
    n_resamples: int = 10_000,
) -> PairedTestResult:
    """Compare B with A on the same items: mean difference b - a, SE, interval, p-value, effect size.

    ``a[i]`` and ``b[i]`` are the two models' scores on item i (means over samples if
    each item was sampled several times). ``clusters`` (one key per item, e.g. the
    passage several questions share) makes the SE cluster-robust and the resampling
    whole-cluster.

    Methods:

    - ``"t"``: paired t-test; SE = sd(d)/sqrt(n), or clustered
      sqrt(C/(C-1) * sum_c (sum_{i in c} (d_i - mean d))^2) / n (Miller 2024, "Adding
      Error Bars to Evals", arXiv 2411.00640, eq. 4, with the usual CR1 factor) with
      C - 1 degrees of freedom.
    - ``"bootstrap"``: paired (cluster) bootstrap of the mean difference; expanded
      percentile interval (Hesterberg 2015: percentiles at Phi(-sqrt(k/(k-1)) t_{k-1})
      for k resampled units, which corrects the plain percentile interval's
      under-coverage at small k), SE the bootstrap SD, two-sided p the share of
      resampled means at least as far from the observed mean as the observed mean is
      from 0 (Efron & Tibshirani 1993, Sec. 16.4).
    - ``"permutation"``: sign-flip test (pairs, or whole clusters, swap A and B at
      random; exact when 2^C <= n_resamples), interval by inverting the test; SE is the
      CLT one.
    - ``"wilcoxon"``: Wilcoxon signed-rank p-value (zero differences dropped); the
      interval and SE are the t ones.
    - ``"sign"``: for preferences or ordinal scores: B wins where b > a, A wins where
      a > b, ties otherwise. The estimate is B's win rate with ties counted half, with a
      CLT interval (clustered if asked); the p-value is the two-sided exact binomial
      test on the untied pairs (Dixon & Mood 1946), the classical handling of ties.

    Worked example (Student's sleep data, Cushny & Peebles 1905; R ``t.test(extra ~
    group, paired = TRUE)`` gives t = -4.0621, df = 9, p = 0.002833):

    >>> a = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> b = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> r = paired_test(a, b)
    >>> round(r.estimate, 2), round(r.statistic, 4), r.df, round(r.pvalue, 6)
    (1.58, 4.0621, 9.0, 0.002833)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    a, b, codes, n_clusters = _prepare(a, b, clusters)
    if method == "sign":
        return _sign(a, b, codes, n_clusters, confidence)
    if method == "wilcoxon" and codes is not None:
        raise ValueError("the Wilcoxon signed-rank test has no clustered form here; use t, bootstrap or permutation")
    d = b - a
    n = len(d)
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    naive_se = sd / math.sqrt(n)
    if codes is None:
        se, df = naive_se, float(n - 1)
    else:
        se, df = _clustered_se(d, codes, n_clusters), float(n_clusters - 1)
    effect = mean / sd if sd > 0 else (math.nan if mean == 0 else math.copysign(math.inf, mean))
    alpha = 1 - confidence
    common = dict(
        n=n, estimate=mean, confidence=confidence, effect_size=effect, naive_se=naive_se,
        n_clusters=n_clusters, mean_a=float(a.mean()), mean_b=float(b.mean()), estimand="mean_difference",
    )
    if se == 0:
        warnings.warn("every item shows the same difference: the standard error is zero", RuntimeWarning, stacklevel=2)
    tcrit = stats.t.ppf(1 - alpha / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = mean / se if se > 0 else (math.nan if mean == 0 else math.copysign(math.inf, mean))
    t_low, t_high = mean - tcrit * se, mean + tcrit * se
    t_p = float(2 * stats.t.sf(abs(tstat), df)) if np.isfinite(tstat) else (1.0 if np.isnan(tstat) else 0.0)

    if method == "t":
        return PairedTestResult(method="t", se=se, ci_low=t_low, ci_high=t_high, pvalue=t_p,
                                statistic=float(tstat), df=df, **common)
    if method == "wilcoxon":
        if np.all(d == 0):
            p, w = 1.0, math.nan
        else:
            res = stats.wilcoxon(d, zero_method="wilcox")
            p, w = float(res.pvalue), float(res.statistic)
        return PairedTestResult(method="wilcoxon", se=se, ci_low=t_low, ci_high=t_high, pvalue=p,
                                statistic=w, df=None, **common)

    rng = np.random.default_rng(random_state)
    if codes is None:
        codes, n_clusters_eff = np.arange(n), n
    else:
        n_clusters_eff = n_clusters
    sums = np.bincount(codes, weights=d, minlength=n_clusters_eff)
    sizes = np.bincount(codes, minlength=n_clusters_eff).astype(float)

    if method == "bootstrap":
        means = []
        p_unif = np.full(n_clusters_eff, 1.0 / n_clusters_eff)
        for size in _chunks(n_resamples, max(1, 2_000_000 // n_clusters_eff)):
            w = rng.multinomial(n_clusters_eff, p_unif, size=size).astype(float)
            means.append((w @ sums) / (w @ sizes))
        boot = np.concatenate(means)
        # Expanded percentile interval (Hesterberg 2015, "What teachers should know about the
        # bootstrap", Sec. 5.3): offsets the plain percentile interval's narrowness at small n.
        k = n_clusters_eff
        z = math.sqrt(k / (k - 1)) * stats.t.ppf(1 - alpha / 2, k - 1)
        tail = float(stats.norm.sf(z))
        low, high = np.quantile(boot, [tail, 1 - tail])
        extreme = np.sum(np.abs(boot - mean) >= abs(mean) - 1e-12 * max(1.0, abs(mean)))
        p = float((1 + extreme) / (n_resamples + 1))
        return PairedTestResult(method="bootstrap", se=float(boot.std(ddof=1)), ci_low=float(low),
                                ci_high=float(high), pvalue=min(p, 1.0), statistic=mean, df=None, **common)

    # Sign-flip permutation: flipped mean for shift delta is (s.sums - delta s.sizes) / n.
    if 2**n_clusters_eff <= n_resamples:
        grid = np.array(np.meshgrid(*[[1.0, -1.0]] * n_clusters_eff, indexing="ij")).reshape(n_clusters_eff, -1).T
        exact = True
    else:
        grid = None
        exact = False
    pa, pb = [], []
    if exact:
        pa.append(grid @ sums / n)
        pb.append(grid @ sizes / n)
    else:
        for size in _chunks(n_resamples, max(1, 2_000_000 // n_clusters_eff)):
            s = rng.choice([-1.0, 1.0], size=(size, n_clusters_eff))
            pa.append(s @ sums / n)
            pb.append(s @ sizes / n)
    fa, fb = np.concatenate(pa), np.concatenate(pb)
    total = len(fa)

    def pval(delta: float) -> float:
        obs = abs(mean - delta)
        hits = np.sum(np.abs(fa - delta * fb) >= obs - 1e-12 * max(1.0, obs))
        return float(hits / total) if exact else float((1 + hits) / (total + 1))

    p = pval(0.0)
    low = _invert(pval, mean, -1, se, alpha)
    high = _invert(pval, mean, +1, se, alpha)
    return PairedTestResult(method="permutation", se=se, ci_low=low, ci_high=high, pvalue=p,
                            statistic=mean, df=None, **common)


def _invert(pval, mean: float, direction: int, se: float, alpha: float) -> float:
    """Outermost shift on one side of the mean that the test does not reject, by bisection."""
    width = max(se, 1e-12 * max(1.0, abs(mean)), 1e-300)
    inside = mean
    outside = mean + direction * 4 * width
    for _ in range(60):
        if pval(outside) <= alpha:
            break
        inside, outside = outside, mean + 2 * (outside - mean)
    else:
        return math.copysign(math.inf, direction)
    for _ in range(60):
        mid = 0.5 * (inside + outside)
        if pval(mid) > alpha:
            inside = mid
        else:
            outside = mid
    return float(inside)


def _sign(a, b, codes, n_clusters, confidence) -> PairedTestResult:
    d = b - a
    n = len(d)
    wins_b, wins_a = int(np.sum(d > 0)), int(np.sum(d < 0))
    ties = n - wins_a - wins_b
    score = np.where(d > 0, 1.0, np.where(d < 0, 0.0, 0.5))
    rate = float(score.mean())
    naive_se = float(score.std(ddof=1) / math.sqrt(n))
    if codes is None:
        se, df = naive_se, None
    else:
        se, df = _clustered_se(score, codes, n_clusters), float(n_clusters - 1)
    z = stats.norm.ppf(1 - (1 - confidence) / 2) if df is None else stats.t.ppf(1 - (1 - confidence) / 2, df)
    decided = wins_a + wins_b
    p = float(stats.binomtest(wins_b, decided, 0.5).pvalue) if decided else 1.0
    return PairedTestResult(
        method="sign", estimand="win_rate", n=n, estimate=rate, se=se,
        ci_low=max(0.0, rate - z * se), ci_high=min(1.0, rate + z * se), confidence=confidence,
        pvalue=p, statistic=float(wins_b), effect_size=(wins_b - wins_a) / n, naive_se=naive_se,
        df=df, n_clusters=n_clusters, mean_a=float(a.mean()), mean_b=float(b.mean()),
        wins_a=wins_a, wins_b=wins_b, ties=ties,
    )


_PREFERENCE = {"b": 1.0, "model_b": 1.0, "a": -1.0, "model_a": -1.0, "tie": 0.0, "tie (bothbad)": 0.0}


def sign_test(preferences, *, clusters=None, confidence: float = 0.95) -> PairedTestResult:
    """Sign test on pairwise preferences of B over A, ties allowed.

    ``preferences`` holds one verdict per item: "b"/"model_b" or +1 (B better),
    "a"/"model_a" or -1 (A better), "tie"/"tie (bothbad)" or 0. Same result as
    ``paired_test(..., method="sign")``: B's win rate (ties half) with its interval and
    the exact binomial p-value on the untied verdicts.

    >>> r = sign_test(["b"] * 15 + ["a"] * 5 + ["tie"] * 4)
    >>> r.wins_b, r.wins_a, r.ties, round(r.pvalue, 6), round(r.estimate, 4)
    (15, 5, 4, 0.041389, 0.7083)
    """
    vals = []
    for v in preferences:
        if isinstance(v, str):
            if v.lower() not in _PREFERENCE:
                raise ValueError(f"unknown preference {v!r}; use a/b/tie or -1/+1/0")
            vals.append(_PREFERENCE[v.lower()])
        else:
            vals.append(float(np.sign(v)))
    d = np.asarray(vals)
    return paired_test(np.zeros(len(d)), d, method="sign", clusters=clusters, confidence=confidence)


def format_pvalue(p: float) -> str:
    """A p-value for a sentence: three decimals below 0.1, so 0.048 never reads as 0.05."""
    if p < 0.001:
        return "p < 0.001"
    if p < 0.1:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def verdict(
    result: PairedTestResult,
    *,
    dimension: str,
    models: tuple[str, str] = ("A", "B"),
    alpha: float = 0.05,
    power: float = 0.8,
    pvalue: float | None = None,
    unit: str = "points",
    digits: int = 2,
) -> str:
    """The comparison in plain words, for reports and the CLI.

    ``models`` names A and B. ``pvalue`` overrides the result's (pass the adjusted one). When not significant,
    says the minimum detectable effect at this n: (z_{1-alpha/2} + z_{power}) * SE
    (Miller 2024, Sec. 5).

    >>> r = PairedTestResult(method="t", estimand="mean_difference", n=200, estimate=0.31, se=0.095,
    ...     ci_low=0.12, ci_high=0.50, confidence=0.95, pvalue=0.0016, statistic=3.26, effect_size=0.23,
    ...     naive_se=0.095)
    >>> verdict(r, dimension="factuality")
    'B is better on factuality: +0.31 points [0.12, 0.50], p = 0.002'
    >>> r0 = PairedTestResult(method="t", estimand="mean_difference", n=50, estimate=0.05, se=0.143,
    ...     ci_low=-0.24, ci_high=0.34, confidence=0.95, pvalue=0.73, statistic=0.35, effect_size=0.05,
    ...     naive_se=0.143)
    >>> verdict(r0, dimension="creativity")
    'no detectable difference on creativity (the minimum detectable effect at this n is 0.40 points)'
    """
    model_a, model_b = models
    p = result.pvalue if pvalue is None else pvalue
    f = f"{{:.{digits}f}}"
    interval = f"[{f.format(result.ci_low)}, {f.format(result.ci_high)}]"
    if p < alpha and result.estimate != result.null_value:
        better = model_b if result.estimate > result.null_value else model_a
        if result.estimand == "win_rate":
            return (
                f"{better} is preferred on {dimension}: {model_b} wins {f.format(result.estimate)} "
                f"{interval} of comparisons (ties half), {format_pvalue(p)}"
            )
        sign = "+" if result.estimate > 0 else ""
        return f"{better} is better on {dimension}: {sign}{f.format(result.estimate)} {unit} {interval}, {format_pvalue(p)}"
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    mde = z * result.se
    what = "in win rate" if result.estimand == "win_rate" else unit
    return f"no detectable difference on {dimension} (the minimum detectable effect at this n is {f.format(mde)} {what})"
