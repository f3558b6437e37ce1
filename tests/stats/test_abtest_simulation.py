"""Simulations: false-positive rates, coverage, clustered errors, always-valid monitoring.

Each simulation is seeded and small; bounds allow about three Monte Carlo standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from assay.stats.abtest import msprt, paired_test

ALPHA = 0.05


def null_pairs(rng, n):
    """A = B in distribution: skewed 1-5 ratings sharing an item effect."""
    item = rng.normal(0, 1, n)
    a = np.clip(np.round(3 + item + rng.gamma(2, 0.5, n) - 1), 1, 5)
    b = np.clip(np.round(3 + item + rng.gamma(2, 0.5, n) - 1), 1, 5)
    return a, b


@pytest.mark.parametrize(
    "method,reps,n,n_resamples",
    [("t", 1000, 40, None), ("wilcoxon", 600, 40, None), ("sign", 600, 40, None),
     ("bootstrap", 300, 60, 1000), ("permutation", 300, 40, 1000)],
)
def test_rejects_at_rate_alpha_when_a_equals_b(method, reps, n, n_resamples):
    rng = np.random.default_rng(100)
    kw = {} if n_resamples is None else {"n_resamples": n_resamples}
    rejections = 0
    for _ in range(reps):
        a, b = null_pairs(rng, n)
        if np.all(a == b):
            continue
        rejections += paired_test(a, b, method=method, random_state=rng, **kw).pvalue <= ALPHA
    rate = rejections / reps
    mc = np.sqrt(ALPHA * (1 - ALPHA) / reps)
    # Rank and sign tests on tied, discrete data are conservative, so only the upper side is tight.
    low = 0.0 if method in ("sign", "wilcoxon") else ALPHA - 3 * mc
    assert low <= rate <= ALPHA + 3 * mc, rate


@pytest.mark.parametrize("method,reps", [("t", 1000), ("bootstrap", 250), ("permutation", 250)])
def test_intervals_cover_at_nominal_rate(method, reps):
    rng = np.random.default_rng(200)
    true = 0.25
    covered = 0
    for _ in range(reps):
        a = rng.exponential(1.0, 60)
        b = a + true + rng.standard_t(5, 60) * 0.8
        r = paired_test(a, b, method=method, random_state=rng, n_resamples=1000)
        covered += r.ci_low <= true <= r.ci_high
    rate = covered / reps
    mc = np.sqrt(0.95 * 0.05 / reps)
    assert 0.95 - 3.5 * mc <= rate <= 0.95 + 3 * mc, rate


def clustered_data(rng, clusters=30, size=10, effect=0.0):
    """Items in clusters (e.g. several questions per passage): differences share a cluster effect."""
    cl = np.repeat(np.arange(clusters), size)
    d = effect + rng.normal(0, 1, clusters)[cl] + rng.normal(0, 1, clusters * size)
    a = rng.normal(0, 1, clusters * size)
    return a, a + d, cl


def test_clustered_design_naive_se_too_small_clustered_se_right():
    rng = np.random.default_rng(300)
    means, naive, clustered, rej_naive, rej_clustered = [], [], [], 0, 0
    reps = 600
    for _ in range(reps):
        a, b, cl = clustered_data(rng)
        r_naive = paired_test(a, b)
        r_cl = paired_test(a, b, clusters=cl)
        means.append(r_cl.estimate)
        naive.append(r_naive.se)
        clustered.append(r_cl.se)
        rej_naive += r_naive.pvalue <= ALPHA
        rej_clustered += r_cl.pvalue <= ALPHA
    true_sd = np.std(means, ddof=1)  # theory: sqrt((1 + 1/10) / 30) = 0.19
    assert np.mean(naive) < 0.5 * true_sd  # naive ignores the shared cluster effect
    assert np.sqrt(np.mean(np.square(clustered))) == pytest.approx(true_sd, rel=0.1)
    assert rej_naive / reps > 0.3
    mc = np.sqrt(ALPHA * (1 - ALPHA) / reps)
    assert abs(rej_clustered / reps - ALPHA) < 3 * mc


def test_cluster_bootstrap_and_permutation_respect_clusters():
    rng = np.random.default_rng(400)
    reps = 200
    rej = {"bootstrap": 0, "permutation": 0}
    for _ in range(reps):
        a, b, cl = clustered_data(rng, clusters=40, size=8)
        for method in rej:
            rej[method] += paired_test(a, b, method=method, clusters=cl, random_state=rng,
                                       n_resamples=500).pvalue <= ALPHA
    for method, count in rej.items():
        assert count / reps < ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / reps), method


def test_msprt_false_positives_stay_below_alpha_under_continuous_monitoring():
    rng = np.random.default_rng(500)
    reps, horizon = 400, 400
    msprt_hits = naive_hits = 0
    looks = np.arange(10, horizon + 1)
    for _ in range(reps):
        d = rng.normal(0, 1, horizon)
        msprt_hits += msprt(d, alpha=ALPHA).rejected
        # A naive analyst runs a t-test after every new pair and stops at the first p <= alpha.
        csum, csq = np.cumsum(d), np.cumsum(d * d)
        m = looks
        sd = np.sqrt((csq[m - 1] - csum[m - 1] ** 2 / m) / (m - 1))
        t = (csum[m - 1] / m) / (sd / np.sqrt(m))
        p = 2 * stats.t.sf(np.abs(t), m - 1)
        naive_hits += np.any(p <= ALPHA)
    assert msprt_hits / reps < ALPHA
    assert naive_hits / reps > 3 * ALPHA


def test_msprt_detects_a_real_effect_and_its_sequence_covers():
    rng = np.random.default_rng(600)
    reps, covered, detected = 200, 0, 0
    for _ in range(reps):
        a = rng.normal(0, 1, 300)
        b = a + 0.3 + rng.normal(0, 1, 300)
        res = msprt(a, b)
        detected += res.rejected
        path = res.path
        covered += bool(np.all((path["lower"] <= 0.3) & (0.3 <= path["upper"])))
    assert detected / reps > 0.8
    assert covered / reps >= 0.95 - 3 * np.sqrt(0.05 * 0.95 / reps)  # the whole sequence, always valid
