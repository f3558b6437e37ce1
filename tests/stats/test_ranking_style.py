"""Style control (Bradley-Terry with covariates) and AlpacaEval-style length-controlled win rates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from assay.stats.ranking import (
    Bootstrap,
    EloScale,
    bradley_terry,
    bradley_terry_controlled,
    length_controlled_win_rate,
    style_features,
)
from assay.stats._style import markdown_counts


def test_markdown_counts_ignore_code_and_count_each_element():
    text = (
        "## Plan\n\nSome **bold** and __also bold__ text.\n\n"
        "1. first\n2) second\n  - nested\n* star\n\n"
        "```python\n# not a header\n- not a list\n```\n"
        "#hashtag is not a header\n"
    )
    c = markdown_counts(text)
    assert c == {"length": len(text.split()), "headers": 1, "lists": 4, "bold": 2}
    assert markdown_counts("one two", tokenizer=list)["length"] == 7


def test_style_features_are_normalised_differences():
    f = style_features(["# A\n# B\n- x", "plain"], ["plain", "# A\n# B\n- x"])
    assert f.loc[0, "headers"] == pytest.approx(2 / 3)
    assert f.loc[1, "headers"] == pytest.approx(-2 / 3)
    assert f.loc[0, "lists"] == pytest.approx(1 / 2)
    np.testing.assert_allclose(f.loc[0], -f.loc[1])
    with pytest.raises(ValueError):
        style_features(["a"], ["a", "b"])


def simulate_style(n=6000, seed=0):
    """Four models of known skill; the judge also likes longer answers (coefficient 0.8)."""
    rng = np.random.default_rng(seed)
    skill = np.array([0.0, 0.4, 0.4, 0.9])
    verbosity = np.array([0.0, 0.0, 1.0, 0.0])  # model 2 writes longer answers
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    len_a = np.exp(5 + 0.7 * verbosity[a] + 0.3 * rng.normal(size=n))
    len_b = np.exp(5 + 0.7 * verbosity[b] + 0.3 * rng.normal(size=n))
    length = (len_a - len_b) / (len_a + len_b + 1)
    p = expit(skill[a] - skill[b] + 0.8 * length / length.std())
    win = rng.random(n) < p
    battles = pd.DataFrame({
        "model_a": [f"m{i}" for i in a], "model_b": [f"m{i}" for i in b],
        "winner": np.where(win, "model_a", "model_b"), "length": length,
    })
    return battles, skill


def lbfgs_controlled(battles, cols):
    """Independent fit: logistic regression on [+1/-1 model indicators, covariates over their SD]."""
    models = sorted(set(battles.model_a) | set(battles.model_b))
    idx = {m: i for i, m in enumerate(models)}
    m = len(models)
    x = np.zeros((len(battles), m))
    x[np.arange(len(battles)), battles.model_a.map(idx)] = 1
    x[np.arange(len(battles)), battles.model_b.map(idx)] = -1
    z = battles[cols].to_numpy(float)
    x = np.hstack([x, z / z.std(0)])
    y = battles.winner.map({"model_a": 1.0, "model_b": 0.0}).fillna(0.5).to_numpy()

    def f(beta):
        eta = x @ beta
        p = expit(eta)
        return -np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)), -x.T @ (y - p)

    res = minimize(f, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-9, "ftol": 0, "maxiter": 10000})
    theta = res.x[:m] - res.x[:m].mean()
    return pd.Series(theta * 400 / math.log(10) + 1000, index=models), pd.Series(res.x[m:], index=cols)


def test_controlled_fit_matches_independent_logistic_regression():
    battles, _ = simulate_style(2000, seed=1)
    res = bradley_terry_controlled(battles, ["length"])
    ratings, coef = lbfgs_controlled(battles, ["length"])
    assert np.abs(res.ratings.sort_index() - ratings.sort_index()).max() < 1e-4
    assert res.coefficients["length"] == pytest.approx(coef["length"], abs=1e-6)
    assert res.coefficients_elo["length"] == pytest.approx(coef["length"] * 400 / math.log(10), abs=1e-4)


def test_style_control_removes_the_verbosity_advantage():
    battles, skill = simulate_style()
    plain = bradley_terry(battles, elo=EloScale(scale=1, base=math.e, init=0))
    controlled = bradley_terry_controlled(battles, ["length"], elo=EloScale(scale=1, base=math.e, init=0),
                                          bootstrap=Bootstrap(rounds=100, random_state=0))
    # m1 and m2 are equally skilled; m2's longer answers inflate its plain rating only.
    assert plain["m2"] - plain["m1"] > 0.2
    assert abs(controlled.ratings["m2"] - controlled.ratings["m1"]) < 0.12
    truth = pd.Series(skill - skill.mean(), index=[f"m{i}" for i in range(4)])
    assert np.abs(controlled.ratings[truth.index] - truth).max() < 0.12
    assert controlled.coefficients["length"] == pytest.approx(0.8, abs=0.1)
    board = controlled.leaderboard
    assert ((board["lower"] < board["rating"]) & (board["rating"] < board["upper"])).all()
    assert controlled.coefficient_samples.shape == (100, 1)


def test_style_is_rated_at_no_difference_not_at_the_mean_difference():
    """With model_a fixed by an order, a centred covariate would rate the models at the average
    style gap; uncentred, a pure style advantage leaves equal skills equal."""
    rng = np.random.default_rng(7)
    n = 4000
    length = rng.normal(1.0, 1.0, n)  # a's answers are longer on average
    win = rng.random(n) < expit(1.2 * length)  # equal skill: only length decides
    battles = pd.DataFrame({"model_a": ["x"] * n, "model_b": ["y"] * n, "length": length,
                            "winner": np.where(win, "model_a", "model_b")})
    res = bradley_terry_controlled(battles, ["length"], elo=EloScale(scale=1, base=math.e, init=0))
    assert abs(res.ratings["x"] - res.ratings["y"]) < 0.15
    assert res.coefficients["length"] == pytest.approx(1.2, abs=0.15)


def test_controlled_with_ties_and_style_frame():
    rng = np.random.default_rng(4)
    n = 400
    battles = pd.DataFrame({
        "model_a": rng.choice(["x", "y", "z"], n),
        "winner": rng.choice(["model_a", "model_b", "tie"], n),
    })
    battles["model_b"] = battles["model_a"].map({"x": "y", "y": "z", "z": "x"})
    def text():
        parts = ["# h"] * int(rng.integers(0, 3)) + ["- item"] * int(rng.integers(0, 4))
        parts += ["**b**"] * int(rng.integers(0, 3)) + ["word"] * int(rng.integers(1, 30))
        return "\n".join(parts)

    feats = style_features([text() for _ in range(n)], [text() for _ in range(n)])
    res = bradley_terry_controlled(battles, feats)
    assert list(res.coefficients.index) == ["length", "headers", "lists", "bold"]
    assert np.isfinite(res.ratings).all()
    with pytest.raises(ValueError, match="do not vary"):
        bradley_terry_controlled(battles, feats.assign(const=1.0))
    with pytest.raises(ValueError, match="collinear"):
        bradley_terry_controlled(battles, feats.assign(twice=2 * feats["bold"]))


def simulate_lc(seed=0, n_instr=400):
    """A baseline and three models; the judge prefers the longer answer (slope 1.5 on tanh)."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 1, n_instr)
    quality = {"same-but-verbose": 0.0, "better": 0.8, "terse-but-better": 0.8}
    extra = {"same-but-verbose": 300.0, "better": 0.0, "terse-but-better": -200.0}
    rows = []
    for model in quality:
        base_len = rng.integers(200, 600, n_instr).astype(float)
        model_len = np.maximum(base_len + extra[model] + rng.normal(0, 300, n_instr), 10)
        delta = model_len - base_len
        logit = quality[model] - 0.7 * difficulty + 1.5 * np.tanh(delta / delta.std())
        win = rng.random(n_instr) < expit(logit)
        swap = rng.random(n_instr) < 0.5  # the baseline shows up on either side
        rows.append(pd.DataFrame({
            "instruction": np.arange(n_instr),
            "model_a": np.where(swap, "baseline", model), "model_b": np.where(swap, model, "baseline"),
            "winner": np.where(win ^ swap, "model_a", "model_b"),
            "length_a": np.where(swap, base_len, model_len), "length_b": np.where(swap, model_len, base_len),
        }))
    return pd.concat(rows, ignore_index=True), difficulty


