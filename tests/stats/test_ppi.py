"""Prediction-powered inference (assay.stats.ppi) against ppi_py 0.2.3, the authors' package, and by simulation.

The papers' worked examples (PPI, Science 2023; PPI++, arXiv:2311.01453; AutoEval, arXiv:2403.07008)
use data sets that ppi_py downloads at run time (AlphaFold, galaxies, census, Chatbot Arena); none
is available offline, so the published figures are not reproduced here. Agreement with ppi_py is
checked to 1e-6 on seeded synthetic data of four kinds: a good judge, a biased judge, a useless
judge and a tiny labelled set. Simulations allow about three Monte Carlo standard errors.
"""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
from scipy.special import expit

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from ppi_py import (  # reference implementation (test extra only)
        classical_logistic_ci,
        classical_mean_ci,
        crossppi_logistic_ci,
        crossppi_mean_ci,
        ppi_logistic_ci,
        ppi_mean_ci,
        ppi_mean_pointestimate,
        ppi_mean_pval,
    )

from assay.stats import ppi

pytestmark = pytest.mark.filterwarnings("ignore:'penalty' was deprecated:FutureWarning")  # sklearn, inside ppi_py

TOL = 1e-6
LAMS = [None, 0.0, 1.0, 0.35]
ALTERNATIVES = ["two-sided", "larger", "smaller"]


# --- synthetic data -----------------------------------------------------------------------

KINDS = {  # name: (n labelled, N unlabelled, judge slope, judge bias, judge noise)
    "good": (150, 3000, 1.0, 0.0, 0.3),
    "biased": (150, 3000, 0.7, 0.8, 0.5),
    "useless": (150, 3000, 0.0, 0.2, 1.0),
    "tiny": (8, 500, 1.0, 0.3, 0.5),
}


def scores(kind: str, seed: int):
    """Human scores y ~ N(3, 1) and a judge f = slope * y + bias + noise, for n labelled and N other units."""
    n, big_n, slope, bias, noise = KINDS[kind]
    rng = np.random.default_rng(seed)
    y_all = rng.normal(3, 1, n + big_n)
    f_all = slope * y_all + bias + rng.normal(0, noise, n + big_n)
    return y_all[:n], f_all[:n], f_all[n:]


def pairwise(kind: str, seed: int, *, n_models: int = 4, ties: bool = False):
    """Pairwise comparisons among models with planted Bradley-Terry strengths; judge verdicts as probabilities."""
    n, big_n, slope, bias, noise = KINDS[kind]
    n = max(n, 60) if kind == "tiny" else n  # a human-only BT fit needs every model to win and lose
    big_n = min(big_n, 2000)
    rng = np.random.default_rng(seed)
    strength = np.linspace(0.8, -0.6, n_models)
    a = rng.integers(0, n_models, n + big_n)
    b = (a + rng.integers(1, n_models, n + big_n)) % n_models
    p = expit(strength[a] - strength[b])
    u = rng.random(n + big_n)
    y = (u < p).astype(float)
    if ties:
        y[np.abs(u - p) < 0.1] = 0.5
    logit_hat = 2 * slope * (2 * y - 1) + bias + rng.normal(0, 2 * noise, n + big_n)  # noisy view of the verdict
    yhat = expit(logit_hat) if slope else rng.random(n + big_n)
    names = [f"m{i}" for i in range(n_models)]
    pairs = [(names[i], names[j]) for i, j in zip(a, b)]
    return pairs[:n], y[:n], yhat[:n], pairs[n:], yhat[n:], names


def design(pairs, names, reference=0):
    idx = {m: i for i, m in enumerate(names)}
    x = np.zeros((len(pairs), len(names)))
    for r, (i, j) in enumerate(pairs):
        x[r, idx[i]], x[r, idx[j]] = 1.0, -1.0
    return np.delete(x, reference, axis=1)


