"""assay.stats.raters on long ratings."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from assay.stats.agreement import cohen_kappa
from assay.stats.raters import (
    agreement_matrix,
    confusion_matrix,
    drift,
    rater_vs_consensus,
    rater_vs_gold,
    severity,
    to_matrix,
)

from tests.conftest import require_module


def _ratings(seed=0, units=300, raters=("ann", "bob", "cyd", "dee", "eve"), acc=(0.9, 0.8, 0.7, 0.6, 0.4),
             bias=(0, 0, 0, 1, -1), coverage=0.85):
    """Long ratings on a 1..9 scale: truth 3..7, each rater right or off by one, plus a bias."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(3, 8, size=units)
    rows = []
    for r, a, b in zip(raters, acc, bias):
        for u in range(units):
            if rng.random() > coverage:
                continue
            v = truth[u] if rng.random() < a else truth[u] + rng.choice([-1, 1])
            rows.append({"unit": f"u{u}", "rater": r, "value": int(v + b),
                         "time": pd.Timestamp("2025-01-01") + pd.Timedelta(hours=u)})
    return pd.DataFrame(rows), pd.Series(truth, index=[f"u{u}" for u in range(units)])


def test_to_matrix_and_input_checks():
    df = pd.DataFrame({"item": [1, 1, 2, 2], "who": ["a", "b", "a", "b"], "score": [1, 2, 2, None]})
    wide = to_matrix(df, unit="item", rater="who", value="score")
    assert wide.shape == (2, 2)
    assert wide.loc["b", 1] == 2 and np.isnan(wide.loc["b", 2])
    with pytest.raises(ValueError, match="lack column"):
        to_matrix(df)
    dup = pd.concat([df, df.iloc[[0]]]).rename(columns={"item": "unit", "who": "rater", "score": "value"})
    with pytest.raises(ValueError, match="duplicate"):
        to_matrix(dup)


def test_consensus_by_hand():
    # u1: a=x b=x c=x d=y ; u2: a=y b=x c=x d=x ; u3: a=x b=y ; u4: a=x b=y c=z
    df = pd.DataFrame({"unit": [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 4],
                       "rater": list("abcdabcdababc"),
                       "value": list("xxxyyxxxxyxyz")})
    with pytest.warns(RuntimeWarning, match="rater 'c'"):  # c agrees on every compared unit
        out = rater_vs_consensus(df)
    # a: u1 others x,x,y -> x hit; u2 others x,x,x miss; u3 the one other says y, miss; u4 tie
    assert out.loc["a", "n"] == 3 and out.loc["a", "accuracy"] == pytest.approx(1 / 3)
    assert out.loc["a", "n_tied"] == 1
    assert out.loc["d", "n"] == 2 and out.loc["d", "accuracy"] == 0.5  # u1 miss, u2 hit
    assert out.loc["b", "n"] == 3 and out.loc["b", "accuracy"] == pytest.approx(2 / 3)


def test_consensus_matches_a_plain_loop():
    df, _ = _ratings(seed=1, units=120)
    out = rater_vs_consensus(df)
    for name, g in df.groupby("rater"):
        pairs = []
        for u, v in zip(g["unit"], g["value"]):
            others = df[(df["unit"] == u) & (df["rater"] != name)]["value"]
            if others.empty:
                continue
            top = Counter(others).most_common()
            if len(top) > 1 and top[0][1] == top[1][1]:
                continue
            pairs.append((v, top[0][0]))
        a, b = zip(*pairs)
        assert out.loc[name, "n"] == len(pairs)
        assert out.loc[name, "accuracy"] == pytest.approx(np.mean(np.array(a) == np.array(b)))
        assert out.loc[name, "kappa"] == pytest.approx(cohen_kappa(a, b), abs=1e-12)
    assert out.loc["ann", "accuracy"] > out.loc["eve", "accuracy"]


def test_gold():
    sklearn_metrics = require_module("sklearn.metrics")
    df, truth = _ratings(seed=2)
    gold = truth.iloc[:100]
    out = rater_vs_gold(df, gold)
    for name, g in df[df["unit"].isin(gold.index)].groupby("rater"):
        ref = gold.reindex(g["unit"]).to_numpy()
        assert out.loc[name, "n"] == len(g)
        assert out.loc[name, "accuracy"] == pytest.approx(np.mean(g["value"].to_numpy() == ref))
        assert out.loc[name, "kappa"] == pytest.approx(
            sklearn_metrics.cohen_kappa_score(g["value"], ref), abs=1e-12)
    # the biased raters never hit gold exactly unless their noise cancels the bias
    assert out.loc["ann", "accuracy"] > out.loc["dee", "accuracy"]


def test_undefined_kappa_is_nan_with_warning():
    df = pd.DataFrame({"unit": [1, 2, 3, 1, 2, 3], "rater": list("aaabbb"),
                       "value": ["x", "x", "x", "x", "y", "x"]})
    with pytest.warns(RuntimeWarning, match="kappa undefined for rater 'a'"):
        out = rater_vs_gold(df, {1: "x", 2: "x", 3: "x"})
    assert np.isnan(out.loc["a", "kappa"]) and out.loc["a", "accuracy"] == 1.0


