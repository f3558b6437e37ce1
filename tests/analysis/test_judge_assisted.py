"""Judge-assisted (PPI++) leaderboards: a judge with a planted bias on every unit, people on a random 20%.

Four models with planted Bradley-Terry strengths; the judge copies the human verdict on a
unit with probability ``copy`` and otherwise draws from strengths that over-rate one model,
sometimes calling a tie. The checks build the PPI++ arrays straight from the simulation (not
from the store) and call :func:`assay.stats.ppi.bradley_terry` on them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assay import records as R
from assay.analysis.judge_assisted import (
    ELO_PER_LOGIT,
    JudgeAssist,
    assisted_ratings,
    centred_se,
    comparison_units,
    judge_assisted,
    judgment_units,
    unit_arrays,
)
from assay.analysis.options import Options, Selection
from assay.analysis.ranking import BattleRules, RatingFit, rank_models
from assay.errors import BadInput
from assay.rubrics import add_rubric
from assay.stats import ppi

TRUE = {"m1@1": 1100.0, "m2@1": 1040.0, "m3@1": 980.0, "m4@1": 880.0}  # Elo, mean 1000
MODELS = sorted(TRUE)
BIASED = "m3@1"
JUDGE, JUDGE2 = "llm:judge:x", "llm:judge2:x"
HUMANS = ["human:ann", "human:bob"]


def p_win(ra: float, rb: float) -> float:
    return 1.0 / (1.0 + 10 ** ((rb - ra) / 400))


def simulate(seed: int, *, items: int = 150, frac: float = 0.2, bias: float = 400.0, copy: float = 0.6,
             tie: float = 0.1, never_loses: str | None = None, panel: bool = False) -> list[dict]:
    """One row per unit (item, model pair a < b): the human verdict, the judge's (two judges' with ``panel``),
    and who labelled it (None: the judge only). Human verdicts follow TRUE; the judge over-rates BIASED."""
    rng = np.random.default_rng(seed)
    judged = {m: TRUE[m] + (bias if m == BIASED else 0.0) for m in MODELS}

    def judge_verdict(a: str, b: str, u: float) -> float:
        if never_loses in (a, b):
            return 1.0 if a == never_loses else 0.0
        if rng.random() < copy:
            return u
        if rng.random() < tie:
            return 0.5
        return float(rng.random() < p_win(judged[a], judged[b]))

    rows = []
    for i in range(items):
        for x in range(4):
            for y in range(x + 1, 4):
                a, b = MODELS[x], MODELS[y]
                u = float(rng.random() < p_win(TRUE[a], TRUE[b]))
                row = {"i": i, "a": a, "b": b, "human": u, "judge": [judge_verdict(a, b, u)]}
                if panel:
                    row["judge"].append(judge_verdict(a, b, u))
                row["rater"] = (HUMANS[int(rng.random() < 0.5)] if rng.random() < frac else None)
                row["flip"] = bool(rng.random() < 0.5)  # store the pair in the other order
                rows.append(row)
    return rows


def item_id(i: int) -> str:
    return R.Item.make_id("sim", str(i), None, None)


def write_comparisons(store, rows: list[dict], names: dict[str, str] | None = None,
                      campaign: str | None = None) -> None:
    """The simulated units as comparisons: the judges' on every unit, one person's on the labelled ones.
    ``names`` renames models in the store (to plant markup in a model id, say); with ``campaign``,
    the first person's comparisons are in that campaign."""
    name = (names or {}).get
    recs: list[R.Record] = [R.Dataset(name="sim"), R.Rater(id=JUDGE, kind="llm", name="judge"),
                            R.Rater(id=JUDGE2, kind="llm", name="judge2")]
    recs += [R.Rater(id=h, kind="human", name=h.split(":")[1]) for h in HUMANS]
    recs += [R.Model(id=name(m, m), provider="none") for m in MODELS]
    if campaign:
        recs.append(R.Campaign(id=campaign, name=campaign, kind="compare", rubric="default@1"))
    resp = {}
    for i in sorted({r["i"] for r in rows}):
        recs.append(R.Item(id=item_id(i), dataset="sim", external_id=str(i), prompt=f"q{i}"))
        for m in MODELS:
            resp[i, m] = R.Response(id=R.Response.make_id(item_id(i), m, 0), item_id=item_id(i),
                                    model=name(m, m), text=f"{m} on {i}")
            recs.append(resp[i, m])

    def comparison(r: dict, rater: str, verdict: float) -> R.Comparison:
        ids = [resp[r["i"], r["a"]].id, resp[r["i"], r["b"]].id]
        if r["flip"]:
            ids = ids[::-1]
        winner = {1.0: resp[r["i"], r["a"]].id, 0.0: resp[r["i"], r["b"]].id}.get(verdict)
        return R.Comparison(item_id=item_id(r["i"]), rater_id=rater, response_ids=ids, shown_order=ids,
                            outcome="tie" if winner is None else "win", winner=winner,
                            campaign_id=campaign if rater == HUMANS[0] else None)

    for r in rows:
        recs += [comparison(r, j, v) for j, v in zip((JUDGE, JUDGE2), r["judge"])]
        if r["rater"]:
            recs.append(comparison(r, r["rater"], r["human"]))
    store.add(recs)