def test_length_controlled_win_rate_undoes_length_bias():
    battles, _ = simulate_lc()
    res = length_controlled_win_rate(battles, "baseline")
    assert set(res.index) == {"same-but-verbose", "better", "terse-but-better"}
    v, b, t = res.loc["same-but-verbose"], res.loc["better"], res.loc["terse-but-better"]
    assert v["win_rate"] > 0.6  # raw win rate rewards verbosity
    assert abs(v["lc_win_rate"] - 0.5) < 0.06  # controlled: as good as the baseline
    assert abs(b["lc_win_rate"] - b["win_rate"]) < 0.05  # no length gap, little change
    assert t["lc_win_rate"] > t["win_rate"] + 0.1  # terse answers were penalised
    assert abs(t["lc_win_rate"] - b["lc_win_rate"]) < 0.08  # equal quality, equal LC
    assert (res["length_coef"] > 0.8).all()
    assert res.loc["better", "battles"] == 400


def test_length_controlled_win_rate_with_given_difficulty():
    battles, difficulty = simulate_lc(seed=1)
    res = length_controlled_win_rate(battles, "baseline", difficulty=pd.Series(difficulty))
    assert (res["difficulty_coef"] < 0).all()  # the simulated slope on difficulty is -0.7
    assert abs(res.loc["same-but-verbose", "lc_win_rate"] - 0.5) < 0.06
    with pytest.raises(ValueError, match="difficulty"):
        length_controlled_win_rate(battles, "baseline", difficulty=pd.Series(difficulty[:10]))
    with pytest.raises(ValueError, match="baseline"):
        length_controlled_win_rate(battles, "nobody")
