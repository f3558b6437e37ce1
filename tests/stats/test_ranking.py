"""Rankings from battles: Chatbot Arena's recipes reproduced, bootstrap intervals, PandaLM's human verdicts."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from assay.stats import _bt
from assay.stats.ranking import (
    Bootstrap,
    EloScale,
    bootstrap_ratings,
    bradley_terry,
    elo,
    predicted_win_probability,
    rank_with_ties,
    win_rate_matrix,
)

from tests.conftest import BUNDLED

WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)"]


def random_battles(n: int, models: int, seed: int, tie_rate: float = 0.15) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, models)
    a = rng.integers(0, models, n)
    b = (a + rng.integers(1, models, n)) % models
    p = expit(strength[a] - strength[b])
    u = rng.random(n)
    tie = rng.random(n) < tie_rate
    both_bad = rng.random(n) < 0.5
    winner = np.where(tie, np.where(both_bad, "tie (bothbad)", "tie"), np.where(u < p, "model_a", "model_b"))
    names = np.array([f"m{i}" for i in range(models)], dtype=object)
    return pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})


# --- online Elo -------------------------------------------------------------------------


def elo_oracle(battles, k=4.0, scale=400.0, base=10.0, init=1000.0):
    """Textbook online Elo, written independently of assay."""
    ratings: dict[str, float] = {}
    for ma, mb, w in battles[["model_a", "model_b", "winner"]].itertuples(index=False):
        ra = ratings.setdefault(ma, init)
        rb = ratings.setdefault(mb, init)
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        sa = {"model_a": 1.0, "model_b": 0.0}.get(w, 0.5)
        ratings[ma] = ra + k * (sa - ea)
        ratings[mb] = rb - k * (sa - ea)
    return pd.Series(ratings)


def test_elo_hand_checked_values():
    battles = pd.DataFrame(
        {"model_a": ["x", "y", "x"], "model_b": ["y", "z", "z"], "winner": ["model_a", "tie", "model_b"]}
    )
    r = elo(battles)
    # 1) x beats y from 1000/1000: +-2.  2) y (998) ties z (1000): E_y = 1/(1+10^(2/400)),
    # y += 4 (0.5 - E_y) = 4 * 0.0028782 = 0.0115128.  3) z (999.9884872) beats x (1002).
    e_y = 1 / (1 + 10 ** (2 / 400))
    y = 998 + 4 * (0.5 - e_y)
    z = 1000 - 4 * (0.5 - e_y)
    e_x = 1 / (1 + 10 ** ((z - 1002) / 400))
    assert y == pytest.approx(998.0115128, abs=1e-7)
    assert r["x"] == pytest.approx(1002 - 4 * e_x, abs=1e-12)
    assert r["y"] == pytest.approx(y, abs=1e-12)
    assert r["z"] == pytest.approx(z + 4 * e_x, abs=1e-12)
    assert r.sum() == pytest.approx(3000)  # Elo is zero-sum


@pytest.mark.parametrize("params", [{}, {"k": 32, "scale": 173.7, "base": math.e, "init": 1500}])
def test_elo_matches_independent_loop(params):
    battles = random_battles(3000, 8, seed=1)
    ours = elo(battles, **params)
    oracle = elo_oracle(battles, **params)
    pd.testing.assert_series_equal(ours.sort_index(), oracle.sort_index(), check_names=False, atol=1e-9, rtol=0)


def test_elo_depends_on_order():
    battles = random_battles(500, 4, seed=2)
    assert not np.allclose(elo(battles).sort_index(), elo(battles.iloc[::-1]).sort_index())


# --- Bradley-Terry ----------------------------------------------------------------------


def lbfgs_reference(battles, scale=400.0, base=10.0, init=1000.0):
    """Arena's recipe: L-BFGS logistic regression on the deduplicated (a, b, outcome) rows."""
    models = sorted(set(battles["model_a"]) | set(battles["model_b"]))
    idx = {m: i for i, m in enumerate(models)}
    outcome = battles["winner"].map({"model_a": 1.0, "model_b": 0.0}).fillna(0.5)
    rows = (
        pd.DataFrame({"a": battles["model_a"].map(idx), "b": battles["model_b"].map(idx), "y": outcome})
        .value_counts()
        .reset_index()
    )
    a, b, y, w = (rows[c].to_numpy() for c in ("a", "b", "y", "count"))
    w = w / w.sum()
    alpha = math.log(base)

    def f(theta):
        z = alpha * (theta[a] - theta[b])
        p = expit(z)
        loss = -np.sum(w * (y * np.log(p) + (1 - y) * np.log1p(-p)))
        g_row = -alpha * w * (y - p)
        grad = np.bincount(a, g_row, len(models)) - np.bincount(b, g_row, len(models))
        return loss, grad

    res = minimize(f, np.zeros(len(models)), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-13, "ftol": 0, "maxiter": 20000})
    theta = res.x - res.x.mean()
    return pd.Series(theta * scale + init, index=models)


