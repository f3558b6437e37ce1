"""`assay rank` over judges that saw both orders: every comparison counts, strong wins weigh (Arena-Hard's recipe)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from assay import records as R
from assay.cli import main

BASE = "base@1"
MODELS = ["strong@1", "close@1", "weak@1", "worst@1"]
LABELS = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def judgment_file(seed: int = 7, questions: int = 60) -> list[dict]:
    """Arena-Hard style judgments: per model and question two games, A the baseline in game 1 and the model in game 2.

    Labels are drawn from a skill gap plus a pull towards answer A (position bias), so the
    two games of a question often disagree; a few games have no verdict (as when a judge's
    answer could not be parsed), which Arena-Hard skips.
    """
    rng = np.random.default_rng(seed)
    skill = {"strong@1": 1.2, "close@1": 0.15, "weak@1": -0.7, "worst@1": -1.6}
    rows = []
    for model in MODELS:
        for q in range(questions):
            games = []
            for game in (1, 2):
                if rng.random() < 0.03:
                    games.append({"score": None})
                    continue
                gap = skill[model] if game == 2 else -skill[model]  # A's advantage over B
                x = gap + 0.4 + rng.normal(0, 1.0)
                label = "A>>B" if x > 1.5 else "A>B" if x > 0.4 else "A=B" if x > -0.4 else "B>A" if x > -1.5 else "B>>A"
                games.append({"score": label})
            rows.append({"question_id": f"q{q}", "model": model, "games": games})
    return rows


def arena_hard_battles(judgments: list[dict], weight: int = 3) -> pd.DataFrame:
    """Arena-Hard v0.1's battles (written here from its published description): model_a is always the baseline;
    game 1 shows the baseline as A, game 2 as B; a strong verdict is repeated ``weight`` times; no verdict, no battle."""
    out = []
    for row in judgments:
        for game, g in enumerate(row["games"], start=1):
            label = g["score"]
            if label is None:
                continue
            if label == "A=B":
                winner = "tie"
            else:
                a_wins = label.startswith("A>")
                base_wins = a_wins if game == 1 else not a_wins
                winner = "model_a" if base_wins else "model_b"
            n = weight if ">>" in label else 1
            out += [{"model_a": BASE, "model_b": row["model"], "winner": winner}] * n
    return pd.DataFrame(out)


def arena_hard_elo(battles: pd.DataFrame) -> pd.Series:
    """Arena-Hard's Bradley-Terry: logistic regression without intercept on the battles written twice (a tie is
    one win for each side), log-odds in base 10 on a 400-point scale, anchored at the baseline = 1000."""
    from sklearn.linear_model import LogisticRegression

    models = pd.Index(pd.concat([battles["model_a"], battles["model_b"]]).unique())
    df = pd.concat([battles, battles], ignore_index=True)
    n = len(df)
    x = np.zeros((n, len(models)))
    x[np.arange(n), models.get_indexer(df["model_a"])] = math.log(10)
    x[np.arange(n), models.get_indexer(df["model_b"])] = -math.log(10)
    y = (df["winner"] == "model_a").to_numpy(float)
    tie = (df["winner"] == "tie").to_numpy().copy()
    tie[n // 2:] = False
    y[tie] = 1.0
    lr = LogisticRegression(fit_intercept=False, C=np.inf, solver="newton-cg", tol=1e-12, max_iter=1000)
    lr.fit(x, y)
    elo = 400 * lr.coef_[0] + 1000
    elo += 1000 - elo[models.get_loc(BASE)]
    return pd.Series(elo, index=models)


def store_arena(capsys, tmp_path, db: str, judgments: list[dict]) -> None:
    """Answers through `assay import`, the judge and its verdicts through `assay import --kind raters/comparisons`."""
    questions = sorted({r["question_id"] for r in judgments})
    answers = [{"id": q, "prompt": f"question {q}", "response": f"{m} answers {q}", "model": m}
               for q in questions for m in [BASE, *MODELS]]
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    code, _, err = run(capsys, "--db", db, "import", str(tmp_path / "answers.jsonl"), "--model-field", "model",
                       "--dataset", "arena")
    assert code == 0, err
    judge = R.Rater(id="llm:gpt-4-judge:arena", kind="llm", name="gpt-4-judge", model="gpt-4-judge")
    (tmp_path / "raters.jsonl").write_text(judge.model_dump_json() + "\n")
    assert run(capsys, "--db", db, "import", str(tmp_path / "raters.jsonl"), "--kind", "raters")[0] == 0
    comps = []
    for row in judgments:
        item = R.Item.make_id("arena", row["question_id"], None, None)
        base, other = R.Response.make_id(item, BASE, 0), R.Response.make_id(item, row["model"], 0)
        for game, g in enumerate(row["games"], start=1):
            if g["score"] is None:
                continue
            shown = [base, other] if game == 1 else [other, base]
            label = g["score"]
            win = None if label == "A=B" else shown[0] if label.startswith("A>") else shown[1]
            comps.append(R.Comparison(
                id=f"{row['model']}-{row['question_id']}-g{game}", item_id=item, rater_id=judge.id,
                response_ids=[base, other], shown_order=shown, outcome="tie" if win is None else "win", winner=win,
                strength=None if win is None else 2 if ">>" in label else 1, detail={"game": game, "label": label}))
    (tmp_path / "comparisons.jsonl").write_text("".join(c.model_dump_json() + "\n" for c in comps))
    code, _, err = run(capsys, "--db", db, "import", str(tmp_path / "comparisons.jsonl"), "--kind", "comparisons")
    assert code == 0, err


def test_arena_hard_leaderboard_reproduced_through_the_store_and_the_cli(capsys, tmp_path, store_url):
    judgments = judgment_file()
    battles = arena_hard_battles(judgments)
    want = arena_hard_elo(battles)
    want_winrate = 1 / (1 + 10 ** ((1000 - want) / 400))
    store_arena(capsys, tmp_path, store_url, judgments)
    games = sum(g["score"] is not None for r in judgments for g in r["games"])

    code, out, err = run(capsys, "--db", store_url, "rank", "--comparisons", "--strong-weight", "3", "--baseline",
                         BASE, "--rounds", "100", "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["comparisons"]["stored"] == rep["comparisons"]["used"] == games  # both games of every question
    assert rep["battles"] == len(battles)  # strong verdicts three times
    board = {r["model"]: r for r in rep["leaderboard"]}
    assert [r["model"] for r in rep["leaderboard"]] == list(want.sort_values(ascending=False).index)
    for model, elo in want.items():
        # the same Bradley-Terry coefficients (log10 odds) to 1e-6
        assert (board[model]["rating"] - 1000) / 400 == pytest.approx((elo - 1000) / 400, abs=1e-6), model
        assert board[model]["win_rate_vs_baseline"] == pytest.approx(want_winrate[model], abs=1e-6)
        played = int((battles["model_b"] == model).sum()) if model != BASE else len(battles)
        assert board[model]["battles"] == played
        assert board[model]["lower"] <= board[model]["rating"] <= board[model]["upper"]
    assert board[BASE]["rating"] == 1000 and board[BASE]["win_rate_vs_baseline"] == 0.5

    # without the weight a strong win is one battle: a different leaderboard, still every game
    code, out, _ = run(capsys, "--db", store_url, "rank", "--comparisons", "--rounds", "20", "--json")
    plain = json.loads(out)
    assert plain["battles"] == games and plain["comparisons"]["used"] == games
    unweighted = arena_hard_elo(arena_hard_battles(judgments, weight=1))
    rating = {r["model"]: r["rating"] for r in plain["leaderboard"]}
    for m in MODELS:
        assert rating[m] - rating[BASE] == pytest.approx(unweighted[m] - 1000, abs=4e-4)

    code, out, _ = run(capsys, "--db", store_url, "rank", "--comparisons", "--strong-weight", "3", "--baseline", BASE,
                       "--rounds", "50")
    assert code == 0 and "win rate vs baseline" in out and "strong wins x3" in out
    assert f"{BASE} anchored at 1000" in out.replace("\n", " ")
    assert "ranks tie when intervals overlap" in out
    assert f"comparisons: {games} stored, {games} used (every stored comparison counts)" in out


def test_a_judge_that_saw_both_orders_counts_twice_unless_asked(capsys, tmp_path, store_url):
    # one judge, both orders of each pair as two comparisons (game 1 shows the baseline first, game 2 second)
    judgments = [{"question_id": f"q{q}", "model": "strong@1",
                  "games": [{"score": "B>A" if q % 4 else "A>B"}, {"score": "A>B" if q % 5 else "B>A"}]}
                 for q in range(20)]
    store_arena(capsys, tmp_path, store_url, judgments)
    code, out, err = run(capsys, "--db", store_url, "rank", "--comparisons", "--rounds", "20", "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["comparisons"] == {"stored": 40, "used": 40,
                                  "dropped": {"superseded": 0, "three_or_more_responses": 0, "same_model": 0}}
    # strong wins 15 of 20 first games and 16 of 20 second games: 31 of 40, d = 400 log10(31 / 9)
    r = {x["model"]: x["rating"] for x in rep["leaderboard"]}
    assert r["strong@1"] - r[BASE] == pytest.approx(400 * math.log10(31 / 9), abs=1e-6)

    code, out, err = run(capsys, "--db", store_url, "rank", "--comparisons", "--rounds", "20", "--one-per-rater",
                         "--json")
    assert code == 0, err
    one = json.loads(out)
    assert one["comparisons"]["used"] == 20 and one["comparisons"]["dropped"]["one_per_rater"] == 20
    assert one["battles"] == 20 and one["one_per_rater"] is True
    r = {x["model"]: x["rating"] for x in one["leaderboard"]}  # the later game of each pair: 16 of 20
    assert r["strong@1"] - r[BASE] == pytest.approx(400 * math.log10(16 / 4), abs=1e-6)
    code, out, _ = run(capsys, "--db", store_url, "rank", "--comparisons", "--rounds", "20", "--one-per-rater")
    assert "comparisons: 40 stored, 20 used; dropped 20 (--one-per-rater)" in out
