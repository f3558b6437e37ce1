"""Win rates against a baseline: AlpacaEval's published figures from its published annotations, and the
length-controlled win rate's properties (Dubois et al. 2024)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assay.stats.winrate import hard_win_rate, length_controlled_win_rate, soft_win_rate
from tests.conftest import VALIDATION, require_path

AE = VALIDATION / "alpaca_eval"

# AlpacaEval 2.0's leaderboard row for text_davinci_003 under weighted_alpaca_eval_gpt4_turbo, as published in
# tatsu-lab/alpaca_eval src/alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv
# at commit 69cdc5a (Jan 2024; the row was dropped from later versions of the file, so the copy in shared/ lacks it):
# win_rate 1.9621476654673384, standard_error 0.4346747594217138, n_wins 14, n_wins_base 787, n_draws 4, n_total 805,
# discrete_win_rate 1.9875776397515528.
AE2_DAVINCI = {"win_rate": 1.9621476654673384, "standard_error": 0.4346747594217138, "n_wins": 14,
               "n_wins_base": 787, "n_draws": 4, "discrete_win_rate": 1.9875776397515528}


def test_alpaca_eval_2_soft_and_hard_win_rates_of_text_davinci_003_from_its_annotations():
    path = require_path(AE / "results/text_davinci_003/weighted_alpaca_eval_gpt4_turbo/annotations.json",
                        "AlpacaEval 2.0 annotations of text_davinci_003")
    rows = json.loads(path.read_text())
    # AlpacaEval writes 1 + P(output_2 is preferred); output_2 is text_davinci_003, the baseline gpt4_1106_preview
    p = np.array([float(r["preference"]) - 1 for r in rows])
    soft = soft_win_rate(p)
    assert 100 * soft.value == pytest.approx(AE2_DAVINCI["win_rate"], abs=1e-6)
    assert 100 * soft.se == pytest.approx(AE2_DAVINCI["standard_error"], abs=1e-6)
    hard = hard_win_rate(np.where(p > 0.5, 1.0, np.where(p < 0.5, 0.0, 0.5)))
    assert 100 * hard.value == pytest.approx(AE2_DAVINCI["discrete_win_rate"], abs=1e-6)
    assert (int((p > 0.5).sum()), int((p < 0.5).sum()), int((p == 0.5).sum())) == (14, 787, 4)


def test_alpaca_eval_1_win_rate_of_gpt4_is_the_published_95_2795():
    path = require_path(AE / "results/gpt4/alpaca_eval_gpt4/annotations.json", "AlpacaEval 1 annotations of gpt4")
    board = require_path(AE / "src/alpaca_eval/leaderboards/data_AlpacaEval/alpaca_eval_gpt4_leaderboard.csv",
                         "AlpacaEval 1 leaderboard")
    published = next(line.split(",") for line in board.read_text().splitlines() if line.startswith("gpt4,"))
    rows = json.loads(path.read_text())
    outcome = [{2: 1.0, 1: 0.0, 0: 0.5}[int(r["preference"])] for r in rows]  # 2: gpt4 (output_2) wins, 0: draw
    r = hard_win_rate(outcome)
    assert 100 * r.value == pytest.approx(float(published[1]), abs=1e-6) == pytest.approx(95.2795, abs=1e-4)
    assert 100 * r.se == pytest.approx(float(published[2]), abs=1e-6)  # AlpacaEval's standard_error column
    assert soft_win_rate(outcome).value == r.value


def test_length_controlled_win_rate_is_a_win_rate():
    rng = np.random.default_rng(3)
    delta = rng.normal(200, 400, 300)
    p = 1 / (1 + np.exp(-(0.4 + 1.1 * np.tanh(delta / delta.std(ddof=1)))))
    won = (rng.random(300) < p).astype(float)
    lc = length_controlled_win_rate(won, delta)
    # swapping model and baseline gives one minus the rate (Dubois et al. 2024, section 3: symmetry)
    assert length_controlled_win_rate(1 - won, -delta).value == pytest.approx(1 - lc.value, abs=1e-7)
    # a model against itself: every preference 1/2
    assert length_controlled_win_rate(np.full(50, 0.5), rng.normal(0, 100, 50)).value == pytest.approx(0.5, abs=1e-9)
    # the fitted length term is the one the preferences were drawn with, roughly
    assert lc.length == pytest.approx(1.1, abs=0.45) and lc.intercept == pytest.approx(0.4, abs=0.35)


def test_a_verbose_model_wins_by_length_only_and_length_control_takes_it_back():
    """The judge prefers whichever answer is longer, nothing else: the raw win rate rewards verbosity,
    the length-controlled one says the two are equal."""
    rng = np.random.default_rng(11)
    delta = rng.normal(600, 500, 2000)  # the model writes much longer answers
    p = 1 / (1 + np.exp(-2.0 * np.tanh(delta / delta.std(ddof=1))))
    soft = soft_win_rate(p).value
    lc = length_controlled_win_rate(p, delta)
    assert soft > 0.75
    assert lc.value == pytest.approx(0.5, abs=1e-6) and lc.length == pytest.approx(2.0, abs=1e-6)


def test_length_control_with_an_instruction_difficulty_term():
    rng = np.random.default_rng(5)
    n = 400
    delta, gamma = rng.normal(0, 300, n), rng.normal(0, 1, n)
    z = 0.3 + 0.8 * np.tanh(delta / delta.std(ddof=1)) - 1.5 * gamma
    p = 1 / (1 + np.exp(-z))
    lc = length_controlled_win_rate(p, delta, difficulty=gamma)
    assert (lc.intercept, lc.length, lc.difficulty) == pytest.approx((0.3, 0.8, -1.5), abs=1e-5)
    assert lc.value == pytest.approx(np.mean(1 / (1 + np.exp(-(0.3 - 1.5 * gamma)))), abs=1e-6)


def test_undefined_cases_say_why():
    with pytest.raises(ValueError, match="no comparisons"):
        soft_win_rate([])
    with pytest.raises(ValueError, match="must be 1 .won., 0.5 .tie. or 0"):
        hard_win_rate([1, 0.7])
    with pytest.raises(ValueError, match="one value per comparison"):
        length_controlled_win_rate([1, 0, 1], [1, 2])
    with pytest.warns(RuntimeWarning, match="same verdict"):
        assert length_controlled_win_rate([1, 1, 1], [5, -3, 8]).value == 1.0
    # no length differences: the length term drops out and the rate is the plain one
    assert length_controlled_win_rate([1, 0, 1, 1], [0, 0, 0, 0]).value == pytest.approx(0.75, abs=1e-7)
