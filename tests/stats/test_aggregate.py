"""assay.stats.aggregate: majority, mean, median and Dawid-Skene."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from assay.stats.aggregate import dawid_skene, majority_vote, mean_rating, median_rating

from tests.conftest import BUNDLED


def _simulate(accuracies, *, units=1500, k=3, seed=0, adversarial=None, coverage=1.0):
    """Raters x units labels 0..k-1; rater r is right with probability accuracies[r].

    Wrong answers are uniform over the other labels, except for the ``adversarial``
    rater, who answers (truth + 1) mod k whenever wrong.
    """
    rng = np.random.default_rng(seed)
    truth = rng.choice(k, size=units, p=np.linspace(1, 2, k) / np.linspace(1, 2, k).sum())
    rows = []
    for r, acc in enumerate(accuracies):
        right = rng.random(units) < acc
        if r == adversarial:
            wrong = (truth + 1) % k
        else:
            wrong = (truth + rng.integers(1, k, size=units)) % k
        row = np.where(right, truth, wrong).astype(float)
        row[rng.random(units) >= coverage] = np.nan
        rows.append(row)
    return np.array(rows), truth


def test_majority_vote_ties_policies():
    data = [["a", "b", "a"], ["b", "b", None], ["c", "a", None]]
    # unit 0: a b c tie; unit 1: b b a -> b; unit 2: a
    first = majority_vote(data, ties="first")
    assert first.tolist() == ["a", "b", "a"]
    assert majority_vote(data, ties="missing").tolist() == [None, "b", "a"]
    seen = {majority_vote(data, random_state=s)[0] for s in range(30)}
    assert seen == {"a", "b", "c"}  # a random tie-break reaches every tied label
    assert (majority_vote(data, random_state=5) == majority_vote(data, random_state=5)).all()


def test_majority_vote_dataframe_and_unrated_units():
    df = pd.DataFrame([[1, 2, np.nan], [1, 3, np.nan], [2, 3, np.nan]], index=["x", "y", "z"],
                      columns=["u1", "u2", "u3"])
    out = majority_vote(df, ties="first")
    assert list(out.index) == ["u1", "u2", "u3"]
    assert out["u1"] == 1 and out["u2"] == 3 and np.isnan(out["u3"])


def test_majority_vote_reproduces_pandalm_label_counts():
    rows = json.loads((BUNDLED / "pandalm" / "testset-v1.json").read_text())
    data = np.array([[r[f"annotator{i}"] for r in rows] for i in (1, 2, 3)], dtype=float)
    labels = majority_vote(data, ties="missing")
    counts = pd.Series(labels).value_counts().sort_index()
    assert counts.to_dict() == {0.0: 105, 1.0: 422, 2.0: 472}  # shared/validation/README.md


def test_mean_and_median():
    data = [[1, 4, np.nan, 2], [3, 5, np.nan, np.nan], [2, 6, np.nan, np.nan], [5, 1, np.nan, 4]]
    np.testing.assert_allclose(mean_rating(data), [2.75, 4.0, np.nan, 3.0])
    np.testing.assert_allclose(median_rating(data), [2.5, 4.5, np.nan, 3.0])
    scale = ["poor", "fair", "good", "great"]
    words = [["poor", "good", None], ["great", "fair", None], ["fair", "great", "good"],
             ["good", "poor", None]]
    # unit 0: poor fair good great -> lower median fair; unit 1: good fair great poor -> fair
    assert median_rating(words, categories=scale).tolist() == ["fair", "fair", "good"]
    with pytest.raises(ValueError, match="numeric"):
        mean_rating(words)


def test_dawid_skene_recovers_planted_reliabilities():
    planted = [0.9, 0.8, 0.7, 0.65, 0.6]
    data, truth = _simulate(planted, units=3000, seed=1)
    res = dawid_skene(data)
    assert res.converged
    np.testing.assert_allclose(res.reliability, planted, atol=0.03)
    true_priors = np.bincount(truth, minlength=3) / truth.size
    np.testing.assert_allclose(res.class_priors, true_priors, atol=0.03)
    np.testing.assert_allclose(res.posteriors.sum(axis=1), 1.0)
    assert res.confusion.shape == (5, 3, 3)
    np.testing.assert_allclose(res.confusion.sum(axis=2), 1.0)


def test_dawid_skene_beats_majority_with_one_bad_rater():
    # four mediocre raters and one who is systematically wrong
    data, truth = _simulate([0.65, 0.6, 0.6, 0.55, 0.1], units=3000, seed=2, adversarial=4)
    ds = dawid_skene(data).labels
    mv = majority_vote(data, random_state=0)
    acc_ds, acc_mv = np.mean(ds == truth), np.mean(mv == truth)
    assert acc_ds > acc_mv + 0.05
    res = dawid_skene(data)
    assert res.reliability[4] == pytest.approx(0.1, abs=0.03)
    # confusion rows are true labels, columns given ones: the bad rater says truth + 1
    for t in range(3):
        assert res.confusion[4, t, (t + 1) % 3] == pytest.approx(0.9, abs=0.06)


def test_dawid_skene_beats_majority_with_one_random_rater():
    planted = [0.8, 0.7, 0.65, 0.6, 1 / 3]  # the last rater answers at random
    data, truth = _simulate(planted, units=3000, seed=6)
    res = dawid_skene(data)
    assert np.mean(res.labels == truth) > np.mean(majority_vote(data, random_state=0) == truth) + 0.03
    np.testing.assert_allclose(res.reliability, planted, atol=0.03)


def test_dawid_skene_with_missing_ratings_and_dataframe():
    data, truth = _simulate([0.85, 0.75, 0.7, 0.6], units=1500, seed=3, coverage=0.7)
    df = pd.DataFrame(data, index=["ann", "bob", "cyd", "dee"])
    res = dawid_skene(df)
    assert list(res.reliability.index) == ["ann", "bob", "cyd", "dee"]
    assert res.reliability.is_monotonic_decreasing
    rated = df.notna().any(axis=0).to_numpy()
    assert np.mean(res.labels.to_numpy()[rated] == truth[rated]) > np.mean(
        majority_vote(df, random_state=0).to_numpy()[rated] == truth[rated]) - 0.01


def test_dawid_skene_is_deterministic_given_seed():
    data, _ = _simulate([0.8, 0.7, 0.6], units=300, seed=4)
    a = dawid_skene(data, init="random", random_state=7)
    b = dawid_skene(data, init="random", random_state=7)
    np.testing.assert_array_equal(a.posteriors, b.posteriors)
    assert a.log_likelihood == b.log_likelihood
    c = dawid_skene(data)
    d = dawid_skene(data)
    np.testing.assert_array_equal(c.posteriors, d.posteriors)


def test_dawid_skene_string_labels():
    data, truth = _simulate([0.9, 0.8, 0.7], units=500, seed=5)
    names = np.array(["bad", "ok", "good"], dtype=object)
    words = np.where(np.isnan(data), None, names[np.nan_to_num(data).astype(int)])
    res = dawid_skene(words, categories=["bad", "ok", "good"])
    assert np.mean(res.labels == names[truth]) > 0.9


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([[1, 2, 1]], "two raters"),
        ([[1, 1], [1, 1]], "one category"),
        ([[1, np.nan], [np.nan, 2]], "two or more raters"),
    ],
)
def test_dawid_skene_degenerate_input(data, message):
    with pytest.raises(ValueError, match=message):
        dawid_skene(np.array(data, dtype=float))


def test_bad_options():
    with pytest.raises(ValueError, match="ties"):
        majority_vote([[1, 2], [1, 2]], ties="coin")
    with pytest.raises(ValueError, match="init"):
        dawid_skene([[1, 2], [1, 2]], init="zeros")
