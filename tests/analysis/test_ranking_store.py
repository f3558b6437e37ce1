"""Leaderboards over the store: battles from comparisons and judgments, checked against independent builds."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from assay import records as R
from assay.analysis.options import Options, Selection
from assay.analysis.ranking import RatingFit, comparison_battles, judgment_battles, rank_models, score_leaderboard
from assay.bundled import PANDALM_MODELS, PANDALM_VERSION, load_pandalm
from assay.rubrics import add_rubric
from assay.stats.ranking import Bootstrap, bootstrap_ratings, bradley_terry, win_rate_matrix

HUMANS = [f"human:pandalm-annotator{i}" for i in (1, 2, 3)]
CODE = {0: "tie", 1: "model_a", 2: "model_b"}


def pandalm_rows() -> list[dict]:
    return json.loads(resources.files("assay.data").joinpath("pandalm", "testset-v1.json").read_text("utf-8"))


def split_key(key: str) -> tuple[str, str]:
    for m in PANDALM_MODELS:
        rest = key[len(m) + 1:]
        if key.startswith(m + "_") and rest in PANDALM_MODELS:
            return f"{m}@{PANDALM_VERSION}", f"{rest}@{PANDALM_VERSION}"
    raise AssertionError(key)


def independent_battles(majority: bool = False) -> pd.DataFrame:
    """PandaLM's human verdicts straight from the bundled JSON, one battle per annotator (or plurality)."""
    out = []
    for row in pandalm_rows():
        a, b = split_key(row["cmp_key"])
        codes = [int(row[f"annotator{i}"]) for i in (1, 2, 3)]
        if majority:
            top = Counter(codes).most_common()
            codes = [top[0][0] if len(top) == 1 or top[0][1] > top[1][1] else 0]
        out += [{"model_a": a, "model_b": b, "winner": CODE[c]} for c in codes]
    return pd.DataFrame(out)


def _multiset(df: pd.DataFrame) -> Counter:
    return Counter(map(tuple, df[["model_a", "model_b", "winner"]].to_numpy().tolist()))


def test_pandalm_battles_match_the_bundled_file_and_rank_the_five_models(store):
    load_pandalm(store)
    battles = comparison_battles(store, raters=HUMANS)
    expected = independent_battles()
    assert len(battles) == 2997 and _multiset(battles) == _multiset(expected)
    assert set(battles["rater"]) == set(HUMANS)

    lb = rank_models(store, comparisons=True, select=Selection(raters=HUMANS),
                     options=Options(rounds=300, random_state=1))
    board = lb.ratings.leaderboard
    assert set(board.index) == {f"{m}@{PANDALM_VERSION}" for m in PANDALM_MODELS}
    ref = bradley_terry(expected)
    assert board["rating"].to_dict() == pytest.approx(ref.to_dict(), abs=1e-6)
    assert list(board.index) == list(ref.sort_values(ascending=False).index)
    wr = win_rate_matrix(expected)
    pd.testing.assert_frame_equal(lb.ratings.win_rate, wr.loc[board.index, board.index], check_names=False)
    assert (board["lower"] < board["rating"]).all() and (board["rating"] < board["upper"]).all()
    # the same bootstrap on the independently built battles gives intervals within Monte Carlo error
    ind = bootstrap_ratings(expected, bootstrap=Bootstrap(rounds=300, random_state=1)).leaderboard.loc[board.index]
    assert np.abs(ind["lower"] - board["lower"]).max() < 8 and np.abs(ind["upper"] - board["upper"]).max() < 8
    assert board["battles"].sum() == 2 * 2997
    rep = lb.to_dict()
    assert rep["battles"] == 2997 and rep["raters"] == HUMANS
    assert rep["win_rate"]["models"] == list(board.index)


def test_majority_gives_one_battle_per_pair(store):
    load_pandalm(store)
    battles = comparison_battles(store, raters=HUMANS, aggregate="majority")
    assert len(battles) == 999 and (battles["votes"] == 3).all()
    assert _multiset(battles) == _multiset(independent_battles(majority=True))
    # the judge alone: one battle per verdict it gave
    judge = comparison_battles(store, raters=["llm:gpt-3.5-turbo:1cb21d393250"])
    assert len(judge) == store.count("comparisons", rater_id="llm:gpt-3.5-turbo:1cb21d393250")


def _rubric(store, direction="higher_is_better") -> R.Rubric:
    rub = R.Rubric(name="tiny", version=1, dimensions=[
        R.Dimension(name="quality", description="how good", scale=R.Scale(kind="ordinal", levels=[
            R.Level(value=v, label=str(v), anchor=f"level {v}") for v in range(1, 6)])),
        R.Dimension(name="harm", description="how harmful", direction="lower_is_better",
                    scale=R.Scale(kind="continuous", min=0, max=10)),
    ])
    add_rubric(store, rub)
    return rub


def _add_scores(store, table: dict[tuple[str, str], list[float]], *, dimension: str, shared_items: bool = True,
                raters: tuple[str, ...] = ("j1",)) -> None:
    """table[(prompt, model)] = one value per rater (sample 0)."""
    recs: list[R.Record] = [R.Dataset(name="d")]
    rs = {r: R.Rater(id=f"llm:{r}:x", kind="llm", name=r) for r in raters}
    recs += list(rs.values())
    recs += [R.Model(id=m, provider="none") for m in sorted({m for _, m in table})]
    for (prompt, model), values in table.items():
        ext = prompt if shared_items else f"{prompt}/{model}"
        item = R.Item(id=R.Item.make_id("d", ext, None, None), dataset="d", external_id=ext, prompt=prompt)
        resp = R.Response(id=R.Response.make_id(item.id, model, 0), item_id=item.id, model=model,
                          text=f"answer of {model}")
        recs += [item, resp]
        for r, v in zip(raters, values):
            recs.append(R.Judgment(response_id=resp.id, rater_id=rs[r].id, rubric="tiny@1", dimension=dimension,
                                   value=v))
    store.add(recs)