@pytest.mark.parametrize("seed,n,models", [(3, 400, 5), (4, 5000, 12)])
def test_bradley_terry_matches_lbfgs_on_unique_rows(seed, n, models):
    battles = random_battles(n, models, seed)
    ours = bradley_terry(battles)
    ref = lbfgs_reference(battles)
    assert np.abs(ours.sort_index() - ref.sort_index()).max() < 1e-6
    assert ours.mean() == pytest.approx(1000)


def test_bradley_terry_two_models_closed_form():
    # a wins 7, b wins 2, 2 ties: p = 8/11, and 10^(d/400) = 8/3.
    battles = pd.DataFrame(
        {"model_a": ["a"] * 11, "model_b": ["b"] * 11,
         "winner": ["model_a"] * 7 + ["model_b"] * 2 + ["tie", "tie (bothbad)"]}
    )
    r = bradley_terry(battles)
    assert r["a"] - r["b"] == pytest.approx(400 * math.log10(8 / 3), abs=1e-9)
    assert (r["a"] + r["b"]) / 2 == pytest.approx(1000)


def test_bradley_terry_anchor_scale_and_base():
    battles = random_battles(800, 6, seed=5)
    plain = bradley_terry(battles)
    anchored = bradley_terry(battles, elo=EloScale(anchor=("m2", 1114.0)))
    assert anchored["m2"] == pytest.approx(1114.0)
    np.testing.assert_allclose((anchored - plain).to_numpy(), 1114.0 - plain["m2"])
    natural = bradley_terry(battles, elo=EloScale(scale=1, base=math.e, init=0))
    np.testing.assert_allclose(natural.to_numpy() * 400 / math.log(10) + 1000, plain.to_numpy(), atol=1e-9)


def test_bradley_terry_weights_equal_duplicated_rows():
    battles = random_battles(300, 5, seed=6)
    reps = np.random.default_rng(0).integers(1, 4, len(battles))
    weighted = bradley_terry(battles.assign(w=reps), weights="w")
    duplicated = bradley_terry(battles.loc[battles.index.repeat(reps)])
    pd.testing.assert_series_equal(weighted.sort_index(), duplicated.sort_index(), atol=1e-9)


def test_bradley_terry_without_finite_mle_says_so():
    battles = pd.DataFrame({"model_a": ["a", "a", "b"], "model_b": ["b", "c", "c"], "winner": ["model_a"] * 3})
    with pytest.raises(ValueError, match="infinite"):
        bradley_terry(battles)
    r = bradley_terry(battles, l2=1.0)
    assert r["a"] > r["b"] > r["c"]


@pytest.mark.parametrize(
    "frame,match",
    [
        (pd.DataFrame({"model_a": ["a"], "model_b": ["b"]}), "winner"),
        (pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["A"]}), "unknown winner"),
        (pd.DataFrame({"model_a": ["a"], "model_b": ["a"], "winner": ["tie"]}), "same model"),
        (pd.DataFrame({"model_a": [], "model_b": [], "winner": []}), "empty"),
    ],
)
def test_bad_battles_are_rejected(frame, match):
    with pytest.raises(ValueError, match=match):
        bradley_terry(frame)


