"""The feature tests of `assay profile`: statistics equal scipy's on the same tables, and the nominal level holds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from assay.stats.abtest import adjust_pvalues
from assay.stats.distribution import categorical_test, jensen_shannon, numeric_test


@pytest.mark.parametrize("method,lambda_", [("chi2", None), ("g", "log-likelihood")])
def test_categorical_equals_scipy_on_the_same_table(method, lambda_):
    rng = np.random.default_rng(3)
    a = rng.choice(["en", "fr", "de"], size=300, p=[0.6, 0.3, 0.1])
    b = rng.choice(["en", "fr", "de", "es"], size=200, p=[0.4, 0.3, 0.2, 0.1])
    t = categorical_test(a, b, method=method)
    table = np.array([[np.sum(a == c) for c in ["de", "en", "es", "fr"]],
                      [np.sum(b == c) for c in ["de", "en", "es", "fr"]]])
    ref = stats.chi2_contingency(table, correction=False, lambda_=lambda_)
    assert t.categories == ["de", "en", "es", "fr"]
    assert [t.counts_a, t.counts_b] == table.tolist()
    assert t.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert t.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    assert t.dof == ref.dof == 3
    assert t.jsd == pytest.approx(jensenshannon(table[0], table[1], base=2) ** 2, abs=1e-9)


def test_numeric_equals_scipy_ks():
    rng = np.random.default_rng(4)
    x, y = rng.lognormal(4, 0.5, 120), rng.lognormal(4.3, 0.5, 90)
    t = numeric_test(x, y)
    ref = stats.ks_2samp(x, y)
    assert (t.statistic, t.pvalue) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))
    assert t.quantiles_a["p50"] == pytest.approx(np.median(x))


def test_jensen_shannon_bounds_and_published_extremes():
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)
    assert jensen_shannon([3, 3], [1, 1]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="positive sum"):
        jensen_shannon([0, 0], [1, 1])


def test_one_category_is_said_not_tested():
    t = categorical_test(["en"] * 5, ["en"] * 7)
    assert np.isnan(t.pvalue) and "one category" in t.note


def test_same_distribution_rejects_at_about_the_nominal_rate():
    """200 seeded pairs of samples from one distribution: each test, and the Holm family, rejects at most ~5%."""
    rng = np.random.default_rng(11)
    alpha, runs = 0.05, 200
    rejected = np.zeros((runs, 3), dtype=bool)
    family = np.zeros(runs, dtype=bool)
    for r in range(runs):
        p = [numeric_test(rng.normal(size=150), rng.normal(size=120)).pvalue,
             categorical_test(rng.choice(list("abcd"), 150), rng.choice(list("abcd"), 120)).pvalue,
             categorical_test(rng.choice(list("xy"), 150, p=[.3, .7]), rng.choice(list("xy"), 120, p=[.3, .7]),
                              method="g").pvalue]
        rejected[r] = np.array(p) < alpha
        family[r] = (adjust_pvalues(p, method="holm") < alpha).any()
    se = np.sqrt(alpha * (1 - alpha) / runs)
    assert (rejected.mean(axis=0) <= alpha + 3 * se).all(), rejected.mean(axis=0)
    assert family.mean() <= alpha + 3 * se


def test_different_distributions_are_found():
    rng = np.random.default_rng(5)
    assert numeric_test(rng.normal(size=200), rng.normal(0.5, size=200)).pvalue < 1e-4
    assert categorical_test(rng.choice(list("ab"), 200, p=[.5, .5]), rng.choice(list("ab"), 200, p=[.8, .2])).pvalue < 1e-4


def test_docstring_examples_run():
    import doctest

    from assay.stats import distribution, poststrat

    for module in (distribution, poststrat):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0