def test_severity_finds_planted_bias():
    df, _ = _ratings(seed=3, units=2000, acc=(0.7,) * 5)
    out = severity(df)
    # a +1 rater vs the mean of the others (biases 0, 0, 0, -1): 1 - (-1/4) = 1.25
    # an unbiased rater vs the others (0, 0, +1, -1): 0 - 0 = 0
    expected = {"ann": 0.0, "bob": 0.0, "cyd": 0.0, "dee": 1.25, "eve": -1.25}
    for name, e in expected.items():
        assert out.loc[name, "mean_offset"] == pytest.approx(e, abs=4 * out.loc[name, "se"] + 0.02)
    assert (out["se"] > 0).all()


def test_severity_by_hand_and_on_string_scale():
    df = pd.DataFrame({"unit": [1, 1, 1, 2, 2], "rater": ["a", "b", "c", "a", "b"],
                       "value": ["good", "poor", "fair", "good", "good"]})
    scale = ["poor", "fair", "good"]
    out = severity(df, categories=scale)
    # a: unit1 2 - mean(0, 1) = 1.5, unit2 2 - 2 = 0 -> 0.75
    assert out.loc["a", "mean_offset"] == pytest.approx(0.75)
    assert out.loc["c", "mean_offset"] == pytest.approx(1 - 1.0)
    with pytest.raises(ValueError, match="scale order"):
        severity(df)


def test_drift_shows_a_rater_getting_worse():
    df, truth = _ratings(seed=4, units=400, bias=(0,) * 5)
    late = (df["rater"] == "bob") & (df["time"] >= pd.Timestamp("2025-01-01") + pd.Timedelta(hours=200))
    df.loc[late, "value"] = df.loc[late, "value"] + 2
    out = drift(df, windows=2)
    bob = out.loc["bob"]
    assert bob["accuracy"].iloc[1] < bob["accuracy"].iloc[0] - 0.3
    assert bob["mean_offset"].iloc[1] > bob["mean_offset"].iloc[0] + 1.5
    ann = out.loc["ann"]
    assert abs(ann["accuracy"].iloc[1] - ann["accuracy"].iloc[0]) < 0.15
    weekly = drift(df, freq="D")
    assert weekly.index.get_level_values("window").nunique() == 17  # 400 hours over 17 days
    assert weekly["n"].sum() == len(df)
    with pytest.raises(ValueError, match="exactly one"):
        drift(df)


def test_agreement_matrix():
    df, _ = _ratings(seed=5, units=150)
    extra = pd.DataFrame({"unit": ["solo1", "solo2"], "rater": ["zed", "zed"], "value": [1, 2]})
    df = pd.concat([df, extra], ignore_index=True)
    km = agreement_matrix(df)
    wide = to_matrix(df)
    both = wide.loc["ann"].notna() & wide.loc["eve"].notna()
    assert km.loc["ann", "eve"] == pytest.approx(
        cohen_kappa(wide.loc["ann"][both], wide.loc["eve"][both]), abs=1e-12)
    assert np.allclose(km.to_numpy(), km.to_numpy().T, equal_nan=True)
    assert np.isnan(km.loc["zed", "ann"])  # zed shares no unit with anybody
    assert km.loc["ann", "ann"] == 1.0
    overlap = agreement_matrix(df, statistic="overlap")
    assert overlap.loc["ann", "eve"] == both.sum()
    assert overlap.loc["zed", "zed"] == 2 and overlap.loc["zed", "ann"] == 0
    pct = agreement_matrix(df, statistic="percent")
    assert pct.loc["ann", "eve"] == pytest.approx(
        np.mean(wide.loc["ann"][both] == wide.loc["eve"][both]))
    assert km.loc["ann", "bob"] > km.loc["dee", "eve"]


def test_confusion_matrix():
    df = pd.DataFrame({"unit": [1, 1, 1, 2, 2], "rater": ["a", "b", "c", "a", "b"],
                       "value": ["cat", "cat", "dog", "dog", "dog"]})
    cm = confusion_matrix(df)
    # unit 1: cat,cat,dog -> (cat,cat) x2, (cat,dog) x2, (dog,cat) x2; unit 2: (dog,dog) x2
    assert cm.loc["cat", "cat"] == 2 and cm.loc["cat", "dog"] == 2 and cm.loc["dog", "cat"] == 2
    assert cm.loc["dog", "dog"] == 2
    assert cm.to_numpy().sum() == 3 * 2 + 2 * 1
    pair = confusion_matrix(df, raters=("a", "c"))
    assert pair.to_numpy().tolist() == [[0, 1], [0, 0]]  # a said cat where c said dog
    norm = confusion_matrix(df, normalize=True)
    assert norm.loc["cat"].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no ratings"):
        confusion_matrix(df, raters=("a", "zzz"))


def test_confusion_matrix_pairs_match_crosstab():
    df, _ = _ratings(seed=6, units=200)
    wide = to_matrix(df)
    both = wide.loc["ann"].notna() & wide.loc["bob"].notna()
    ref = pd.crosstab(wide.loc["ann"][both], wide.loc["bob"][both])
    got = confusion_matrix(df, raters=("ann", "bob"))
    got = got.loc[(got.sum(axis=1) > 0), (got.sum(axis=0) > 0)]
    np.testing.assert_array_equal(got.to_numpy(), ref.to_numpy())