def test_judgment_battles_higher_score_wins_ties_tie_and_lower_is_better_flips(store):
    _rubric(store)
    q = {("p1", "x@1"): [5], ("p1", "y@1"): [3], ("p1", "z@1"): [3],
         ("p2", "x@1"): [2], ("p2", "y@1"): [4]}
    _add_scores(store, q, dimension="quality")
    _add_scores(store, {k: [float(v[0])] for k, v in q.items()}, dimension="harm")
    b = judgment_battles(store, rubric="tiny@1", dimension="quality")
    got = sorted(map(tuple, b[["model_a", "model_b", "winner"]].to_numpy().tolist()))
    assert got == sorted([("x@1", "y@1", "model_a"), ("x@1", "z@1", "model_a"), ("y@1", "z@1", "tie"),
                          ("x@1", "y@1", "model_b")])
    assert b.attrs["pair_by"] == "item"
    h = judgment_battles(store, rubric="tiny@1", dimension="harm")
    flipped = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
    assert sorted(map(tuple, h[["model_a", "model_b", "winner"]].to_numpy().tolist())) == sorted(
        (a, bb, flipped[w]) for a, bb, w in got)


def test_raters_averaged_or_separate_and_prompt_matching(store):
    _rubric(store)
    # each (prompt, model) is its own item, as in HANNA: prompts match by text
    table = {("p1", "x@1"): [5, 1], ("p1", "y@1"): [2, 2], ("p2", "x@1"): [4, 4], ("p2", "y@1"): [3, 5]}
    _add_scores(store, table, dimension="quality", shared_items=False, raters=("j1", "j2"))
    mean = judgment_battles(store, rubric="tiny@1", dimension="quality")
    assert mean.attrs["pair_by"] == "prompt" and len(mean) == 2
    # p1: x 3.0 vs y 2.0 -> x; p2: x 4.0 vs y 4.0 -> tie
    assert sorted(mean["winner"]) == ["model_a", "tie"]
    sep = judgment_battles(store, rubric="tiny@1", dimension="quality", aggregate="separate")
    assert len(sep) == 4
    assert sorted(zip(sep["rater"], sep["winner"])) == sorted([
        ("llm:j1:x", "model_a"), ("llm:j2:x", "model_b"), ("llm:j1:x", "model_a"), ("llm:j2:x", "model_b")])
    assert judgment_battles(store, rubric="tiny@1", dimension="quality", pair_by="item").empty
    board = score_leaderboard(store, rubric="tiny@1", dimension="quality")
    assert board.loc["x@1", "score"] == pytest.approx(np.mean([3.0, 4.0]))
    assert board.loc["y@1", "score"] == pytest.approx(np.mean([2.0, 4.0]))
    assert board.loc["x@1", "n"] == 2


def test_style_control_separates_length_from_skill(store):
    """Raters here prefer the longer answer; x writes long answers more often than y."""
    rng = np.random.default_rng(3)
    recs: list[R.Record] = [R.Dataset(name="s"), R.Rater(id="human:h", kind="human", name="h"),
                            R.Model(id="x@1", provider="none"), R.Model(id="y@1", provider="none")]
    for i in range(600):
        item = R.Item(id=R.Item.make_id("s", str(i), None, None), dataset="s", external_id=str(i), prompt=f"q{i}")
        long_x = rng.random() < 0.7
        long_y = rng.random() < 0.3
        words = {"x@1": 60 if long_x else 10, "y@1": 60 if long_y else 10}
        resp = {m: R.Response(id=R.Response.make_id(item.id, m, 0), item_id=item.id, model=m,
                              text=" ".join(["w"] * (words[m] + int(rng.integers(0, 5)))))
                for m in words}
        if words["x@1"] == words["y@1"]:
            winner = resp["x@1"] if rng.random() < 0.5 else resp["y@1"]
        else:
            longer = max(resp, key=lambda m: words[m])
            shorter = min(resp, key=lambda m: words[m])
            winner = resp[longer] if rng.random() < 0.85 else resp[shorter]
        ids = [resp["x@1"].id, resp["y@1"].id]
        recs += [item, *resp.values(), R.Comparison(item_id=item.id, rater_id="human:h", response_ids=ids,
                                                    shown_order=ids, winner=winner.id)]
    store.add(recs)
    lb = rank_models(store, comparisons=True, options=Options(rounds=100, random_state=0),
                     fit=RatingFit(style_control=True, style_rounds=30))
    raw = lb.ratings.ratings
    ctl = lb.controlled.ratings
    assert raw["x@1"] - raw["y@1"] > 80  # the raw board rewards x's length
    assert abs(ctl["x@1"] - ctl["y@1"]) < 0.5 * (raw["x@1"] - raw["y@1"])
    assert lb.controlled.coefficients["length"] > 0.5
    assert lb.meta["style_covariates"] == ["length"]  # no markdown in these answers
    assert {r["covariate"] for r in lb.to_dict()["style_control"]["coefficients"]} == {"length"}
