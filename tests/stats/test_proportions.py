"""Wilson intervals and McNemar's exact test against published worked examples, statsmodels and scipy."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from assay.stats.abtest import mcnemar as mcnemar_test
from assay.stats.proportions import wilson_interval

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