def covariates(kind: str, seed: int):
    n, big_n, slope, bias, noise = KINDS[kind]
    n = max(n, 80) if kind == "tiny" else n
    rng = np.random.default_rng(seed)
    beta = np.array([0.8, -0.5, 0.3])
    x = rng.normal(size=(n + big_n, 3))
    y = (rng.random(n + big_n) < expit(x @ beta)).astype(float)
    view = 2 * slope * (2 * y - 1) + bias + rng.normal(0, 2 * noise, n + big_n)  # the judge sees the outcome, noisily
    yhat = expit(view) if slope else rng.random(n + big_n)
    return x[:n], y[:n], yhat[:n], x[n:], yhat[n:]


def close(ours, ref):
    return float(np.max(np.abs(np.asarray(ours, dtype=float) - np.asarray(ref, dtype=float).ravel())))


# --- agreement with ppi_py ----------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize("seed", [1, 2])
def test_mean_matches_ppi_py(kind, lam, seed):
    y, f, fu = scores(kind, seed)
    for alpha in (0.05, 0.1):
        for alt in ALTERNATIVES:
            r = ppi.mean(y, f, fu, alpha=alpha, lam=lam, alternative=alt, small_sample=False)
            # ppi_mean_ci drops `alternative` when it tunes lam (0.2.3 recurses without it), so a one-sided
            # tuned interval is checked against ppi_py given the lam it tunes (checked equal just below)
            ref_lam = r.lam if lam is None and alt != "two-sided" else lam
            lo, hi = ppi_mean_ci(y, f, fu, alpha=alpha, lam=ref_lam, alternative=alt)
            for ours, ref in ((r.low, lo), (r.high, hi)):
                if np.isinf(ref):
                    assert ours == float(np.squeeze(ref))
                else:
                    assert close(ours, ref) < TOL
    assert close(r.estimate, ppi_mean_pointestimate(y, f, fu, lam=lam)) < TOL
    tuned = ppi.mean(y, f, fu, alpha=0.1, small_sample=False)
    assert close(tuned.interval, ppi_mean_ci(y, f, fu, alpha=0.1, lam=tuned.lam)) < TOL
    c_lo, c_hi = classical_mean_ci(y, alpha=0.1)
    r = ppi.mean(y, f, fu, alpha=0.1, lam=lam, small_sample=False)
    assert close(r.classical_interval, [c_lo, c_hi]) < TOL


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("alt", ALTERNATIVES)
def test_p_value_matches_ppi_py(kind, alt):
    y, f, fu = scores(kind, 3)
    for lam in LAMS:
        r = ppi.mean(y, f, fu, lam=lam, alternative=alt, small_sample=False)
        # ppi_mean_pval tunes lam without clipping it to [0, 1] (0.2.3), unlike its intervals: give it ours
        for null in (2.9, 3.0, 3.2):
            ref = ppi_mean_pval(y, f, fu, null=null, lam=r.lam, alternative=alt)
            assert close(r.p_value(null), ref) < TOL


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("lam", LAMS)
def test_paired_difference_matches_ppi_py_on_the_per_unit_difference(kind, lam):
    ya, fa, fua = scores(kind, 10)
    yb, fb, fub = scores(kind, 11)
    yb = 0.5 * ya + 0.5 * yb  # the two models' scores share the units' difficulty
    r = ppi.paired_difference(ya, yb, fa, fb, fua, fub, alpha=0.1, lam=lam, small_sample=False)
    lo, hi = ppi_mean_ci(ya - yb, fa - fb, fua - fub, alpha=0.1, lam=lam)
    assert close(r.interval, [lo, hi]) < TOL
    assert r.classical_estimate == pytest.approx(np.mean(ya - yb), abs=1e-12)
    assert r.naive_estimate == pytest.approx(np.mean(np.r_[fa - fb, fua - fub]), abs=1e-12)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("lam", LAMS)