def direct(rows: list[dict], **kw) -> ppi.PPICoefficients:
    """ppi.bradley_terry on arrays built from the simulation, units in (item id, a, b) order as the store's."""
    rows = sorted(rows, key=lambda r: (item_id(r["i"]), r["a"], r["b"]))
    lab = [r for r in rows if r["rater"]]
    unl = [r for r in rows if not r["rater"]]
    return ppi.bradley_terry([(r["a"], r["b"]) for r in lab], [r["human"] for r in lab],
                             [np.mean(r["judge"]) for r in lab], [(r["a"], r["b"]) for r in unl],
                             [np.mean(r["judge"]) for r in unl], models=MODELS, **kw)


def centred_elo(v: np.ndarray) -> np.ndarray:
    return 1000 + ELO_PER_LOGIT * (v - v.mean())


def board_of(ja: dict) -> dict[str, dict]:
    return {r["model"]: r for r in ja["leaderboard"]}


def rank(store, judges=(JUDGE,), humans=HUMANS, **fit) -> dict:
    """The leaderboard of the judges' comparisons, with judge-assisted ratings, as JSON."""
    lb = rank_models(store, comparisons=True, select=Selection(raters=list(judges)),
                     options=Options(rounds=50, random_state=0), fit=RatingFit(**fit),
                     assist=JudgeAssist(humans=humans))
    return lb.to_dict()


def assisted(store, **kw) -> dict:
    return rank(store, **kw)["judge_assisted"]


def per_reference_se(rows: list[dict], lam: float) -> dict[str, float]:
    """Standard errors of the centred ratings, independently of the code's sum-to-zero fits: from
    D[k, j] = Var(beta_k - beta_j) of one ppi.bradley_terry fit per reference j at the same lam, as
    Var(beta_k - mean beta) = mean_j D[k, j] - sum D / (2 m^2)."""
    rows = sorted(rows, key=lambda r: (item_id(r["i"]), r["a"], r["b"]))
    lab = [r for r in rows if r["rater"]]
    unl = [r for r in rows if not r["rater"]]
    m = len(MODELS)
    d = np.zeros((m, m))
    for j, ref in enumerate(MODELS):
        res = ppi.bradley_terry([(r["a"], r["b"]) for r in lab], [r["human"] for r in lab],
                                [np.mean(r["judge"]) for r in lab], [(r["a"], r["b"]) for r in unl],
                                [np.mean(r["judge"]) for r in unl], models=MODELS, reference=ref, lam=lam)
        d[:, j] = res.se**2
    var = d.sum(axis=1) / m - d.sum() / (2 * m * m)
    return {mdl: ELO_PER_LOGIT * math.sqrt(v) for mdl, v in zip(MODELS, var)}


# --- (1) the ratings are ppi.bradley_terry's on the units --------------------------------------


