"""Wilson, exact and cluster-aware exact intervals, and McNemar's exact test against published worked examples, statsmodels and scipy."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from assay.stats.abtest import mcnemar as mcnemar_test
from assay.stats.proportions import clustered_exact_interval, exact_interval, wilson_interval

# Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (score / Wilson), printed to 4 places.
NEWCOMBE = [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)]


@pytest.mark.parametrize(("k", "n", "low", "high"), NEWCOMBE)
def test_wilson_matches_newcombe_and_statsmodels(k, n, low, high):
    p = wilson_interval(k, n)
    assert round(p.low, 4) == pytest.approx(low, abs=1e-12) and round(p.high, 4) == pytest.approx(high, abs=1e-12)
    ref = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert p.low == pytest.approx(ref[0], abs=1e-9) and p.high == pytest.approx(ref[1], abs=1e-9)


@pytest.mark.parametrize(("k", "n", "confidence"), [(0, 1, 0.9), (7, 7, 0.99), (34, 100, 0.95), (3, 100, 0.8)])
def test_wilson_other_levels_and_edges(k, n, confidence):
    p = wilson_interval(k, n, confidence=confidence)
    ref = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert p.low == pytest.approx(ref[0], abs=1e-9) and p.high == pytest.approx(ref[1], abs=1e-9)
    assert 0.0 <= p.low <= p.rate <= p.high <= 1.0


def test_wilson_rejects_undefined_input():
    with pytest.raises(ValueError, match="n > 0"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="0..n"):
        wilson_interval(5, 4)


# The same paper's Table II, method 5 (exact, Clopper-Pearson).
NEWCOMBE_EXACT = [(81, 263, 0.2527, 0.3676), (15, 148, 0.0578, 0.1617), (0, 20, 0.0, 0.1684), (1, 29, 0.0009, 0.1776)]


@pytest.mark.parametrize(("k", "n", "low", "high"), NEWCOMBE_EXACT)
def test_exact_matches_newcombe_and_statsmodels(k, n, low, high):
    p = exact_interval(k, n)
    assert (round(p.low, 4), round(p.high, 4)) == (low, high) and p.method == "clopper-pearson"
    ref = proportion_confint(k, n, alpha=0.05, method="beta")
    assert p.low == pytest.approx(ref[0], abs=1e-9) and p.high == pytest.approx(ref[1], abs=1e-9)


@pytest.mark.parametrize(("k", "n", "confidence"), [(0, 1, 0.9), (7, 7, 0.99), (34, 100, 0.95), (3, 100, 0.8)])
def test_exact_other_levels_and_edges(k, n, confidence):
    p = exact_interval(k, n, confidence=confidence)
    ref = binomtest(k, n).proportion_ci(confidence, method="exact")
    assert p.low == pytest.approx(ref.low, abs=1e-9) and p.high == pytest.approx(ref.high, abs=1e-9)
    assert 0.0 <= p.low <= p.rate <= p.high <= 1.0


def test_exact_rejects_undefined_input():
    with pytest.raises(ValueError, match="n > 0"):
        exact_interval(0, 0)
    with pytest.raises(ValueError, match="0..n"):
        exact_interval(5, 4)
    with pytest.raises(ValueError, match="n > 0"):
        clustered_exact_interval([])
    with pytest.raises(ValueError, match="each cluster"):
        clustered_exact_interval([(3, 2)])


def test_clustered_single_answers_are_the_exact_interval():
    p = clustered_exact_interval([(1, 1)] * 15 + [(0, 1)] * 133)
    assert (round(p.low, 4), round(p.high, 4), p.method) == (0.0578, 0.1617, "clopper-pearson")


def test_clustered_all_or_nothing_prompts_count_as_prompts_not_answers():
    # 40 prompts x 5 answers, each prompt all pass or all fail: worked by hand.
    # p = 0.25; sum (k_i - p n_i)^2 = 10 * 3.75^2 + 30 * 1.25^2 = 187.5; v = 40/39 * 187.5 / 200^2;
    # n* = p (1 - p) / v = 39.0, times (z / t_39)^2; the interval is Clopper-Pearson's at (p n*, n*).
    from scipy import stats

    p = clustered_exact_interval([(5, 5)] * 10 + [(0, 5)] * 30)
    v = 40 / 39 * 187.5 / 200**2
    n_star = 0.25 * 0.75 / v * (stats.norm.ppf(0.975) / stats.t.ppf(0.975, 39)) ** 2
    assert n_star == pytest.approx(36.62, abs=0.01)
    low = stats.beta.ppf(0.025, 0.25 * n_star, n_star - 0.25 * n_star + 1)
    high = stats.beta.ppf(0.975, 0.25 * n_star + 1, n_star - 0.25 * n_star)
    assert (p.low, p.high) == pytest.approx((low, high), abs=1e-12) and p.method == "korn-graubard"
    # far wider than the 200 answers taken as independent, a little wider than 40 independent prompts
    naive, prompts = exact_interval(50, 200), exact_interval(10, 40)
    assert p.high - p.low > 1.9 * (naive.high - naive.low)
    assert prompts.low > p.low and prompts.high < p.high


def test_clustered_independent_answers_keep_the_answer_count():
    # answers that vary within prompts as much as between them: the effective size is capped at n
    p = clustered_exact_interval([(1, 2)] * 30)
    assert p.n == 60 and (p.low, p.high) == pytest.approx((exact_interval(30, 60).low, exact_interval(30, 60).high))


@pytest.mark.parametrize("counts", [[(0, 5)] * 20, [(5, 5)] * 20])
def test_clustered_all_fail_or_all_pass(counts):
    p = clustered_exact_interval(counts)
    ref = exact_interval(sum(k for k, _ in counts), 100)
    assert (p.low, p.high) == (ref.low, ref.high)


def test_mcnemar_exact_fagerland_example():
    # Fagerland, Lydersen & Laake (2013), BMC Med Res Methodol 13:91, Table 1: b = 1, c = 7, exact p = 0.0703.
    r = mcnemar_test([[1, 1], [7, 12]], exact=True)
    assert r.pvalue == pytest.approx(18 / 256, abs=1e-12)
    assert round(r.pvalue, 4) == 0.0703


@pytest.mark.parametrize(("b", "c"), [(1, 7), (7, 1), (150, 86), (23, 12), (0, 5), (4, 4), (0, 0), (30, 31)])
def test_mcnemar_exact_matches_statsmodels_and_scipy(b, c):
    table = [[10, b], [c, 10]]
    r = mcnemar_test(table, exact=True)
    assert r.pvalue == pytest.approx(mcnemar(table, exact=True).pvalue, abs=1e-9)
    if b + c:
        assert r.pvalue == pytest.approx(binomtest(b, b + c, 0.5).pvalue, abs=1e-9)


def test_mcnemar_paired_counts_discordant_pairs():
    r = mcnemar_test([True, True, False, False, True, False], [False, True, False, True, False, False])
    assert (r.a_only, r.b_only, r.n) == (2, 1, 6) and r.difference == pytest.approx(-1 / 6)
    with pytest.raises(ValueError):
        mcnemar_test([True], [True, False])