def test_win_rate_matches_ppi_py(kind, lam):
    pairs, y, yhat, pairs_u, yhat_u, _ = pairwise(kind, 3, ties=True)
    r = ppi.win_rate(y, yhat, yhat_u, alpha=0.05, lam=lam, small_sample=False)
    lo, hi = ppi_mean_ci(y, yhat, yhat_u, alpha=0.05, lam=lam)
    assert close(r.interval, [lo, hi]) < TOL
    assert 0.5 in y  # ties counted as half


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("lam", LAMS)
def test_logistic_matches_ppi_py(kind, lam):
    x, y, yhat, xu, yhatu = covariates(kind, 4)
    r = ppi.logistic(x, y, yhat, xu, yhatu, alpha=0.1, lam=lam)
    lo, hi = ppi_logistic_ci(x, y, yhat, xu, yhatu, alpha=0.1, lam=lam)
    assert close(r.low, lo) < TOL and close(r.high, hi) < TOL
    assert close(r.estimate, (lo + hi) / 2) < TOL
    c_lo, c_hi = classical_logistic_ci(x, y, alpha=0.1)
    assert close(r.classical_low, c_lo) < TOL and close(r.classical_high, c_hi) < TOL


@pytest.mark.parametrize("alt", ["larger", "smaller"])
def test_logistic_one_sided_matches_ppi_py(alt):
    x, y, yhat, xu, yhatu = covariates("biased", 5)
    r = ppi.logistic(x, y, yhat, xu, yhatu, alpha=0.1, alternative=alt)
    lo, hi = ppi_logistic_ci(x, y, yhat, xu, yhatu, alpha=0.1, alternative=alt)
    finite = r.low if alt == "larger" else r.high
    assert close(finite, lo if alt == "larger" else hi) < TOL


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("lam", LAMS)
def test_bradley_terry_is_ppi_py_logistic_on_the_pair_design(kind, lam):
    pairs, y, yhat, pairs_u, yhat_u, names = pairwise(kind, 6)
    r = ppi.bradley_terry(pairs, y, yhat, pairs_u, yhat_u, models=names, alpha=0.05, lam=lam)
    lo, hi = ppi_logistic_ci(design(pairs, names), y, yhat, design(pairs_u, names), yhat_u, alpha=0.05, lam=lam)
    assert r.names == tuple(names)
    assert r.estimate[0] == r.low[0] == r.high[0] == 0.0  # the reference model
    assert close(r.low[1:], lo) < TOL and close(r.high[1:], hi) < TOL
    # the planted order is recovered by the PPI++ estimate on this much data
    assert list(np.argsort(-r.estimate)) == [0, 1, 2, 3] or kind == "tiny"


def test_bradley_terry_reference_and_ties():
    pairs, y, yhat, pairs_u, yhat_u, names = pairwise("good", 7, ties=True)
    r0 = ppi.bradley_terry(pairs, y, yhat, pairs_u, yhat_u, models=names)
    r2 = ppi.bradley_terry(pairs, y, yhat, pairs_u, yhat_u, models=names, reference="m2")
    # changing the reference shifts every coefficient by the same amount when lam is fixed
    r0f = ppi.bradley_terry(pairs, y, yhat, pairs_u, yhat_u, models=names, lam=0.5)
    r2f = ppi.bradley_terry(pairs, y, yhat, pairs_u, yhat_u, models=names, reference="m2", lam=0.5)
    assert np.allclose(r0f.estimate - r0f.estimate[2], r2f.estimate, atol=1e-8)
    assert r2.estimate[2] == 0.0 and r0.estimate[0] == 0.0
    # pairs as a two-column DataFrame, models found in order of first appearance
    import pandas as pd

    frame = pd.DataFrame(pairs, columns=["model_a", "model_b"])
    r3 = ppi.bradley_terry(frame, y, yhat, pd.DataFrame(pairs_u), yhat_u)
    first_seen = list(dict.fromkeys([m for p in pairs + pairs_u for m in p]))
    assert r3.names == tuple(first_seen)
    order = [names.index(m) for m in first_seen]
    assert np.allclose(r3.estimate - r3.estimate[first_seen.index("m0")], r0.estimate[order], atol=1e-6)