def test_ratings_equal_ppi_bradley_terry_on_the_simulated_units(store):
    rows = simulate(0)
    write_comparisons(store, rows)
    ja = assisted(store)
    d = direct(rows)
    b = board_of(ja)
    assert ja["n"] == d.n == sum(1 for r in rows if r["rater"]) and ja["N"] == d.n_unlabeled == len(rows) - d.n
    assert ja["lam"] == pytest.approx(d.lam, abs=1e-9) and 0 < d.lam <= 1
    for want, col in ((d.estimate, "rating"), (d.classical_estimate, "human_rating"),
                      (d.naive_estimate, "judge_rating")):
        got = np.array([b[m][col] for m in MODELS])
        np.testing.assert_allclose(got, centred_elo(want), rtol=0, atol=1e-9)
    # centred intervals: normal, from standard errors that one fit per reference model reproduces
    se = per_reference_se(rows, d.lam)
    z = 1.959963984540054
    for m in MODELS:
        assert b[m]["se"] == pytest.approx(se[m], abs=1e-6)
        assert b[m]["lower"] == pytest.approx(b[m]["rating"] - z * b[m]["se"], abs=1e-9)
        assert b[m]["upper"] == pytest.approx(b[m]["rating"] + z * b[m]["se"], abs=1e-9)
    # per model: labelled units and judge-only units with it; the worth is n * sum(cse^2) / sum(se^2) - n
    for m in MODELS:
        assert b[m]["labels"] == sum(1 for r in rows if r["rater"] and m in (r["a"], r["b"]))
        assert b[m]["judge_only"] == sum(1 for r in rows if not r["rater"] and m in (r["a"], r["b"]))
    assert ja["units"] == {"judge": len(rows), "human": d.n, "labelled": d.n, "judge_only": d.n_unlabeled,
                           "human_only": 0}
    assert ja["humans"] == HUMANS and ja["judges"] == [JUDGE]
    assert ja["worth"].startswith(f"the judge's verdicts on {len(rows)} units were worth")
    # the judge-only ratings are the main leaderboard's (both fit the judge's verdicts, one per unit)
    main = {r["model"]: r["rating"] for r in rank(store)["leaderboard"]}
    assert all(b[m]["judge_rating"] == pytest.approx(main[m], abs=1e-6) for m in MODELS)


def test_both_ways_to_the_centred_standard_errors_agree():
    """Sum-to-zero fits (the usual path) and one fit per reference model (when the judge alone has no
    finite fit) give the same standard errors."""
    human, judge = _frames(simulate(13, items=60))
    a = unit_arrays(human, judge)
    args = (a["pairs"], a["y"], a["yhat"], a["pairs_unlabeled"], a["yhat_unlabeled"])
    for lam in (0.0, 0.4, 1.0):
        fast, slow = centred_se(args, MODELS, lam), centred_se(args, MODELS, lam, judge_finite=False)
        np.testing.assert_allclose(fast[0], slow[0], rtol=1e-7)
        np.testing.assert_allclose(fast[1], slow[1], rtol=1e-7)


def test_with_a_baseline_the_ratings_and_intervals_are_relative_to_it(store):
    rows = simulate(1)
    write_comparisons(store, rows)
    ja = assisted(store, baseline="m2@1")
    d = direct(rows, reference="m2@1")
    b = board_of(ja)
    assert ja["anchor"] == "m2@1" and b["m2@1"]["rating"] == b["m2@1"]["lower"] == b["m2@1"]["upper"] == 1000
    for k, m in enumerate(MODELS):
        for col, v in (("rating", d.estimate), ("lower", d.low), ("upper", d.high),
                       ("human_lower", d.classical_low), ("human_upper", d.classical_high)):
            assert b[m][col] == pytest.approx(1000 + ELO_PER_LOGIT * v[k], abs=1e-9), (m, col)
        if m != "m2@1":
            assert b[m]["n_eff"] == pytest.approx(d.n_eff[k], rel=1e-9)


def test_a_panel_of_judges_is_averaged_per_unit(store):
    rows = simulate(2, items=60, frac=0.3, panel=True)
    write_comparisons(store, rows)
    ja = assisted(store, judges=(JUDGE, JUDGE2))
    assert ja["judges"] == [JUDGE, JUDGE2]
    np.testing.assert_allclose([board_of(ja)[m]["rating"] for m in MODELS], centred_elo(direct(rows).estimate),
                               rtol=0, atol=1e-9)


def test_units_are_oriented_alphabetically_and_averaged(store):
    rows = simulate(3, items=20, frac=0.5, panel=True)
    write_comparisons(store, rows)
    u = comparison_units(store, raters=[JUDGE, JUDGE2])
    assert (u["model_a"] < u["model_b"]).all() and len(u) == len(rows) and (u["votes"] == 2).all()
    want = {(item_id(r["i"]), r["a"], r["b"]): np.mean(r["judge"]) for r in rows}
    got = {(k, a, b): v for k, a, b, v in u[["key", "model_a", "model_b", "verdict"]].itertuples(index=False)}
    assert got == pytest.approx(want)