def test_win_rate_and_predicted_probabilities():
    battles = pd.DataFrame(
        {"model_a": ["a", "b", "a", "c"], "model_b": ["b", "a", "c", "a"],
         "winner": ["model_a", "model_a", "tie", "model_b"]}
    )
    wr = win_rate_matrix(battles)
    assert wr.loc["a", "b"] == pytest.approx(0.5)  # one win each way
    assert wr.loc["a", "c"] == pytest.approx(0.75)  # a tie and a win
    assert np.isnan(wr.loc["b", "c"])
    p = predicted_win_probability(pd.Series({"x": 1100.0, "y": 1000.0}))
    assert p.loc["x", "y"] == pytest.approx(1 / (1 + 10 ** (-100 / 400)))
    assert p.loc["x", "y"] + p.loc["y", "x"] == pytest.approx(1)


def test_rank_with_ties_counts_wholly_better_models():
    lower = pd.Series({"a": 10.0, "b": 8.0, "c": 1.0, "d": 0.5})
    upper = pd.Series({"a": 12.0, "b": 11.0, "c": 7.0, "d": 1.2})
    assert rank_with_ties(lower, upper).to_dict() == {"a": 1, "b": 1, "c": 3, "d": 3}


# --- bootstrap --------------------------------------------------------------------------


def test_bootstrap_is_seeded_and_summarises_its_samples():
    battles = random_battles(2000, 6, seed=7)
    r1 = bootstrap_ratings(battles, bootstrap=Bootstrap(rounds=300, random_state=11))
    r2 = bootstrap_ratings(battles, bootstrap=Bootstrap(rounds=300, random_state=11))
    r3 = bootstrap_ratings(battles, bootstrap=Bootstrap(rounds=300, random_state=12))
    pd.testing.assert_frame_equal(r1.samples, r2.samples)
    assert not r1.samples.equals(r3.samples)
    board = r1.leaderboard
    assert list(board.index) == list(board["rating"].sort_values(ascending=False).index)
    pd.testing.assert_series_equal(board["rating"], bradley_terry(battles)[board.index], check_names=False)
    q = r1.samples.quantile([0.025, 0.975])
    np.testing.assert_allclose(board["lower"], q.loc[0.025], atol=1e-9)
    np.testing.assert_allclose(board["upper"], q.loc[0.975], atol=1e-9)
    assert ((board["lower"] <= board["rating"]) & (board["rating"] <= board["upper"])).all()
    assert board["battles"].sum() == 2 * len(battles)
    np.testing.assert_allclose(r1.samples.mean(axis=1), 1000)


def test_each_bootstrap_round_is_the_mle_of_its_resample():
    """The batched chord solver against damped Newton, round by round, on the same counts."""
    battles = random_battles(3000, 7, seed=8)
    table = _bt.battle_table(battles)
    pc = _bt.pair_counts(table)
    _, counts = next(_bt.bootstrap_counts(pc, 40, np.random.default_rng(3), n_draws=len(battles)))
    _, fast, failed = _bt.bootstrap_fit(table, 40, np.random.default_rng(3), n_draws=len(battles))
    assert failed == 0
    for r in range(40):
        wins = _bt.wins_from_pair_counts(pc, counts[r])
        slow = _bt.fit_matrix(wins)
        assert np.abs(fast[r] - slow).max() * 400 / math.log(10) < 1e-7


def test_multinomial_sampler_has_multinomial_moments():
    p = np.array([0.5, 0.2, 0.0, 0.25, 0.05])
    n, rounds = 400, 20000
    draws = _bt.multinomial_counts(p, n, np.random.default_rng(0), rounds)
    assert (draws.sum(axis=1) == n).all()
    assert (draws[:, 2] == 0).all()
    se_mean = np.sqrt(n * p * (1 - p) / rounds)
    assert np.all(np.abs(draws.mean(axis=0) - n * p) < 5 * se_mean + 1e-12)
    np.testing.assert_allclose(draws.var(axis=0), n * p * (1 - p), rtol=0.05)
    cov = np.cov(draws[:, 0], draws[:, 1])[0, 1]
    assert cov == pytest.approx(-n * p[0] * p[1], rel=0.1)