@pytest.mark.parametrize("kind", list(KINDS))
def test_cross_mean_matches_ppi_py(kind):
    y, f, fu = scores(kind, 8)
    rng = np.random.default_rng(8)
    fuk = fu[:, None] + rng.normal(0, 0.2, (fu.size, 5))  # five fold-wise judges
    for alt in ALTERNATIVES:
        r = ppi.cross_mean(y, f, fuk, alpha=0.1, alternative=alt, small_sample=False)
        lo, hi = crossppi_mean_ci(y, f, fuk, alpha=0.1, alternative=alt)
        assert close([v for v in r.interval if np.isfinite(v)], [v for v in (lo, hi) if np.isfinite(v)]) < TOL
    assert r.lam == 1.0 and r.method == "cross-ppi"


@pytest.mark.parametrize("kind", ["good", "biased", "useless"])
def test_cross_logistic_and_bradley_terry_match_ppi_py(kind):
    opts = {"ftol": 1e-15}  # crossppi_logistic_ci fails on its own default (None)
    x, y, yhat, xu, yhatu = covariates(kind, 9)
    rng = np.random.default_rng(9)
    yk = np.clip(yhatu[:, None] + rng.normal(0, 0.05, (yhatu.size, 3)), 0, 1)
    r = ppi.cross_logistic(x, y, yhat, xu, yk, alpha=0.1)
    lo, hi = crossppi_logistic_ci(x, y, yhat, xu, yk, alpha=0.1, optimizer_options=dict(opts))
    assert close(r.low, lo) < TOL and close(r.high, hi) < TOL
    pairs, y, yhat, pairs_u, yhat_u, names = pairwise(kind, 9)
    yk = np.clip(yhat_u[:, None] + rng.normal(0, 0.05, (yhat_u.size, 3)), 0, 1)
    r = ppi.cross_bradley_terry(pairs, y, yhat, pairs_u, yk, models=names, alpha=0.1)
    lo, hi = crossppi_logistic_ci(design(pairs, names), y, yhat, design(pairs_u, names), yk, alpha=0.1,
                                  optimizer_options=dict(opts))
    assert close(r.low[1:], lo) < TOL and close(r.high[1:], hi) < TOL


def test_cross_paired_difference_and_win_rate_are_cross_mean():
    ya, fa, fua = scores("biased", 12)
    yb, fb, fub = scores("biased", 13)
    rng = np.random.default_rng(12)
    ka, kb = fua[:, None] + rng.normal(0, 0.1, (fua.size, 4)), fub[:, None] + rng.normal(0, 0.1, (fub.size, 4))
    r = ppi.cross_paired_difference(ya, yb, fa, fb, ka, kb, small_sample=False)
    lo, hi = crossppi_mean_ci(ya - yb, fa - fb, ka - kb, alpha=0.05)
    assert close(r.interval, [lo, hi]) < TOL
    w = (ya > yb).astype(float)
    wh = expit(fa - fb)
    wk = expit(ka - kb)
    r = ppi.cross_win_rate(w, wh, wk, small_sample=False)
    lo, hi = crossppi_mean_ci(w, wh, wk, alpha=0.05)
    assert close(r.interval, [lo, hi]) < TOL


# --- properties ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_lam_zero_is_the_classical_interval(kind):
    y, f, fu = scores(kind, 20)
    r = ppi.mean(y, f, fu, lam=0)
    assert r.interval == pytest.approx(r.classical_interval, abs=1e-12)
    assert r.estimate == pytest.approx(y.mean(), abs=1e-12) and r.method == "classical"
    assert r.n_eff == pytest.approx(r.n, rel=1e-12)
    x, yl, yhat, xu, yhatu = covariates(kind, 20)
    c = ppi.logistic(x, yl, yhat, xu, yhatu, lam=0)
    assert np.allclose(c.low, c.classical_low, atol=1e-10) and np.allclose(c.high, c.classical_high, atol=1e-10)


def test_with_a_perfect_judge_the_interval_shrinks_as_unlabelled_units_grow():
    rng = np.random.default_rng(21)
    y = rng.normal(0, 1, 100)
    widths, n_effs = [], []
    for big_n in (100, 1_000, 10_000, 100_000):
        z = rng.normal(0, 1, big_n)
        fu = (z - z.mean()) / z.std() * y.std() + y.mean()  # the same sample mean and variance as y
        r = ppi.mean(y, y, fu)
        widths.append(r.high - r.low)
        n_effs.append(r.n_eff)
        # optimal lam = N / (N + n) gives variance sigma^2 / (n + N): the judge is worth N more labels
        assert r.n_eff == pytest.approx(100 + big_n, rel=0.05)
    assert all(a > b for a, b in zip(widths, widths[1:]))
    classical = r.classical_high - r.classical_low
    assert widths[-1] < classical / 20


