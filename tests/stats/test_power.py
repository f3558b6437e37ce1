"""Power planning (Miller 2024) and the mSPRT's mechanics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from assay.stats.power import estimate_variance_components, minimum_detectable_effect, sample_size
from assay.stats.sequential import SequentialMonitor, msprt


def test_millers_worked_example():
    # Miller 2024, "Adding Error Bars to Evals", Sec. 5: omega^2 = 1/9, delta = 0.03,
    # alpha = 0.05, power 0.8, K = infinity -> n = 969.
    assert sample_size(0.03, omega2=1 / 9, k_a=math.inf, k_b=math.inf) == 969
    raw = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 * (1 / 9) / 0.03**2
    assert 968 < raw < 969


@pytest.mark.parametrize("kw", [
    {"omega2": 1 / 9, "k_a": math.inf, "k_b": math.inf},
    {"omega2": 0.05, "sigma2_a": 0.2, "sigma2_b": 0.25, "k_a": 3, "k_b": 1},
    {"omega2": 0.0, "sigma2_a": 0.25, "sigma2_b": 0.25, "alpha": 0.01, "power": 0.9},
])
def test_inverse_round_trips(kw):
    for n in (10, 57, 969, 12345):
        mde = minimum_detectable_effect(n, **kw)
        assert sample_size(mde, **kw) == n
        assert sample_size(mde * 1.001, **kw) <= n
    for mde in (0.01, 0.03, 0.2):
        n = sample_size(mde, **kw)
        assert minimum_detectable_effect(n, **kw) <= mde < minimum_detectable_effect(n - 1, **kw)


def test_more_samples_per_item_need_fewer_items():
    base = dict(omega2=0.05, sigma2_a=0.2, sigma2_b=0.2)
    ns = [sample_size(0.05, **base, k_a=k, k_b=k) for k in (1, 2, 5, math.inf)]
    assert ns == sorted(ns, reverse=True) and ns[0] > ns[-1]
    assert ns[-1] == sample_size(0.05, omega2=0.05, k_a=math.inf, k_b=math.inf)


@pytest.mark.parametrize("kw", [
    {"omega2": -1}, {"omega2": 0.1, "k_a": 0}, {"omega2": 0.0}, {"omega2": 0.1, "power": 1.2},
])
def test_bad_planning_inputs(kw):
    with pytest.raises(ValueError):
        sample_size(0.05, **kw)


def test_planned_n_gives_the_planned_power():
    """Simulate the design sample_size plans for and count how often the paired t-test rejects."""
    rng = np.random.default_rng(0)
    omega2, s2, k, delta = 0.04, 0.25, 2, 0.06
    n = sample_size(delta, omega2=omega2, sigma2_a=s2, sigma2_b=s2, k_a=k, k_b=k)
    reps, hits = 400, 0
    for _ in range(reps):
        item = rng.normal(delta, math.sqrt(omega2), n)  # true per-item difference
        a = rng.normal(0, math.sqrt(s2), (n, k)).mean(axis=1)
        b = item + rng.normal(0, math.sqrt(s2), (n, k)).mean(axis=1)
        hits += stats.ttest_rel(b, a).pvalue <= 0.05
    assert abs(hits / reps - 0.8) < 3 * math.sqrt(0.8 * 0.2 / reps)


def test_variance_components_from_a_pilot():
    rng = np.random.default_rng(1)
    n, k = 3000, 4
    mu_a = rng.uniform(0.2, 0.8, n)
    mu_b = np.clip(mu_a + rng.normal(0.05, 0.2, n), 0.01, 0.99)
    a = (rng.random((n, k)) < mu_a[:, None]).astype(float)
    b = (rng.random((n, k)) < mu_b[:, None]).astype(float)
    vc = estimate_variance_components(a, b)
    assert vc.k_a == k and vc.n == n
    assert vc.sigma2_a == pytest.approx(np.mean(mu_a * (1 - mu_a)), rel=0.05)
    assert vc.sigma2_b == pytest.approx(np.mean(mu_b * (1 - mu_b)), rel=0.05)
    assert vc.omega2 == pytest.approx(np.var(mu_b - mu_a), rel=0.15)
    ragged = estimate_variance_components([[1, 0, 1], [0]], [[1], [1, 1]])
    assert ragged.k_a == 2 and ragged.sigma2_b == 0
    assert sample_size(0.05, **vc.as_kwargs(), k_a=k, k_b=k) > 0
    with pytest.raises(ValueError):
        estimate_variance_components([[1]], [[1], [0]])


def test_msprt_matches_the_closed_form_and_never_rises():
    rng = np.random.default_rng(2)
    d = rng.normal(0.2, 1, 200)
    res = msprt(d, sigma2=1.0, tau2=0.5, min_n=1)
    n = np.arange(1, 201)
    mean = np.cumsum(d) / n
    lam = np.sqrt(1 / (1 + n * 0.5)) * np.exp(n**2 * 0.5 * mean**2 / (2 * (1 + n * 0.5)))
    np.testing.assert_allclose(res.path["p_value"], np.minimum.accumulate(np.minimum(1, 1 / lam)))
    assert np.all(np.diff(res.path["lower"]) >= 0) and np.all(np.diff(res.path["upper"]) <= 0)
    assert res.path["p_value"].iloc[0] == pytest.approx(min(1, 1 / lam[0]))


def test_msprt_burn_in_and_monitor():
    d = np.random.default_rng(3).normal(0, 1, 50)
    res = msprt(d)
    assert (res.path["p_value"].iloc[:9] == 1).all() and np.isinf(res.path["lower"].iloc[0])
    mon = SequentialMonitor()
    for chunk in np.array_split(d, 5):
        last = mon.update(chunk)
    assert last.path.equals(res.path)
    with pytest.raises(ValueError):
        msprt([])