def _poisson_inverse_cdf(u, lam):
    """Smallest x with P(X <= x) >= u (scipy's pdtr as the CDF), by stepping from scipy's ppf."""
    from scipy import special, stats

    x = np.maximum(stats.poisson.ppf(u, lam), 0).astype(np.int64)
    while True:  # where the CDF saturates in double precision ppf may land a few counts off
        down = (x > 0) & (special.pdtr(np.maximum(x - 1, 0), lam) >= u)
        up = special.pdtr(x, lam) < u
        if not (down.any() or up.any()):
            return x
        x = x - down + up


def test_poisson_table_is_the_exact_inverse_cdf():
    """Each draw is the Poisson quantile of its uniform, tails beyond the table included."""
    lam = np.array([1e-4, 0.3, 2.0, 17.5, 140.0, 2345.6, 3e5])
    table = _bt.PoissonTable(lam)
    got = table.draw(np.random.default_rng(4), 5000)
    u = np.random.default_rng(4).random((len(lam), 5000)).T  # the uniforms draw() used, categories x rounds
    assert (got == _poisson_inverse_cdf(u, lam)).all()
    # uniforms at and past both ends of each table: the tails are inverted exactly too
    # (not within a few ulps of a CDF value: there two ways of computing the CDF may differ in the last bit)
    below, top = table.below[:, None], table.top[:, None]
    picked = np.hstack([np.zeros_like(below), below * 0.5, below * (1 - 1e-9), below + 1e-13, top - 1e-13,
                        top + (1 - top) * 1e-3, (1 + top) / 2, np.full_like(top, 1 - 2**-53)])
    picked = np.minimum(picked, 1 - 2**-53)  # numpy's uniforms lie in [0, 1)

    class Given:  # hands draw() these uniforms instead of random ones
        def random(self, shape):
            assert shape == picked.shape
            return picked

    got = table.draw(Given(), picked.shape[1])
    assert (got == _poisson_inverse_cdf(picked.T, lam)).all()


def test_poisson_quantile_is_the_inverse_cdf_over_a_wide_range():
    rng = np.random.default_rng(1)
    lam = np.exp(rng.uniform(-8, 13, 20000))
    u = rng.random(20000)
    u[:500], u[500:1000], u[1000:1500] = 0.0, 1 - 2**-53, rng.random(500) * 1e-12
    assert (_bt.poisson_quantile(u, lam) == _poisson_inverse_cdf(u, lam)).all()


def test_bootstrap_interval_covers_true_difference_at_nominal_rate():
    """Simulate from known ratings; the 90% interval of the rating gap should cover ~90%."""
    true = np.array([0.0, 0.3, 0.6])
    covered, trials = 0, 120
    rng = np.random.default_rng(21)
    for _ in range(trials):
        a = rng.integers(0, 3, 600)
        b = (a + rng.integers(1, 3, 600)) % 3
        win = rng.random(600) < expit(true[a] - true[b])
        battles = pd.DataFrame({"model_a": a.astype(str), "model_b": b.astype(str),
                                "winner": np.where(win, "model_a", "model_b")})
        res = bootstrap_ratings(battles, bootstrap=Bootstrap(rounds=200, random_state=rng),
                                elo=EloScale(scale=1, base=math.e, init=0))
        gap = res.samples["2"] - res.samples["0"]
        lo, hi = np.quantile(gap, [0.05, 0.95])
        covered += lo <= 0.6 <= hi
    # 90% nominal; with 120 trials the Monte Carlo SD is 2.7 points.
    assert 0.80 <= covered / trials <= 0.97


def test_bootstrap_failed_rounds_are_counted():
    battles = pd.DataFrame({"model_a": ["a", "b", "a", "b"], "model_b": ["b", "a", "b", "a"],
                            "winner": ["model_a", "model_a", "model_b", "model_a"]})
    with pytest.warns(RuntimeWarning, match="no finite"):
        res = bootstrap_ratings(battles, bootstrap=Bootstrap(rounds=100, random_state=0))
    assert 0 < res.failed_rounds < 100
    assert res.samples.isna().any(axis=1).sum() == res.failed_rounds


# --- PandaLM human verdicts ---------------------------------------------------------------