def test_a_useless_judge_falls_back_to_the_classical_interval():
    widths = []
    for seed in range(50):
        y, f, fu = scores("useless", 100 + seed)
        f = np.random.default_rng(seed).normal(size=f.size)  # independent of y
        r = ppi.mean(y, f, fu, small_sample=False)
        widths.append((r.high - r.low) / (r.classical_high - r.classical_low))
        assert r.lam < 0.35
        t = ppi.mean(y, f, fu)  # the small-sample interval: at most one degree of freedom dearer (lam estimated)
        assert (t.high - t.low) / (t.classical_high - t.classical_low) <= np.sqrt(149 / 148) * 1.0001
    assert max(widths) <= 1.0 + 1e-9  # tuned lam never widens the estimated normal interval here
    assert np.mean(widths) > 0.98


def test_a_constant_judge_carries_no_information():
    y, _, _ = scores("good", 22)
    r = ppi.mean(y, np.full(y.size, 4.0), np.full(50, 4.0))
    assert r.lam == 0.0 and r.interval == pytest.approx(r.classical_interval)


def _coverage_bounds(reps: int, level: float = 0.95):
    mc = np.sqrt(level * (1 - level) / reps)
    return level - 3 * mc, level + 3 * mc


@pytest.mark.parametrize("kind", ["biased", "useless"])
def test_mean_coverage_by_simulation(kind):
    """400 seeded repetitions: the 95% PPI++ interval covers the true mean 3 within three Monte Carlo SE."""
    reps, covered = 400, 0
    n, big_n, slope, bias, noise = 100, 1_000, *KINDS[kind][2:]
    rng = np.random.default_rng(30)
    for _ in range(reps):
        y = rng.normal(3, 1, n + big_n)
        f = slope * y + bias + rng.normal(0, noise, n + big_n)
        r = ppi.mean(y[:n], f[:n], f[n:])
        covered += r.low <= 3.0 <= r.high
    lo, hi = _coverage_bounds(reps)
    assert lo <= covered / reps <= hi


def test_pairing_by_unit_is_narrower_than_two_separate_means():
    """Units of varying difficulty and a judge with a per-unit leniency shared by both answers."""
    rng = np.random.default_rng(33)
    n, big_n = 200, 2_000
    unit, leniency = rng.normal(0, 1, n + big_n), rng.normal(0, 0.8, n + big_n)
    ya, yb = unit + 0.2 + rng.normal(0, 0.5, n + big_n), unit + rng.normal(0, 0.5, n + big_n)
    fa, fb = ya + leniency + rng.normal(0, 0.3, n + big_n), yb + leniency + rng.normal(0, 0.3, n + big_n)
    paired = ppi.paired_difference(ya[:n], yb[:n], fa[:n], fb[:n], fa[n:], fb[n:])
    a, b = ppi.mean(ya[:n], fa[:n], fa[n:]), ppi.mean(yb[:n], fb[:n], fb[n:])
    assert paired.estimate == pytest.approx(0.2, abs=3 * paired.se)
    assert paired.se < 0.5 * np.hypot(a.se, b.se)  # separate means ignore the shared unit and leniency
    assert paired.lam > max(a.lam, b.lam)  # the judge predicts the difference better than either score


