"""Post-stratification: the estimate equals a hand computation, and its intervals cover the target-mix truth."""

from __future__ import annotations

import numpy as np
import pytest

from assay.stats.poststrat import poststratified_mean


def test_estimate_equals_hand_computation_and_reports_uncovered():
    y = [1, 0, 1, 1, 0.5, 0, 0, 1]
    s = ["a", "a", "a", "b", "b", "c", "c", "c"]
    target = {"a": 10, "b": 30, "c": 40, "d": 20}  # d: no eval example
    r = poststratified_mean(y, s, target, method="delta")
    # covered share 0.8; means a 2/3, b 0.75, c 1/3; weights 10/80, 30/80, 40/80
    hand = (10 * (2 / 3) + 30 * 0.75 + 40 * (1 / 3)) / 80
    assert r.estimate == pytest.approx(hand, abs=1e-12)
    assert r.unweighted == pytest.approx(np.mean(y))
    assert r.covered == pytest.approx(0.8)
    assert r.uncovered == ["d"]
    by = {x["stratum"]: x for x in r.strata}
    assert by["b"]["weight"] == pytest.approx((30 / 80) / (2 / 8))  # target share / eval share
    # delta variance by hand: sum w^2 s^2 / n, target shares known
    var = sum(w ** 2 * np.var(v, ddof=1) / len(v) for w, v in
              ((10 / 80, [1, 0, 1]), (30 / 80, [1, 0.5]), (40 / 80, [0, 0, 1])))
    assert r.high - r.estimate == pytest.approx(1.959963984540054 * np.sqrt(var), rel=1e-9)


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    y, s = rng.random(60), rng.choice(["x", "y", "z"], 60)
    one = poststratified_mean(y, s, {"x": 1, "y": 2, "z": 3}, rounds=300, random_state=7)
    two = poststratified_mean(y, s, {"x": 1, "y": 2, "z": 3}, rounds=300, random_state=7)
    assert (one.low, one.high) == (two.low, two.high)


def test_errors_say_why():
    with pytest.raises(ValueError, match="no example in any stratum"):
        poststratified_mean([1.0, 0.0], ["a", "a"], {"b": 1})
    with pytest.raises(ValueError, match="no values"):
        poststratified_mean([], [], {"a": 1})


@pytest.mark.parametrize("method,runs,rounds", [("delta", 300, 0), ("bootstrap", 120, 400)])
def test_interval_covers_the_target_mix_truth(method, runs, rounds):
    """Win-or-lose outcomes per topic with known rates; eval and target mixes differ; the truth is the target mix's
    mean rate. Over seeded runs the 95% interval covers it at about the nominal rate."""
    p = np.array([0.8, 0.5, 0.2, 0.6])
    eval_mix, target_mix = np.array([0.4, 0.3, 0.2, 0.1]), np.array([0.1, 0.2, 0.3, 0.4])
    truth = float(target_mix @ p)
    rng = np.random.default_rng(2024)
    hit = 0
    for r in range(runs):
        s = rng.choice(4, size=300, p=eval_mix)
        y = (rng.random(300) < p[s]).astype(float)
        t = rng.choice(4, size=2000, p=target_mix)  # the target's shares, counted on a sample of it
        counts = {str(k): int((t == k).sum()) for k in range(4)}
        res = poststratified_mean(y, s.astype(str), counts, target_n=2000, method=method,
                                  rounds=rounds or 2000, random_state=r)
        hit += res.low <= truth <= res.high
    coverage = hit / runs
    assert coverage >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / runs), coverage
