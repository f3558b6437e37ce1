"""Paired A/B tests on worked examples, cross-checked with scipy and statsmodels."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from assay.stats.abtest import (
    PairedTestResult,
    adjust_pvalues,
    mcnemar,
    paired_test,
    sign_test,
    verdict,
)

from tests.conftest import require_module

# Student's sleep data (Cushny & Peebles 1905): extra hours of sleep under two drugs, 10 patients.
SLEEP_A = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_B = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_paired_t_on_student_sleep_data():
    r = paired_test(SLEEP_A, SLEEP_B)
    # R: t.test(extra ~ group, data = sleep, paired = TRUE) -> t = -4.0621, df = 9,
    # p-value = 0.002833, 95% CI -2.4598858 -0.7001142, mean difference -1.58 (group 1 - group 2).
    assert r.estimate == pytest.approx(1.58)
    assert r.statistic == pytest.approx(4.0621, abs=5e-5)
    assert r.pvalue == pytest.approx(0.002833, abs=5e-7)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.7001142, 2.4598858), abs=1e-7)
    assert r.df == 9
    ref = stats.ttest_rel(SLEEP_B, SLEEP_A)
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    d = np.subtract(SLEEP_B, SLEEP_A)
    assert r.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    assert r.mean_b - r.mean_a == pytest.approx(r.estimate)


def test_clustered_se_matches_statsmodels_cluster_robust_ols():
    sm = require_module("statsmodels.api")
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(15), rng.integers(2, 8, 15))
    n = len(clusters)
    a = rng.normal(size=n)
    b = a + 0.2 + rng.normal(size=15)[clusters] + rng.normal(size=n)
    r = paired_test(a, b, clusters=clusters)
    fit = sm.OLS(b - a, np.ones(n)).fit(cov_type="cluster", cov_kwds={"groups": clusters})
    assert r.se == pytest.approx(float(fit.bse[0]), rel=1e-10)
    assert r.df == 14 and r.n_clusters == 15
    assert r.naive_se == pytest.approx(np.std(b - a, ddof=1) / math.sqrt(n))


def test_singleton_clusters_reduce_to_the_plain_paired_test():
    r0 = paired_test(SLEEP_A, SLEEP_B)
    r1 = paired_test(SLEEP_A, SLEEP_B, clusters=list("abcdefghij"))
    assert r1.se == pytest.approx(r0.se)
    assert r1.pvalue == pytest.approx(r0.pvalue)


def brute_force_sign_flip_p(d, delta=0.0):
    d = np.asarray(d) - delta
    obs = abs(d.mean())
    flips = [abs(np.mean(d * s)) >= obs - 1e-12 for s in itertools.product([1, -1], repeat=len(d))]
    return float(np.mean(flips))


def test_permutation_is_exact_for_small_n_and_its_interval_inverts_the_test():
    r = paired_test(SLEEP_A, SLEEP_B, method="permutation")
    d = np.subtract(SLEEP_B, SLEEP_A)
    assert r.pvalue == pytest.approx(brute_force_sign_flip_p(d))  # 2^10 flips, exact
    # Just inside the interval the test does not reject at 5%; just outside it does.
    for bound, inward in ((r.ci_low, +1), (r.ci_high, -1)):
        assert brute_force_sign_flip_p(d, bound + inward * 1e-6) > 0.05
        assert brute_force_sign_flip_p(d, bound - inward * 1e-3) <= 0.05
    assert r.ci_low < r.estimate < r.ci_high


def test_bootstrap_and_permutation_are_seeded():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=60), rng.normal(0.3, 1, size=60)
    for method in ("bootstrap", "permutation"):
        r1 = paired_test(a, b, method=method, random_state=5, n_resamples=2000)
        r2 = paired_test(a, b, method=method, random_state=5, n_resamples=2000)
        r3 = paired_test(a, b, method=method, random_state=6, n_resamples=2000)
        assert r1 == r2
        assert (r1.pvalue, r1.ci_low) != (r3.pvalue, r3.ci_low)


def test_bootstrap_agrees_with_t_on_a_large_sample():
    rng = np.random.default_rng(2)
    a = rng.normal(size=400)
    b = a + 0.15 + rng.normal(size=400)
    t = paired_test(a, b)
    boot = paired_test(a, b, method="bootstrap", random_state=0)
    assert boot.se == pytest.approx(t.se, rel=0.06)
    assert boot.ci_low == pytest.approx(t.ci_low, abs=0.3 * t.se)
    assert boot.ci_high == pytest.approx(t.ci_high, abs=0.3 * t.se)
    assert boot.pvalue == pytest.approx(t.pvalue, abs=0.01)


def test_wilcoxon_matches_scipy():
    r = paired_test(SLEEP_A, SLEEP_B, method="wilcoxon")
    ref = stats.wilcoxon(np.subtract(SLEEP_B, SLEEP_A))
    assert r.pvalue == pytest.approx(ref.pvalue)
    assert r.statistic == ref.statistic
    with pytest.raises(ValueError, match="clustered"):
        paired_test(SLEEP_A, SLEEP_B, method="wilcoxon", clusters=[0, 1] * 5)


def test_sign_test_with_ties():
    prefs = ["b"] * 15 + ["a"] * 5 + ["tie"] * 4 + ["tie (bothbad)"]
    r = sign_test(prefs)
    assert (r.wins_b, r.wins_a, r.ties, r.n) == (15, 5, 5, 25)
    # Ties dropped: two-sided binomial on 15 of 20 (2 * P(X >= 15) = 0.04138947).
    assert r.pvalue == pytest.approx(2 * stats.binom.sf(14, 20, 0.5), rel=1e-12)
    assert r.pvalue == pytest.approx(0.04138947, abs=1e-8)
    assert r.estimate == pytest.approx((15 + 2.5) / 25)
    assert r.estimand == "win_rate" and r.effect_size == pytest.approx(10 / 25)
    same = paired_test(np.zeros(25), [1] * 15 + [-1] * 5 + [0] * 5, method="sign")
    assert same.pvalue == r.pvalue and same.estimate == r.estimate
    assert sign_test([1, -1, 0, 2.5, -0.1]).wins_b == 2
    assert sign_test(["tie"] * 5).pvalue == 1.0
    with pytest.raises(ValueError, match="unknown preference"):
        sign_test(["b", "maybe"])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"a": [1, 2, 3], "b": [1, 2]}, "same length"),
        ({"a": [1, 2, float("nan")], "b": [1, 2, 3]}, "finite"),
        ({"a": [1], "b": [2]}, "two"),
        ({"a": [1, 2], "b": [2, 3], "method": "z"}, "method"),
        ({"a": [1, 2], "b": [2, 3], "clusters": [0, 0]}, "two clusters"),
        ({"a": [1, 2], "b": [2, 3], "confidence": 95}, "confidence"),
    ],
)
def test_bad_inputs_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        paired_test(**kwargs)


def test_constant_differences_warn_rather_than_divide_silently():
    with pytest.warns(RuntimeWarning, match="standard error is zero"):
        r = paired_test([1, 2, 3], [2, 3, 4])
    assert r.pvalue == 0.0 and r.effect_size == math.inf


# --- McNemar ------------------------------------------------------------------------------

# Agresti (2013), Categorical Data Analysis, 3rd ed., Table 11.1: approval of the Prime
# Minister's performance in two surveys of the same 1600 Britons; z^2 = 17.36 (Sec. 11.1.1).
AGRESTI = [[794, 150], [86, 570]]


def expand(table):
    """Per-item pass/fail arrays from a 2x2 table (rows A pass/fail, columns B pass/fail)."""
    a, b = [], []
    for (i, j), count in np.ndenumerate(np.asarray(table)):
        a += [i == 0] * count
        b += [j == 0] * count
    return np.array(a), np.array(b)


def test_mcnemar_on_agresti_table():
    a, b = expand(AGRESTI)
    r = mcnemar(a, b, exact=False, correction=False)
    assert r.statistic == pytest.approx((150 - 86) ** 2 / 236)
    assert round(r.statistic, 2) == 17.36
    assert (r.a_only, r.b_only, r.n) == (150, 86, 1600)
    assert r.difference == pytest.approx((86 - 150) / 1600)
    # Agresti's Wald interval for the difference of dependent proportions: -0.04 +- 1.96 * 0.0095.
    assert r.ci_low == pytest.approx(-0.04 - 1.959964 * math.sqrt(236 - 64**2 / 1600) / 1600, abs=1e-6)
    np.testing.assert_array_equal(r.table, AGRESTI)


@pytest.mark.parametrize("table", [AGRESTI, [[101, 121], [59, 33]], [[10, 3], [9, 12]], [[5, 0], [0, 5]]])
@pytest.mark.parametrize("exact,correction", [(True, True), (False, True), (False, False)])
def test_mcnemar_matches_statsmodels(table, exact, correction):
    sm = require_module("statsmodels.stats.contingency_tables")
    a, b = expand(table)
    r = mcnemar(a, b, exact=exact, correction=correction)
    if np.asarray(table)[0, 1] + np.asarray(table)[1, 0] == 0:
        assert r.pvalue == 1.0  # statsmodels divides 0 by 0 here
        return
    ref = sm.mcnemar(np.asarray(table), exact=exact, correction=correction)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert mcnemar(table, exact=exact, correction=correction).pvalue == r.pvalue


# --- multiple comparisons ------------------------------------------------------------------

# Benjamini & Hochberg (1995), Sec. 4: the 15 p-values of Neuhaus et al.'s thrombolysis study.
# At level 0.05 their step-up procedure rejects the four smallest; Holm's rejects three
# (0.0095 > 0.05 / 12).
BH_PVALUES = [0.0201, 0.7590, 0.0001, 0.0344, 0.0004, 0.3240, 0.0019, 0.0459,
              0.6528, 0.0095, 0.4262, 1.0, 0.0278, 0.5719, 0.0298]


def test_bh_and_holm_on_the_published_list():
    bh = adjust_pvalues(BH_PVALUES, method="fdr_bh")
    holm = adjust_pvalues(BH_PVALUES, method="holm")
    p = np.asarray(BH_PVALUES)
    assert set(p[bh <= 0.05]) == {0.0001, 0.0004, 0.0019, 0.0095}
    assert set(p[holm <= 0.05]) == {0.0001, 0.0004, 0.0019}
    assert holm[p == 0.0001][0] == pytest.approx(15 * 0.0001)
    assert bh[p == 0.0095][0] == pytest.approx(15 * 0.0095 / 4)


@pytest.mark.parametrize("method", ["holm", "fdr_bh", "bonferroni", "fdr_by"])
def test_adjustments_match_statsmodels(method):
    mt = require_module("statsmodels.stats.multitest")
    rng = np.random.default_rng(0)
    for p in (BH_PVALUES, rng.uniform(size=30) ** 3, [0.5], [0.01, 0.01, 0.02, 0.02]):
        ours = adjust_pvalues(p, method=method)
        ref = mt.multipletests(p, method=method)[1]
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)


def test_adjust_keeps_nan_and_checks_input():
    out = adjust_pvalues([0.01, np.nan, 0.04], method="holm")
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.02)
    with pytest.raises(ValueError):
        adjust_pvalues([0.5, 1.5])
    with pytest.raises(ValueError):
        adjust_pvalues([0.5], method="sidak")


# --- verdicts --------------------------------------------------------------------------------


def test_verdicts_in_plain_words():
    rng = np.random.default_rng(3)
    a = rng.normal(3, 1, 300)
    better = paired_test(a, a + 0.3 + rng.normal(0, 1, 300))
    text = verdict(better, dimension="factuality")
    assert text.startswith("B is better on factuality: +0.")
    assert "p < 0.001" in text
    worse = paired_test(a, a - 0.3 + rng.normal(0, 1, 300))
    assert verdict(worse, dimension="safety", models=("v1", "v2")).startswith("v1 is better on safety: -0.")
    null = paired_test(a, a + rng.normal(0, 1, 300))
    mde = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * null.se
    assert verdict(null, dimension="creativity") == (
        f"no detectable difference on creativity (the minimum detectable effect at this n is {mde:.2f} points)"
    )
    # An adjusted p-value can turn a nominal win into no detectable difference.
    assert verdict(better, dimension="factuality", pvalue=0.2).startswith("no detectable difference")
    pref = sign_test(["b"] * 70 + ["a"] * 30)
    assert verdict(pref, dimension="helpfulness").startswith("B is preferred on helpfulness: B wins 0.70")


def test_result_is_a_typed_record():
    r = paired_test(SLEEP_A, SLEEP_B)
    assert isinstance(r, PairedTestResult)
    with pytest.raises(AttributeError):
        r.pvalue = 0.5  # frozen
