"""Win/loss tables and paired scores merge exactly: one pass and N shards give the same numbers.

Shards are random (seeded) splits of the rows; every figure of a merged summary must equal,
bit for bit, the figure the raw functions give on the concatenated data (seeded bootstraps
and permutation tests included).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.stats import abtest as AB
from assay.stats import ranking as RK
from assay.stats.abtest import PairedMoments, merge_paired, paired_test, summarise_paired
from assay.stats.ranking import Bootstrap, merge_pairwise, summarise_battles

WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)"]


def _battles(seed: int, n: int, n_models: int) -> pd.DataFrame:
    """Battles among models of spread strengths (so the MLE is finite), in random order."""
    rng = np.random.default_rng(seed)
    models = [f"m{i:02d}" for i in range(n_models)]
    strength = np.linspace(-1, 1, n_models)
    a = rng.integers(0, n_models, n)
    b = (a + rng.integers(1, n_models, n)) % n_models
    p = 1 / (1 + np.exp(strength[b] - strength[a]))
    u = rng.random(n)
    winner = np.where(u < 0.15, "tie", np.where(u < 0.15 + 0.85 * p, "model_a", "model_b")).astype(object)
    winner[rng.random(n) < 0.03] = "tie (bothbad)"
    return pd.DataFrame({"model_a": np.array(models)[a], "model_b": np.array(models)[b], "winner": winner,
                         "w": rng.integers(1, 4, n).astype(float)})


def _splits(n: int, n_shards: int, seed: int) -> list[np.ndarray]:
    """Random contiguous shards of the row order (shards keep the concatenation's order)."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, n), size=n_shards - 1, replace=False))
    return np.split(np.arange(n), cuts)


def _ratings_equal(x: RK.BootstrapRatings, y: RK.BootstrapRatings) -> None:
    pd.testing.assert_frame_equal(x.leaderboard, y.leaderboard, check_exact=True)
    pd.testing.assert_frame_equal(x.samples, y.samples, check_exact=True)
    pd.testing.assert_frame_equal(x.win_rate, y.win_rate, check_exact=True)
    assert x.failed_rounds == y.failed_rounds


# --- win/loss tables ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_shards", [2, 3, 7])
@pytest.mark.parametrize("seed", range(3))
def test_battle_shards_merge_to_the_one_pass_table_and_ratings(seed, n_shards):
    battles = _battles(seed, 600 + 200 * seed, 4 + 2 * seed)
    parts = [summarise_battles(battles.iloc[idx]) for idx in _splits(len(battles), n_shards, seed)]
    one = summarise_battles(battles)
    merged = sum(parts)
    assert merged.same_as(one) and merge_pairwise(*parts).same_as(one)
    assert merged.n_battles == len(battles)
    # the figures of the merge are the raw functions' on the battles, exactly
    boot = Bootstrap(rounds=60, random_state=seed)
    _ratings_equal(merged.bootstrap_ratings(bootstrap=boot), RK.bootstrap_ratings(battles, bootstrap=boot))
    pd.testing.assert_series_equal(merged.bradley_terry(), RK.bradley_terry(battles), check_exact=True)
    pd.testing.assert_frame_equal(merged.win_rate_matrix(), RK.win_rate_matrix(battles), check_exact=True)


def test_counts_per_ordered_pair_are_the_battles_counted_by_hand():
    battles = _battles(5, 500, 5)
    parts = [summarise_battles(battles.iloc[idx]) for idx in _splits(len(battles), 4, 5)]
    got = sum(parts).counts().set_index(["model_a", "model_b"])
    by_hand = battles.assign(wins_a=battles["winner"] == "model_a", wins_b=battles["winner"] == "model_b",
                             ties=battles["winner"].str.startswith("tie"))
    want = by_hand.groupby(["model_a", "model_b"])[["wins_a", "wins_b", "ties"]].sum().astype(float)
    pd.testing.assert_frame_equal(got.sort_index(), want, check_names=False)
    assert (got.sum(axis=1) > 0).all()


def test_shards_with_disjoint_models_and_a_model_only_ever_model_b():
    """The numbering follows first appearance in each column: shards that meet different models
    (one model only ever on the B side) still merge to the concatenation's numbering."""
    b1 = pd.DataFrame({"model_a": ["x", "y", "x"], "model_b": ["y", "x", "q"], "winner": ["model_a", "tie", "model_b"]})
    b2 = pd.DataFrame({"model_a": ["z", "w", "q", "z"], "model_b": ["w", "z", "x", "y"],
                       "winner": ["model_b", "model_a", "tie", "model_a"]})
    merged = summarise_battles(b1) + summarise_battles(b2)
    both = pd.concat([b1, b2], ignore_index=True)
    assert merged.same_as(summarise_battles(both))
    assert merged.models == ["x", "y", "z", "w", "q"]
    pd.testing.assert_frame_equal(merged.win_rate_matrix(), RK.win_rate_matrix(both), check_exact=True)


def test_weighted_battles_merge_and_refuse_mixing():
    battles = _battles(2, 400, 4)
    parts = [summarise_battles(battles.iloc[idx], weights="w") for idx in _splits(len(battles), 3, 2)]
    merged = merge_pairwise(*parts)
    one = summarise_battles(battles, weights="w")
    assert merged.same_as(one)  # small integer weights: sums are exact
    boot = Bootstrap(rounds=40, random_state=1)
    _ratings_equal(merged.bootstrap_ratings(bootstrap=boot), RK.bootstrap_ratings(battles, bootstrap=boot, weights="w"))
    with pytest.raises(ValueError, match="weighted"):
        parts[0] + summarise_battles(battles)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 120), n_models=st.integers(2, 6), n_shards=st.integers(2, 6))
