"""Non-inferiority: the one-sided paired t-test against a margin, checked against scipy, and its store form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from assay import records as R
from assay.analysis.abtest import non_inferiority
from assay.stats.noninferiority import non_inferiority_test


@pytest.mark.parametrize("seed, margin", [(0, 0.0), (1, 0.1), (2, 0.5), (3, 2.0)])
def test_matches_scipy_one_sided_t_against_minus_margin(seed, margin):
    rng = np.random.default_rng(seed)
    a = rng.normal(3, 1, 30)
    b = a + rng.normal(-0.2, 0.8, 30)
    r = non_inferiority_test(a, b, margin=margin, alpha=0.05)
    ref = stats.ttest_1samp(b - a, -margin, alternative="greater")
    assert r.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert r.pvalue == pytest.approx(ref.pvalue, abs=1e-12)
    ci = ref.confidence_interval(0.95)  # one-sided: (lower, inf)
    assert r.lower == pytest.approx(ci.low, abs=1e-9)
    assert r.non_inferior == (r.lower > -margin)  # the test and the bound decide alike


def test_clustered_standard_error_is_miller_eq4():
    a = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    b = a + np.array([0.5, 0.1, -0.3, 0.2, 0.0, -0.1, 0.4, -0.2])
    clusters = [0, 0, 1, 1, 2, 2, 3, 3]
    r = non_inferiority_test(a, b, margin=0.2, clusters=clusters)
    d = b - a
    resid = np.array([(d[i] - d.mean()) + (d[i + 1] - d.mean()) for i in (0, 2, 4, 6)])
    se = np.sqrt(4 / 3 * np.sum(resid**2)) / 8
    assert (r.se, r.df, r.n_clusters) == (pytest.approx(se), 3.0, 4)
    assert r.pvalue == pytest.approx(stats.t.sf((d.mean() + 0.2) / se, 3))


def test_undefined_cases_say_why():
    with pytest.raises(ValueError, match="margin must be"):
        non_inferiority_test([1, 2], [1, 2], margin=-0.1)
    with pytest.raises(ValueError, match="at least two"):
        non_inferiority_test([1], [1], margin=0.1)
    same = non_inferiority_test([1, 2, 3], [1, 2, 3], margin=0.1)  # no variance, difference 0 > -0.1
    assert (same.pvalue, same.non_inferior) == (0.0, True)


def test_lower_is_better_dimension_counts_higher_as_worse(store):
    """On a lower-is-better dimension a candidate scoring 1 point higher is worse, and not non-inferior."""
    rub = R.Rubric(name="cost", dimensions=[R.Dimension(name="tokens", description="tokens used",
                                                        scale=R.Scale(kind="continuous", min=0, max=100),
                                                        direction="lower_is_better")])
    items = [R.Item(id=R.Item.make_id("d", str(i), None, None), dataset="d", external_id=str(i), prompt=f"p{i}")
             for i in range(12)]
    rater = R.Rater(id="program:count:1", kind="program", name="count")
    recs: list[R.Record] = [R.Dataset(name="d"), *items, R.Model(id="a@1"), R.Model(id="b@1"), rater, rub]
    for k, it in enumerate(items):
        for model, shift in (("a@1", 0.0), ("b@1", 1.0 + 0.1 * (k % 3))):
            resp = R.Response(id=R.Response.make_id(it.id, model, 0), item_id=it.id, model=model, text="x")
            recs += [resp, R.Judgment(response_id=resp.id, rater_id=rater.id, rubric=rub.id, dimension="tokens",
                                      value=10.0 + k + shift)]
    store.add(recs)
    worse = non_inferiority(store, "a@1", "b@1", margin=0.5)
    (dim,) = worse["dimensions"]
    assert dim["lower_is_better"] and dim["difference"] == pytest.approx(-1.1) and not worse["non_inferior"]
    better = non_inferiority(store, "b@1", "a@1", margin=0.5)  # the other way round, a is better
    assert better["dimensions"][0]["difference"] == pytest.approx(1.1) and better["non_inferior"]