def test_paired_difference_coverage_by_simulation():
    """A shares the unit's difficulty with B; the judge is biased towards A by 0.5 on every unit.

    1,000 repetitions: at n = 100 the normal interval (PPI++ and classical alike, 3,000 repetitions:
    0.940 and 0.944 at n = 80) covers a little under 95%, so 400 would leave too little margin.
    """
    reps, covered, n, big_n, truth = 1000, 0, 100, 1000, 0.2
    rng = np.random.default_rng(31)
    for _ in range(reps):
        unit = rng.normal(0, 1, n + big_n)
        ya = unit + truth + rng.normal(0, 0.7, n + big_n)
        yb = unit + rng.normal(0, 0.7, n + big_n)
        fa = ya + 0.5 + rng.normal(0, 0.5, n + big_n)
        fb = yb + rng.normal(0, 0.5, n + big_n)
        r = ppi.paired_difference(ya[:n], yb[:n], fa[:n], fb[:n], fa[n:], fb[n:])
        covered += r.low <= truth <= r.high
        assert abs(r.naive_estimate - truth) > 0.2  # the judge alone is biased
    lo, hi = _coverage_bounds(reps)
    assert lo <= covered / reps <= hi


def test_bradley_terry_coverage_by_simulation():
    """Coverage of model m1's coefficient (truth: its strength minus the reference's)."""
    reps, covered = 400, 0
    strength = np.array([0.0, 0.6, -0.4])
    n, big_n = 300, 1_500
    rng = np.random.default_rng(32)
    for _ in range(reps):
        a = rng.integers(0, 3, n + big_n)
        b = (a + rng.integers(1, 3, n + big_n)) % 3
        y = (rng.random(n + big_n) < expit(strength[a] - strength[b])).astype(float)
        yhat = expit(0.8 * (2 * y - 1) + 0.3 + rng.normal(0, 1, n + big_n))  # biased towards model_a
        pairs = list(zip(a, b))
        r = ppi.bradley_terry(pairs[:n], y[:n], yhat[:n], pairs[n:], yhat[n:], models=[0, 1, 2])
        covered += r.low[1] <= strength[1] <= r.high[1]
    lo, hi = _coverage_bounds(reps)
    assert lo <= covered / reps <= hi


def test_n_eff_is_n_times_the_variance_ratio():
    y, f, fu = scores("good", 40)
    r = ppi.mean(y, f, fu)
    assert r.n_eff == pytest.approx(r.n * (r.classical_se / r.se) ** 2)
    assert r.n_eff > 2 * r.n  # a good judge is worth more labels than were given
    pairs, yb, yhat, pairs_u, yhat_u, names = pairwise("good", 40)
    c = ppi.bradley_terry(pairs, yb, yhat, pairs_u, yhat_u, models=names)
    assert np.isnan(c.n_eff[0]) and (c.n_eff[1:] > c.n).all()


def test_docstring_examples():
    result = doctest.testmod(ppi, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0


def test_bradley_terry_naive_estimate_is_nan_when_the_judge_never_lets_a_model_lose():
    pairs = [("a", "b"), ("b", "c"), ("c", "a"), ("a", "c"), ("b", "a"), ("c", "b")] * 5
    y = [1, 1, 0, 1, 1, 1] * 5
    with pytest.warns(RuntimeWarning, match="judge-only Bradley-Terry ratings are infinite"):
        r = ppi.bradley_terry(pairs, y, [1, 1, 0, 1, 0, 0] * 5, [("a", "b"), ("a", "c")] * 10, [1.0, 1.0] * 10,
                              lam=0)
    assert np.isnan(r.naive_estimate[1:]).all() and np.isfinite(r.estimate).all()
    # with the judge weighted in, its separable verdicts leave no finite estimate: said, not returned
    with pytest.warns(RuntimeWarning), pytest.raises(ValueError, match="the logistic fit is not identified"):
        ppi.bradley_terry(pairs, y, [1, 1, 0, 1, 0, 0] * 5, [("a", "b"), ("a", "c")] * 10, [1.0, 1.0] * 10, lam=1)


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"y": [1.0, 2.0, 3.0], "yhat": [1.0, 2.0]}, "y and yhat must have the same length"),
        ({"y": [1.0, np.nan, 3.0]}, "y holds NaN"),
        ({"yhat_unlabeled": [1.0, np.inf]}, "yhat_unlabeled holds NaN or infinite"),
        ({"yhat_unlabeled": []}, "yhat_unlabeled is empty"),
        ({"y": [], "yhat": []}, "y is empty"),
        ({"y": [1.0], "yhat": [1.0]}, "y needs at least 2"),
        ({"y": [[1.0, 2.0]], "yhat": [1.0]}, "y must be a 1-D array"),
        ({"y": ["a", "b"]}, "y must hold numbers"),
        ({"alpha": 0.0}, "alpha must lie strictly between 0 and 1"),
        ({"alpha": 1.0}, "alpha must lie strictly between 0 and 1"),
        ({"alpha": -0.1}, "alpha"),
        ({"lam": 1.5}, "lam must be None"),
        ({"lam": float("nan")}, "lam must be None"),
        ({"alternative": "less"}, "alternative must be one of"),
    ],
)
def test_mean_rejects_bad_input_naming_the_argument(kwargs, match):
    args = {"y": [1.0, 2.0, 3.0], "yhat": [1.0, 2.5, 3.0], "yhat_unlabeled": [1.0, 2.0]} | kwargs
    y, yhat, yu = args.pop("y"), args.pop("yhat"), args.pop("yhat_unlabeled")
    with pytest.raises(ValueError, match=match):
        ppi.mean(y, yhat, yu, **args)