# --- (2) the judge's bias, and PPI++'s interval ------------------------------------------------


def test_judge_only_rating_is_biased_and_the_ppi_interval_covers_the_truth(store):
    rows = simulate(4, items=200)
    write_comparisons(store, rows)
    ja = assisted(store)
    b = board_of(ja)
    # the judge over-rates BIASED by well over a PPI++ standard error; PPI++ covers every planted rating
    assert b[BIASED]["judge_rating"] - TRUE[BIASED] > 3 * b[BIASED]["se"]
    assert b[BIASED]["judge_rating"] > b[BIASED]["upper"]
    for m in MODELS:
        assert b[m]["lower"] <= TRUE[m] <= b[m]["upper"], (m, b[m], TRUE[m])
    # the judge was worth something: overall, and narrower intervals than the human-only ones on average
    assert ja["extra_labels"] > 0 and ja["n_eff"] > ja["n"]
    width = np.mean([b[m]["upper"] - b[m]["lower"] for m in MODELS])
    assert width < np.mean([b[m]["human_upper"] - b[m]["human_lower"] for m in MODELS])


def _frames(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    judge = pd.DataFrame({"key": [r["i"] for r in rows], "model_a": [r["a"] for r in rows],
                          "model_b": [r["b"] for r in rows], "verdict": [np.mean(r["judge"]) for r in rows],
                          "votes": 1})
    lab = [r for r in rows if r["rater"]]
    human = pd.DataFrame({"key": [r["i"] for r in lab], "model_a": [r["a"] for r in lab],
                          "model_b": [r["b"] for r in lab], "verdict": [r["human"] for r in lab], "votes": 1})
    return human, judge


def test_centred_intervals_cover_the_planted_ratings_at_about_the_level():
    """200 seeded simulations (no store): each model's 95% PPI++ interval covers its planted rating in
    90% or more of them, the judge-only point rating of BIASED is too high in nearly all."""
    covered, biased = np.zeros(len(MODELS)), 0
    reps = 200
    for seed in range(reps):
        human, judge = _frames(simulate(1000 + seed, items=100))
        b = board_of(assisted_ratings(human, judge))
        covered += [b[m]["lower"] <= TRUE[m] <= b[m]["upper"] for m in MODELS]
        biased += b[BIASED]["judge_rating"] > TRUE[BIASED] + 50
    assert (covered / reps >= 0.90).all(), covered / reps
    assert biased / reps > 0.95


# --- judgments: battles from scores on the same prompt ---------------------------------------


def write_scores(store, seed: int, frac: float = 0.25) -> tuple[dict, dict]:
    """Scores on rubric tiny@1 · quality: the judge on every response (over-rating BIASED by 2 points), a
    person on every response to a random ``frac`` of the prompts; returns both, keyed by (item id, model)."""
    rng = np.random.default_rng(seed)
    add_rubric(store, R.Rubric(name="tiny", version=1, dimensions=[
        R.Dimension(name="quality", description="how good", scale=R.Scale(kind="continuous", min=0, max=10))]))
    skill = {"m1@1": 6.0, "m2@1": 5.5, "m3@1": 5.0, "m4@1": 4.0}
    recs: list[R.Record] = [R.Dataset(name="d"), R.Rater(id=JUDGE, kind="llm", name="judge"),
                            R.Rater(id="human:ann", kind="human", name="ann")]
    recs += [R.Model(id=m, provider="none") for m in MODELS]
    human_scores, judge_scores = {}, {}
    for i in range(120):
        item = R.Item(id=R.Item.make_id("d", str(i), None, None), dataset="d", external_id=str(i), prompt=f"p{i}")
        recs.append(item)
        labelled = rng.random() < frac
        for m in MODELS:
            resp = R.Response(id=R.Response.make_id(item.id, m, 0), item_id=item.id, model=m, text=m)
            h = float(np.round(skill[m] + rng.normal(0, 1.5)))
            j = float(np.round(h + rng.normal(0, 1) + (2 if m == BIASED else 0)))
            judge_scores[item.id, m] = j
            recs += [resp, R.Judgment(response_id=resp.id, rater_id=JUDGE, rubric="tiny@1", dimension="quality",
                                      value=j)]
            if labelled:
                human_scores[item.id, m] = h
                recs.append(R.Judgment(response_id=resp.id, rater_id="human:ann", rubric="tiny@1",
                                       dimension="quality", value=h))
    store.add(recs)
    return human_scores, judge_scores


def test_judgment_rankings_use_score_battles_on_both_sides(store):
    human_scores, judge_scores = write_scores(store, 5)
    lb = rank_models(store, select=Selection(rubric="tiny@1", dimensions=("quality",), raters=[JUDGE]),
                     options=Options(rounds=50), assist=JudgeAssist(humans=["human:ann"]))
    ja = lb.to_dict()["judge_assisted"]

    def verdict(s: dict, key: str, a: str, b: str) -> float:
        return 1.0 if s[key, a] > s[key, b] else 0.0 if s[key, a] < s[key, b] else 0.5

    units = sorted({(k, a, b) for (k, _) in judge_scores for x, a in enumerate(MODELS) for b in MODELS[x + 1:]})
    lab = [u for u in units if (u[0], u[1]) in human_scores]
    unl = [u for u in units if (u[0], u[1]) not in human_scores]
    d = ppi.bradley_terry([u[1:] for u in lab], [verdict(human_scores, *u) for u in lab],
                          [verdict(judge_scores, *u) for u in lab], [u[1:] for u in unl],
                          [verdict(judge_scores, *u) for u in unl], models=MODELS)
    assert ja["n"] == len(lab) and ja["N"] == len(unl)
    np.testing.assert_allclose([board_of(ja)[m]["rating"] for m in MODELS], centred_elo(d.estimate),
                               rtol=0, atol=1e-9)
    assert judgment_units(store, rubric="tiny@1", dimension="quality", raters=["nobody"]).empty


# --- (5) what cannot be estimated is said, not crashed on ---------------------------------------


def test_one_human_label_is_too_few(store):
    rows = simulate(6, items=30, frac=0.0)
    rows[0]["rater"] = HUMANS[0]
    write_comparisons(store, rows)
    ja = assisted(store)
    assert ja["n"] == 1 and "leaderboard" not in ja
    assert ja["error"].startswith("too few human labels") and "at least 2 per model" in ja["error"]


def test_humans_that_leave_a_model_unbeaten_give_no_finite_fit(store):
    rows = simulate(7, items=40, frac=0.3)
    for r in rows:  # people never see m1@1 lose
        if r["a"] == "m1@1":
            r["human"] = 1.0
    write_comparisons(store, rows)
    ja = assisted(store)
    assert ja["error"].startswith("no finite judge-assisted fit") and "leaderboard" not in ja


def test_a_model_the_judge_never_lets_lose_has_no_judge_only_rating_but_a_ppi_one(store):
    rows = simulate(8, items=150, never_loses=BIASED)
    write_comparisons(store, rows)
    with pytest.raises(BadInput, match="never lost"):  # the judge's own leaderboard has no MLE, as before
        rank(store)
    ja = assisted(store, l2=0.5)
    b = board_of(ja)
    assert all(b[m]["judge_rating"] is None for m in MODELS)
    assert any("judge-only ratings are infinite" in n for n in ja["notes"])
    assert all(math.isfinite(b[m]["rating"]) and b[m]["lower"] < b[m]["rating"] < b[m]["upper"] for m in MODELS)
    assert b[BIASED]["lower"] <= TRUE[BIASED] <= b[BIASED]["upper"]


def test_a_campaign_narrows_peoples_side_only(store):
    """ann's comparisons are in a campaign, the judge's in none: with the campaign, ann's units are the
    labelled ones and every other unit the judge rated is judge-only."""
    rows = simulate(14, items=60, frac=0.4)
    write_comparisons(store, rows, campaign="camp-1")
    ja = judge_assisted(store, JudgeAssist(humans=HUMANS, judges=[JUDGE]), comparisons=True,
                        select=Selection(campaign="camp-1"), battles=BattleRules(aggregate="separate"))
    ann = sum(1 for r in rows if r["rater"] == HUMANS[0])
    assert (ja["n"], ja["N"]) == (ann, len(rows) - ann) and ja["units"]["human_only"] == 0


def test_no_human_verdicts_means_no_judge_assisted_ratings(store):
    rows = simulate(9, items=30, frac=0.0)
    write_comparisons(store, rows)
    assert "judge_assisted" not in rank(store)
    with pytest.raises(BadInput, match="all judges"):
        rank(store, humans=[JUDGE])
