"""Agreement scores over bootstrap counts, and the held-out comparison with its multiplicity correction."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from assay.stats import selection
from assay.stats.ranking import Bootstrap
from assay.stats.selection import agreement_scores, compare_to_baseline
from tests.conftest import require_module


def test_docstring_examples():
    result = doctest.testmod(selection)
    assert result.attempted >= 2 and result.failed == 0


@pytest.mark.parametrize("weights", [None, "quadratic"])
def test_kappas_equal_sklearn_on_data_and_on_a_resample(weights):
    metrics = require_module("sklearn.metrics")
    rng = np.random.default_rng(5)
    h = rng.integers(0, 5, 300)
    j = np.where(rng.random(300) < 0.6, h, rng.integers(0, 5, 300))
    counts = np.vstack([np.ones(300), rng.multinomial(300, np.full(300, 1 / 300))])
    name = "kappa" if weights is None else "kappa_quadratic"
    got = agreement_scores(j, h, counts, metric=name, n_categories=5)
    assert got[0] == pytest.approx(metrics.cohen_kappa_score(j, h, weights=weights), abs=1e-12)
    idx = np.repeat(np.arange(300), counts[1].astype(int))  # the resample as repeated units
    assert got[1] == pytest.approx(metrics.cohen_kappa_score(j[idx], h[idx], weights=weights), abs=1e-12)
    acc = agreement_scores(j, h, counts, metric="accuracy")
    assert acc[1] == pytest.approx(np.mean(j[idx] == h[idx]))


def test_a_single_category_gives_nan_not_a_number_made_up():
    assert np.isnan(agreement_scores(np.zeros(5, int), np.zeros(5, int), np.ones((1, 5)), metric="kappa")[0])


def test_gains_get_bonferroni_intervals_and_holm_p_values():
    rng = np.random.default_rng(0)
    n = 200
    h = rng.integers(0, 2, n)
    judged = {"base": np.where(rng.random(n) < 0.6, h, 1 - h),
              "same": np.where(rng.random(n) < 0.6, h, 1 - h),
              "better": np.where(rng.random(n) < 0.95, h, 1 - h)}
    out = compare_to_baseline(judged, h, np.arange(n) // 2, baseline="base", metric="accuracy",
                              bootstrap=Bootstrap(rounds=1000, random_state=0))
    assert out.adjusted_confidence == pytest.approx(0.975) and out.n_clusters == 100
    assert out.gain["base"] == 0 and out.gain["better"] == pytest.approx(out.estimate["better"] - out.estimate["base"])
    assert out.gain_interval["better"][0] > 0 and out.p_value["better"] < 0.01
    lo, hi = out.gain_interval["same"]
    assert lo < 0 < hi and out.p_value["same"] > 0.05
    # the adjusted interval is wider than the unadjusted one from the same rounds
    plain = compare_to_baseline({k: judged[k] for k in ("base", "same")}, h, np.arange(n) // 2, baseline="base",
                                metric="accuracy", bootstrap=Bootstrap(rounds=1000, random_state=0))
    assert plain.adjusted_confidence == 0.95
    assert (hi - lo) > plain.gain_interval["same"][1] - plain.gain_interval["same"][0]
    # mae: lower is better, so a gain is a fall in error
    m = compare_to_baseline({"base": h + 1.0, "better": h + 0.1}, h, np.arange(n), baseline="base", metric="mae",
                            bootstrap=Bootstrap(rounds=200, random_state=0))
    assert not m.higher_is_better and m.gain["better"] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="baseline 'x'"):
        compare_to_baseline(judged, h, np.arange(n), baseline="x", metric="accuracy")