def pandalm_battles() -> pd.DataFrame:
    rows = pd.DataFrame(json.loads((BUNDLED / "pandalm" / "testset-v1.json").read_text()))
    pair = rows["cmp_key"].str.split("_", expand=True)
    votes = rows[["annotator1", "annotator2", "annotator3"]]
    majority = votes.mode(axis=1)[0]  # the three annotators never split three ways
    assert votes.mode(axis=1).shape[1] == 1
    return pd.DataFrame({
        "model_a": pair[0], "model_b": pair[1],
        "winner": majority.map({0: "tie", 1: "model_a", 2: "model_b"}),
    })


def test_pandalm_human_verdicts_rank_five_models_with_intervals():
    battles = pandalm_battles()
    assert len(battles) == 999
    # the majority labels listed for this data in shared/validation/README.md (pandalm row)
    assert battles["winner"].value_counts().to_dict() == {"model_b": 472, "model_a": 422, "tie": 105}
    res = bootstrap_ratings(battles, bootstrap=Bootstrap(rounds=1000, random_state=0))
    board = res.leaderboard
    assert len(board) == 5 and res.failed_rounds == 0
    # Point ratings are Arena's L-BFGS recipe, to 1e-6.
    ref = lbfgs_reference(battles)
    assert np.abs(board["rating"] - ref[board.index]).max() < 1e-6
    # Ratings order = order of each model's overall score against the field (ties half), counted here.
    score = {}
    for m in board.index:
        as_a = battles[battles.model_a == m]["winner"].map({"model_a": 1, "tie": 0.5, "model_b": 0})
        as_b = battles[battles.model_b == m]["winner"].map({"model_b": 1, "tie": 0.5, "model_a": 0})
        score[m] = pd.concat([as_a, as_b]).mean()
    assert list(board.index) == sorted(score, key=score.get, reverse=True)
    # Intervals of a few dozen Elo points from ~400 battles per model (measured: 50-58; the normal
    # approximation 2 x 1.96 x (400 / ln 10) / sqrt(400 / 4) gives 68), so (20, 150) catches an
    # interval collapsed or blown up; llama-7b alone on top, as the scores counted above order them.
    width = board["upper"] - board["lower"]
    assert ((width > 20) & (width < 150)).all()
    assert board.index[0] == "llama-7b" and board.loc["llama-7b", "rank"] == 1
    assert (board["rank"].iloc[1:] > 1).all()
    assert board["rank"].is_monotonic_increasing
    # Observed head-to-head shares agree with the fitted model's predictions to within sampling error
    # (measured: at most 0.027; a share over the ~100 battles of a pair has a standard error <= 0.05).
    diff = (res.win_rate - res.predicted_win_probability).abs().to_numpy()
    assert np.nanmax(diff) < 0.12


def test_bootstrap_with_constant_weights_equals_unweighted():
    battles = random_battles(1500, 5, seed=9)
    plain = bootstrap_ratings(battles, bootstrap=Bootstrap(rounds=50, random_state=4))
    weighted = bootstrap_ratings(battles.assign(w=2.0), bootstrap=Bootstrap(rounds=50, random_state=4), weights="w")
    np.testing.assert_allclose(weighted.samples.to_numpy(), plain.samples.to_numpy(), atol=1e-8)
    assert weighted.leaderboard["battles"].sum() == pytest.approx(4 * len(battles))


def test_bootstrap_with_ridge_penalty_matches_penalised_fit():
    battles = random_battles(400, 4, seed=10)
    res = bootstrap_ratings(battles, bootstrap=Bootstrap(rounds=30, random_state=0), l2=3.0)
    pd.testing.assert_series_equal(res.ratings, bradley_terry(battles, l2=3.0)[res.ratings.index], check_names=False)
    table = _bt.battle_table(battles)
    pc = _bt.pair_counts(table)
    _, counts = next(_bt.bootstrap_counts(pc, 30, np.random.default_rng(0), n_draws=len(battles)))
    slow = _bt.fit_matrix(_bt.wins_from_pair_counts(pc, counts[7]), l2=3.0)
    fast = (res.samples.iloc[7][table.models].to_numpy() - 1000) * math.log(10) / 400
    assert np.abs(fast - slow).max() < 1e-9