def test_other_functions_reject_bad_input_naming_the_argument():
    y = [1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="y_a and y_b and yhat_a and yhat_b must have the same length"):
        ppi.paired_difference(y, y[:2], y, y, y, y)
    with pytest.raises(ValueError, match="yhat_a_unlabeled and yhat_b_unlabeled"):
        ppi.paired_difference(y, y, y, y, y, y[:2])
    with pytest.raises(ValueError, match=r"yhat must lie in \[0, 1\]"):
        ppi.win_rate(y, [1.0, 2.0, 0.0], y)
    with pytest.raises(ValueError, match="yhat_unlabeled must be a 2-D array"):
        ppi.cross_mean(y, y, y)
    with pytest.raises(ValueError, match="x and x_unlabeled must have the same columns"):
        ppi.logistic(np.eye(3), y, y, np.ones((4, 2)), [1.0, 0, 1, 0])
    with pytest.raises(ValueError, match="x_unlabeled and yhat_unlabeled must have the same length"):
        ppi.logistic(np.eye(3)[:, :2], y, y, np.ones((4, 2)), [1.0, 0, 1])
    pairs = [("a", "b"), ("b", "a"), ("a", "c"), ("c", "b"), ("b", "c"), ("c", "a")]
    yb = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="pairs_unlabeled names model 'z'"):
        ppi.bradley_terry(pairs, yb, yb, [("a", "z")], [1.0], models=["a", "b", "c"])
    with pytest.raises(ValueError, match="pairs_unlabeled has a comparison of a model with itself"):
        ppi.bradley_terry(pairs, yb, yb, [("a", "a")], [1.0])
    with pytest.raises(ValueError, match="reference 'q' is not one of the models"):
        ppi.bradley_terry(pairs, yb, yb, [("a", "b")], [1.0], reference="q")
    with pytest.raises(ValueError, match="pairs_unlabeled and yhat_unlabeled must have the same length"):
        ppi.bradley_terry(pairs, yb, yb, [("a", "b")], [1.0, 0.0])
    with pytest.raises(ValueError, match="pairs_unlabeled is empty"):
        ppi.bradley_terry(pairs, yb, yb, [], [1.0])
    with pytest.raises(ValueError, match=r"pairs must be a sequence of \(model_a, model_b\) pairs"):
        ppi.bradley_terry([("a", "b", "c")] * 6, yb, yb, [("a", "b")], [1.0])
    with pytest.raises(ValueError, match="pairs and y and yhat must have the same length"):
        ppi.bradley_terry(pairs, yb[:5], yb[:5], [("a", "b")], [1.0])
    with pytest.raises(ValueError, match="y: the human-labelled comparisons leave some group of models unbeaten"):
        ppi.bradley_terry([("a", "b"), ("a", "b"), ("b", "c"), ("c", "b")], [1.0, 1.0, 1.0, 0.0], [1.0] * 4,
                          [("a", "c")], [1.0])
