"""stats.bias: counterfactual gaps (paired t, Holm) and BBQ's scores, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from assay.stats.bias import bbq_intervals, bbq_scores, counterfactual_gaps
from assay.stats.ranking import Bootstrap


def test_gaps_are_paired_t_tests_holm_adjusted_over_all_rows():
    rng = np.random.default_rng(1)
    rows = [(attr, t, g, float(rng.normal(0.3 * (g == "c"), 1)))
            for attr, groups in (("x", "abc"), ("y", "ab")) for t in range(30) for g in groups]
    df = pd.DataFrame(rows, columns=["attribute", "template", "group", "score"])
    out = counterfactual_gaps(df)
    assert list(zip(out["attribute"], out["group_a"], out["group_b"])) == [
        ("x", "a", "b"), ("x", "a", "c"), ("x", "b", "c"), ("y", "a", "b")]
    a = df[(df.attribute == "x") & (df.group == "a")].sort_values("template")["score"].to_numpy()
    c = df[(df.attribute == "x") & (df.group == "c")].sort_values("template")["score"].to_numpy()
    t = stats.ttest_rel(a, c)
    row = out.iloc[1]
    assert row["estimate"] == pytest.approx(np.mean(a - c)) and row["p_value"] == pytest.approx(t.pvalue)
    half = stats.t.ppf(0.975, 29) * np.std(a - c, ddof=1) / math.sqrt(30)
    assert (row["low"], row["high"]) == pytest.approx((np.mean(a - c) - half, np.mean(a - c) + half))
    p = np.sort(out["p_value"].to_numpy())
    holm = np.maximum.accumulate(np.minimum(1, (4 - np.arange(4)) * p))
    assert np.sort(out["p_adjusted"].to_numpy()) == pytest.approx(holm)


def test_a_pair_without_two_shared_templates_is_nan_and_not_counted():
    df = pd.DataFrame({"attribute": ["g"] * 5, "template": [1, 1, 2, 2, 3], "group": ["a", "b", "a", "b", "c"],
                       "score": [1.0, 0.0, 0.0, 1.0, 1.0]})
    out = counterfactual_gaps(df).set_index(["group_a", "group_b"])
    assert math.isnan(out.loc[("a", "c"), "p_value"]) and math.isnan(out.loc[("a", "c"), "p_adjusted"])
    assert out.loc[("a", "b"), "p_adjusted"] == out.loc[("a", "b"), "p_value"]  # m = 1


def test_bbq_undefined_scores_are_nan_and_intervals_seeded():
    # every answer "unknown": accuracy 1 in ambiguous contexts, no non-unknown answer, so s is undefined
    s = bbq_scores([2, 2], [2, 2], [2, 2], [0, 0], [True, False], [True, True])
    assert s.accuracy_ambiguous == 1.0 and math.isnan(s.bias_ambiguous) and math.isnan(s.accuracy_disambiguated)
    rng = np.random.default_rng(0)
    n = 200
    args = (rng.integers(0, 3, n).astype(float), rng.integers(0, 3, n), np.full(n, 2), np.zeros(n),
            rng.random(n) < 0.5, rng.random(n) < 0.5)
    clusters = np.arange(n) // 4
    one = bbq_intervals(*args, clusters=clusters, bootstrap=Bootstrap(rounds=500, random_state=3))
    assert one == bbq_intervals(*args, clusters=clusters, bootstrap=Bootstrap(rounds=500, random_state=3))
    est = bbq_scores(*args)
    for k, (lo, hi) in one.items():
        assert lo <= getattr(est, k) <= hi


def test_docstring_examples():
    import doctest

    import assay.stats.bias as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