def test_battle_merge_is_the_concatenation_whatever_the_split(seed, n, n_models, n_shards):
    battles = _battles(seed, n, n_models)
    n_shards = min(n_shards, n)
    parts = [summarise_battles(battles.iloc[idx]) for idx in _splits(n, n_shards, seed)]
    merged = merge_pairwise(*parts)
    assert merged.same_as(summarise_battles(battles))
    # associativity: merging in two steps is the same
    assert (merge_pairwise(*parts[:1]) + merge_pairwise(*parts[1:])).same_as(merged)


# --- paired scores -----------------------------------------------------------------------------


def _paired(seed: int, n: int, *, clusters: int | None = None, integer: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(3, 1, n)
    b = a + 0.2 + rng.normal(0, 1, n)
    if integer:
        a, b = np.clip(np.rint(a), 1, 5), np.clip(np.rint(b), 1, 5)
    keys = [f"item{i:05d}" for i in rng.permutation(n)]
    c = None if clusters is None else [f"c{i % clusters}" for i in range(n)]
    return pd.DataFrame({"key": keys, "a": a, "b": b, "cluster": c})


def _key_order(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("key").reset_index(drop=True)


def _shards(df: pd.DataFrame, n_shards: int, seed: int, clusters: bool) -> list:
    """Random (not contiguous) disjoint shards of the units."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, n_shards, len(df))
    return [summarise_paired(g["key"], g["a"], g["b"], clusters=g["cluster"] if clusters else None)
            for _, g in df.groupby(label)]


def _result(res: AB.PairedTestResult) -> str:
    return repr(dataclasses.astuple(res))  # exact, with NaN equal to itself


@pytest.mark.parametrize("method, clusters", [(m, c) for m in AB.METHODS for c in (None, 7)
                                              if not (m == "wilcoxon" and c)])  # no clustered Wilcoxon
@pytest.mark.parametrize("n_shards", [2, 5])
def test_paired_shards_give_every_method_exactly(method, clusters, n_shards):
    df = _paired(3, 90, clusters=clusters)
    parts = _shards(df, n_shards, 11, clusters is not None)
    merged = merge_paired(*parts)
    raw = _key_order(df)
    cl = raw["cluster"].to_numpy() if clusters else None
    assert merged.same_as(summarise_paired(df["key"], df["a"], df["b"], clusters=df["cluster"] if clusters else None))
    kw = dict(method=method, random_state=5, n_resamples=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = paired_test(raw["a"].to_numpy(), raw["b"].to_numpy(), clusters=cl, **kw)
        got = merged.test(**kw)
    assert _result(got) == _result(want)
    assert got.n == 90 and (got.n_clusters == clusters)


def test_units_without_clusters_are_their_own_when_merged_with_clustered_ones():
    df = _paired(4, 60, clusters=5)
    df.loc[df.index[:20], "cluster"] = df.loc[df.index[:20], "key"]  # what pair_keys gives an item without one
    first = summarise_paired(df["key"][:20], df["a"][:20], df["b"][:20])  # no clusters in this shard
    second = summarise_paired(df["key"][20:], df["a"][20:], df["b"][20:], clusters=df["cluster"][20:])
    merged = first + second
    one = summarise_paired(df["key"], df["a"], df["b"], clusters=df["cluster"])
    assert merged.same_as(one)
    assert _result(merged.test(method="bootstrap", random_state=0)) == _result(one.test(method="bootstrap",
                                                                                        random_state=0))


def test_a_unit_in_two_shards_is_refused():
    df = _paired(1, 10)
    with pytest.raises(ValueError, match="in two shards"):
        summarise_paired(df["key"][:6], df["a"][:6], df["b"][:6]) + summarise_paired(
            df["key"][5:], df["a"][5:], df["b"][5:])
    with pytest.raises(ValueError, match="appears twice"):
        summarise_paired(["x", "x"], [1, 2], [2, 3])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 200), n_shards=st.integers(1, 8))
def test_moments_of_integer_scores_add_up_exactly(seed, n, n_shards):
    """Scores on a 1-5 scale: every partial sum is an exact integer, so the shards' sums equal the one pass's."""
    df = _paired(seed, n, integer=True)
    parts = _shards(df, n_shards, seed, False)
    whole = summarise_paired(df["key"], df["a"], df["b"])
    one = whole.moments()
    assert sum(p.moments() for p in parts) == one
    assert merge_paired(*parts).moments() == one
    assert merge_paired(*parts).same_as(whole) and merge_paired(*parts[::-1]).same_as(whole)  # any order


def test_moments_give_the_t_test():
    df = _paired(8, 300)
    parts = _shards(df, 4, 2, False)
    m = sum((p.moments() for p in parts), PairedMoments())
    raw = paired_test(df["a"], df["b"])
    got = m.t_test()
    for f in ("estimate", "se", "ci_low", "ci_high", "pvalue", "statistic", "effect_size", "mean_a", "mean_b"):
        assert getattr(got, f) == pytest.approx(getattr(raw, f), rel=1e-12, abs=1e-14), f
    assert (got.n, got.df, got.method) == (raw.n, raw.df, raw.method)
    # the sleep data of paired_test's doctest, through the sums
    a = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    b = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    r = summarise_paired([str(i) for i in range(10)], a, b).moments().t_test()
    assert round(r.statistic, 4) == 4.0621 and round(r.pvalue, 6) == 0.002833
    with pytest.raises(ValueError, match="at least two"):
        PairedMoments(1, 1.0, 2.0, 1.0, 1.0).t_test()
    assert math.isnan(PairedMoments(3, 3.0, 3.0, 0.0, 0.0).t_test().statistic)
