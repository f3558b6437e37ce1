"""The judge-assisted A/B test: a biased judge on every prompt, people on a random few, combined by PPI++.

Known truth: B beats A by 0.5 on the human scale; the judge adds 0.8 to every B answer (a
bias the humans do not share) and noise. The judge alone is biased; PPI++ is not.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from assay import records as R
from assay.analysis.assisted import Assist, assisted_report, assisted_scores, human_raters
from assay.analysis.assisted_plan import Budgets, ppi_plan
from assay.analysis.judge_assisted import JudgeAssist
from assay.analysis.options import Options, Selection
from assay.cli import main
from assay.errors import BadInput
from assay.rubrics import add_rubric
from assay.stats import ppi

A, B = "base@1", "cand@1"
JUDGE, PEOPLE = "llm:judge:x", ("human:ann", "human:bob")
SIDES = JudgeAssist(humans=PEOPLE, judges=[JUDGE])


def build(store, *, n: int = 240, labelled: int = 60, effect: float = 0.5, bias: float = 0.8, seed: int = 0,
          judge_noise: float = 0.3, clusters: bool = False, campaign: str | None = None) -> dict:
    """Items answered by A and B; the judge scores all, two people score both answers on `labelled` random items."""
    rng = np.random.default_rng(seed)
    add_rubric(store, R.Rubric(name="ab", version=1, dimensions=[
        R.Dimension(name=d, description=d, scale=R.Scale(kind="continuous", min=-100, max=100))
        for d in ("quality", "style")]))
    recs: list[R.Record] = [R.Dataset(name="ab"), R.Model(id=A, provider="none"), R.Model(id=B, provider="none"),
                            R.Rater(id=JUDGE, kind="llm", name="judge"),
                            *[R.Rater(id=p, kind="human", name=p.split(":")[1]) for p in PEOPLE]]
    people_items = set(rng.choice(n, size=labelled, replace=False).tolist())
    if campaign:
        recs.append(R.Campaign(id=campaign, name=campaign, rubric="ab@1"))
    truth = {"h": {A: [], B: []}, "j": {A: [], B: []}, "keys": []}
    for i in range(n):
        item = R.Item(id=R.Item.make_id("ab", str(i), None, None), dataset="ab", external_id=str(i), prompt=f"q{i}",
                      cluster=f"c{i % 7}" if clusters else None)
        recs.append(item)
        hard = rng.normal(0, 1)
        for model in (A, B):
            resp = R.Response(id=R.Response.make_id(item.id, model, 0), item_id=item.id, model=model,
                              sample_index=0, text=f"{model} on q{i}")
            recs.append(resp)
            true = hard + rng.normal(0, 0.7) + (effect if model == B else 0.0)
            judged = true + (bias if model == B else 0.0) + rng.normal(0, judge_noise)
            for d in ("quality", "style"):
                recs.append(R.Judgment(response_id=resp.id, rater_id=JUDGE, rubric="ab@1", dimension=d, value=judged))
            if i in people_items:
                h = [true + rng.normal(0, 0.2) for _ in PEOPLE]
                for p, v in zip(PEOPLE, h):
                    recs.append(R.Judgment(response_id=resp.id, rater_id=p, rubric="ab@1", dimension="quality",
                                           value=v, campaign_id=campaign if p == PEOPLE[0] else None))
    store.add(recs)
    return {"people_items": people_items}


def test_ppi_section_equals_ppi_on_the_arrays_and_corrects_the_judge(store):
    build(store, seed=3)
    rep = assisted_report(store, A, B, judges=[JUDGE], humans=list(PEOPLE), select=Selection(rubric="ab@1"))
    secs = {s["dimension"]: s for s in rep["dimensions"]}
    q = secs["quality"]
    assert q["n"] == 60 and q["N"] == 180 and q["human_only_prompts"] == 0
    # the same figures straight from stats.ppi on the arrays, built here by hand from the store
    jf = {}
    for j in store.iter("judgments"):
        if j.dimension != "quality":
            continue
        resp = store.get(R.Response, j.response_id)
        jf.setdefault((resp.item_id, resp.model, j.rater_id.startswith("human")), []).append(j.value)
    items = sorted({k[0] for k in jf})
    lab = [i for i in items if (i, A, True) in jf]
    unl = [i for i in items if (i, A, True) not in jf]

    def m(i, model, human):
        return float(np.mean(jf[(i, model, human)]))

    ref = ppi.paired_difference([m(i, B, True) for i in lab], [m(i, A, True) for i in lab],
                                [m(i, B, False) for i in lab], [m(i, A, False) for i in lab],
                                [m(i, B, False) for i in unl], [m(i, A, False) for i in unl])
    assert q["estimate"] == pytest.approx(ref.estimate, abs=1e-12)
    assert (q["ci_low"], q["ci_high"]) == pytest.approx(ref.interval, abs=1e-12)
    assert (q["human_low"], q["human_high"]) == pytest.approx(ref.classical_interval, abs=1e-12)
    assert q["judge_estimate"] == pytest.approx(ref.naive_estimate, abs=1e-12)
    assert q["n_eff"] == pytest.approx(ref.n_eff) and q["lam"] == pytest.approx(ref.lam)
    # the judge alone is off by its bias; PPI++ covers the planted 0.5 and is narrower than people alone
    assert q["judge_estimate"] > 1.0
    assert q["ci_low"] < 0.5 < q["ci_high"]
    assert q["ci_high"] - q["ci_low"] < q["human_high"] - q["human_low"]
    assert q["n_eff"] > q["n"] and "extra human-labelled prompts" in q["worth"]
    assert q["verdict"].startswith(f"{B} is better on quality with people and judge combined")
    # style: people never scored it, so there is nothing to correct the judge with
    assert secs["style"]["n"] == 0 and "nothing to correct the judge with" in secs["style"]["error"]


def test_ppi_interval_covers_the_truth_across_dimensions(store):
    """Coverage of the whole path (store, pairing, PPI++) over 100 independent studies, one per dimension."""
    rng = np.random.default_rng(11)
    dims = [f"d{k}" for k in range(100)]
    add_rubric(store, R.Rubric(name="cov", version=1, dimensions=[
        R.Dimension(name=d, description=d, scale=R.Scale(kind="continuous", min=-100, max=100)) for d in dims]))
    recs: list[R.Record] = [R.Dataset(name="cov"), R.Model(id=A, provider="none"), R.Model(id=B, provider="none"),
                            R.Rater(id=JUDGE, kind="llm", name="judge"), R.Rater(id=PEOPLE[0], kind="human", name="ann")]
    labelled = set(rng.choice(100, size=30, replace=False).tolist())
    for i in range(100):
        item = R.Item(id=R.Item.make_id("cov", str(i), None, None), dataset="cov", external_id=str(i),
                      prompt=f"q{i}")
        recs.append(item)
        hard = rng.normal(0, 1, len(dims))
        for model in (A, B):
            resp = R.Response(id=R.Response.make_id(item.id, model, 0), item_id=item.id, model=model,
                              sample_index=0, text=f"{model} on q{i}")
            recs.append(resp)
            true = hard + rng.normal(0, 0.7, len(dims)) + (0.5 if model == B else 0.0)
            judged = true + (0.8 if model == B else 0.0) + rng.normal(0, 0.4, len(dims))
            for d, t, j in zip(dims, true, judged):
                recs.append(R.Judgment(response_id=resp.id, rater_id=JUDGE, rubric="cov@1", dimension=d, value=j))
                if i in labelled:
                    recs.append(R.Judgment(response_id=resp.id, rater_id=PEOPLE[0], rubric="cov@1", dimension=d,
                                           value=t))
    store.add(recs)
    rep = assisted_report(store, A, B, judges=[JUDGE], humans=[PEOPLE[0]], select=Selection(rubric="cov@1"))
    secs = rep["dimensions"]
    assert len(secs) == 100 and all(s["n"] == 30 and s["N"] == 70 for s in secs)
    hits = sum(s["ci_low"] < 0.5 < s["ci_high"] for s in secs)
    judge_hits = sum(abs(s["judge_estimate"] - 0.5) < 0.3 for s in secs)
    width = np.median([(s["ci_high"] - s["ci_low"]) / (s["human_high"] - s["human_low"]) for s in secs])
    # this design covers 94.5% at the array level (3,000 simulated studies); 88 or fewer hits of 100 has
    # probability under 1% there, while a judge-only or untuned-bias interval covers almost never
    assert hits >= 89 and judge_hits == 0
    assert width < 0.9


def test_human_side_and_judge_side_are_kept_apart(store):
    build(store, n=40, labelled=10)
    assert human_raters(store, None, "human", [JUDGE]) == list(PEOPLE)
    assert human_raters(store, ["ann"], "human", [JUDGE]) == ["human:ann"]
    with pytest.raises(BadInput, match="no rater matches --human 'nobody'"):
        human_raters(store, ["nobody"], "human", [JUDGE])
    with pytest.raises(BadInput, match="both the judge and the human side"):
        human_raters(store, ["judge"], "human", [JUDGE])
    with pytest.raises(BadInput, match="needs --judge"):
        assisted_report(store, A, B, judges=[], humans=list(PEOPLE))


def test_calibrating_on_too_few_labels_is_an_error_in_its_section(store):
    build(store, n=30, labelled=9)
    q = assisted_report(store, A, B, judges=[JUDGE], humans=list(PEOPLE), assist=Assist(calibrate=5),
                        select=Selection(rubric="ab@1", dimensions=["quality"]))["dimensions"][0]
    assert q["error"] == "calibrating the judge needs at least 10 prompts with people's scores (5 folds), got 9"


def test_one_labelled_prompt_is_an_error_in_its_section(store):
    build(store, n=30, labelled=1)
    q = assisted_report(store, A, B, judges=[JUDGE], humans=list(PEOPLE),
                        select=Selection(rubric="ab@1", dimensions=["quality"]))["dimensions"][0]
    assert q["n"] == 1 and "PPI needs at least 2" in q["error"] and "verdict" not in q


def test_every_prompt_labelled_leaves_the_judge_nothing(store):
    build(store, n=20, labelled=20)
    q = assisted_report(store, A, B, judges=[JUDGE], humans=list(PEOPLE),
                        select=Selection(rubric="ab@1", dimensions=["quality"]))["dimensions"][0]
    assert q["N"] == 0 and "nothing for the judge to add" in q["error"]


def test_plan_matches_the_variance_formula_by_hand(store):
    build(store, n=200, labelled=50, seed=5)
    rep = ppi_plan(store, A, B, sides=SIDES, budgets=Budgets([20, 50, 100]),
                   select=Selection(rubric="ab@1", dimensions=["quality"]), options=Options(power=0.8, alpha=0.05))
    scores, _ = assisted_scores(store, A, B, judges=[JUDGE], humans=list(PEOPLE),
                                select=Selection(rubric="ab@1", dimensions=["quality"]))
    s = scores[0]
    y, f = s.y_b - s.y_a, s.yhat_b - s.yhat_a
    fa = np.concatenate([f, s.u_b - s.u_a])
    vy, vf, c = y.var(ddof=1), fa.var(ddof=1), np.cov(y, f)[0, 1]
    for row in rep["table"]:
        m = row["budget"]
        lam = min(1.0, max(0.0, c / ((1 + m / (200 - m)) * vf)))
        v = lam**2 * vf / (200 - m) + (vy - 2 * lam * c + lam**2 * vf) / m
        assert row["half_width"] == pytest.approx(1.959963984540054 * np.sqrt(v), rel=1e-9)
        assert row["human_half_width"] == pytest.approx(1.959963984540054 * np.sqrt(vy / m), rel=1e-9)
        assert row["n_eff"] == pytest.approx(m * (vy / m) / v, rel=1e-9)
        assert row["half_width"] < row["human_half_width"]
    # more labels, narrower
    assert [r["half_width"] for r in rep["table"]] == sorted((r["half_width"] for r in rep["table"]), reverse=True)
    with pytest.raises(BadInput, match="labels every one of the 200 prompts"):
        ppi_plan(store, A, B, sides=SIDES, budgets=Budgets([200]),
                 select=Selection(rubric="ab@1", dimensions=["quality"]))
    with pytest.raises(BadInput, match="give --dimension"):
        ppi_plan(store, A, B, sides=SIDES, budgets=Budgets([20]), select=Selection(rubric="ab@1"))


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_shows_people_judge_and_ppi_side_by_side(capsys, tmp_path):
    db = f"sqlite:///{tmp_path}/a.db"
    from assay.store import Store

    s = Store(db)
    build(s, seed=3, clusters=True)
    s.close()
    code, out, err = run(capsys, "--db", db, "abtest", A, B, "--rubric", "ab", "--judge", "judge",
                         "--dimension", "quality")
    assert code == 0, err
    flat = " ".join(out.split())
    assert "people and judge combined (PPI++" in flat and "B - A with 95% CI" in flat
    assert "(biased)" in flat and "60 + 180" in flat
    assert "extra human-labelled prompts" in flat and "item clusters are not used" in flat
    assert "the judge's verdicts alone (biased" in flat
    code, out, _ = run(capsys, "--db", db, "abtest", A, B, "--rubric", "ab", "--judge", "judge", "--json")
    rep = json.loads(out)
    q = {d["dimension"]: d for d in rep["judge_assisted"]["dimensions"]}["quality"]
    assert q["n"] == 60 and q["sampling"] == "uniform" and rep["judge_assisted"]["humans"] == list(PEOPLE)
    # the plain A/B table is the judge's, as before
    assert {d["dimension"] for d in rep["dimensions"]} == {"quality", "style"}
    # --human picks one person
    code, out, _ = run(capsys, "--db", db, "abtest", A, B, "--rubric", "ab", "--judge", "judge", "--human", "ann",
                       "--json")
    assert code == 0 and json.loads(out)["judge_assisted"]["humans"] == ["human:ann"]


def test_cli_without_people_is_todays_output(capsys, tmp_path):
    db = f"sqlite:///{tmp_path}/a.db"
    from assay.store import Store

    s = Store(db)
    build(s, n=40, labelled=0)
    s.close()
    code, with_judge, _ = run(capsys, "--db", db, "abtest", A, B, "--rubric", "ab", "--judge", "judge")
    code2, with_rater, _ = run(capsys, "--db", db, "abtest", A, B, "--rubric", "ab", "--rater", "judge")
    assert code == code2 == 0 and with_judge == with_rater and "PPI" not in with_judge


@pytest.mark.parametrize(("args", "message"), [
    (["--human", "ann"], "--human, --human-sample and --calibrate go with --judge"),
    (["--human-sample", "3"], "--human, --human-sample and --calibrate go with --judge"),
    (["--calibrate"], "--human, --human-sample and --calibrate go with --judge"),
    (["--judge", "judge", "--human-sample", "1"], "--human-sample must be at least 2, not 1"),
    (["--judge", "judge", "--human", "nobody"], "no rater matches --human 'nobody'"),
    (["--judge", "judge", "--human", "judge"], "cannot be both the judge and the human side"),
])
def test_cli_usage_errors(capsys, tmp_path, args, message):
    db = f"sqlite:///{tmp_path}/a.db"
    from assay.store import Store

    s = Store(db)
    build(s, n=20, labelled=5)
    s.close()
    code, out, err = run(capsys, "--db", db, "abtest", A, B, "--rubric", "ab", *args)
    assert code != 0 and message in " ".join((out + err).split())


def test_cli_plan_with_a_human_budget(capsys, tmp_path):
    db = f"sqlite:///{tmp_path}/a.db"
    from assay.store import Store

    s = Store(db)
    build(s, n=200, labelled=50, seed=5)
    s.close()
    code, out, err = run(capsys, "--db", db, "abtest", "plan", "--mde", "0.3", A, B, "--judge", "judge",
                         "--rubric", "ab", "--dimension", "quality", "--human-budget", "20", "--human-budget", "100")
    assert code == 0, err
    flat = " ".join(out.split())
    assert "what a budget of human-labelled prompts buys among 200 prompts" in flat
    assert "100 human labels with the judge detects 0.3 points" in flat
    code, out, _ = run(capsys, "--db", db, "abtest", "plan", "--mde", "0.3", A, B, "--judge", "judge",
                       "--rubric", "ab", "--dimension", "quality", "--human-budget", "100", "--json")
    rep = json.loads(out)
    assert rep["pilot"]["n"] == 50 and rep["table"][0]["budget"] == 100
    for args, message in [
        (["--human-budget", "20", "--rubric", "ab", "--dimension", "quality", A, B], "--human-budget needs --judge"),
        (["--human-budget", "20", "--judge", "judge", "--rubric", "ab", "--dimension", "quality", A],
         "needs the pilot's models"),
        (["--human-budget", "1", "--judge", "judge", "--rubric", "ab", "--dimension", "quality", A, B],
         "too small: at least 2"),
        (["--prompts", "10", "--omega2", "1"], "--prompts and --human go with --human-budget"),
    ]:
        code, out, err = run(capsys, "--db", db, "abtest", "plan", "--mde", "0.3", *args)
        assert code != 0 and message in " ".join((out + err).split()), (args, out, err)


def test_report_combines_the_ab_pairs_people_with_its_most_active_judge(store):
    from assay.report import Sections, build_report
    from assay.report.render import to_markdown

    build(store, n=80, labelled=20, seed=2)
    rep = build_report(store, options=Options(rounds=50), sections=Sections(ab_models=(A, B)))
    (ja,) = rep["judge_assisted"]
    assert ja["judges"] == [JUDGE] and ja["data"]["humans"] == list(PEOPLE)
    q = {d["dimension"]: d for d in ja["data"]["dimensions"]}["quality"]
    direct = assisted_report(store, A, B, judges=[JUDGE], humans=list(PEOPLE), options=Options(rounds=50))
    assert q == {d["dimension"]: d for d in direct["dimensions"]}["quality"] and (q["n"], q["N"]) == (20, 60)
    md = to_markdown(rep)
    assert "People and judge combined (PPI++)" in md and "(biased)" in md


def test_a_smaller_budget_is_drawn_from_peoples_prompts_with_the_full_figure_beside(store):
    from scipy import stats

    build(store, n=100, labelled=50, seed=8)
    sel = Selection(rubric="ab@1", dimensions=["quality"])
    full = assisted_report(store, A, B, judges=[JUDGE], humans=list(PEOPLE), select=sel)["dimensions"][0]
    rep = assisted_report(store, A, B, judges=[JUDGE], humans=list(PEOPLE), select=sel, assist=Assist(human_sample=20),
                          options=Options(random_state=4))
    q = rep["dimensions"][0]
    assert (q["n"], q["N"]) == (20, 80) and rep["human_sample"] == 20 and rep["seed"] == 4
    # the reference is people alone on all 50: the Student t interval of their differences
    (s,), _ = assisted_scores(store, A, B, judges=[JUDGE], humans=list(PEOPLE), select=sel)
    d = s.y_b - s.y_a
    half = stats.t.ppf(0.975, 49) * d.std(ddof=1) / np.sqrt(50)
    ref = q["all_people"]
    assert ref["n"] == 50 and ref["estimate"] == pytest.approx(d.mean())
    assert (ref["low"], ref["high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert full["human_estimate"] == pytest.approx(d.mean()) and full["n"] == 50
    # the judge-only figure is over the same 100 prompts either way; another seed draws other prompts
    assert q["judge_estimate"] == pytest.approx(full["judge_estimate"])
    other = assisted_report(store, A, B, judges=[JUDGE], humans=list(PEOPLE), select=sel, assist=Assist(human_sample=20),
                            options=Options(random_state=5))["dimensions"][0]
    assert other["human_estimate"] != q["human_estimate"]
    # asking for more than people labelled keeps them all
    assert assisted_report(store, A, B, judges=[JUDGE], humans=list(PEOPLE), select=sel,
                           assist=Assist(human_sample=80))["dimensions"][0]["n"] == 50


def test_preferences_on_pandalm_match_the_published_files(store):
    """People's majority and GPT-3.5's verdicts on bloom-7b against llama-7b, counted from the bundled files."""
    from importlib import resources

    from assay.analysis.assisted import assisted_preferences
    from assay.bundled import load_pandalm

    load_pandalm(store)
    base = resources.files("assay.data").joinpath("pandalm")
    rows = json.loads(base.joinpath("testset-v1.json").read_text())
    gpt = {g["idx"]: str(g["gpt_result"]).lower() for g in
           json.loads(base.joinpath("gpt-3.5-turbo-testset-v1.json").read_text())}
    people, judge = [], []
    for r in rows:
        if r["cmp_key"] not in ("bloom-7b_llama-7b", "llama-7b_bloom-7b"):
            continue
        llama_is_2 = r["cmp_key"].endswith("llama-7b")  # response 2 is the second model of the key
        to_b = {1: -1, 2: 1, 0: 0} if llama_is_2 else {1: 1, 2: -1, 0: 0}
        majority = (np.sign(sum(to_b[r[f"annotator{k}"]] for k in (1, 2, 3))) + 1) / 2
        g = {"tie": 0, "0": 0, "1": 1, "2": 2}.get(gpt[r["idx"]])
        if g is None:  # GPT-3.5's unreadable answers are not stored: those items are people's only, left out
            continue
        judge.append((to_b[g] + 1) / 2)
        people.append(majority)
    (sec,) = assisted_preferences(store, "bloom-7b@pandalm-v1", "llama-7b@pandalm-v1", judges=[
        r.id for r in store.list("raters") if r.name == "gpt-3.5-turbo"], humans=[
        r.id for r in store.list("raters") if r.kind == "human"], human_sample=40)
    assert sec["all_people"]["n"] == len(people) and sec["all_people"]["estimate"] == pytest.approx(np.mean(people))
    assert sec["judge_estimate"] == pytest.approx(np.mean(judge)) and sec["n"] + sec["N"] == len(judge)
    assert sec["human_only_items"] == 4  # the 111 pairs of the two models less GPT-3.5's 4 unreadable answers
    assert sec["kind"] == "preference" and sec["ci_low"] < sec["estimate"] < sec["ci_high"]


GATE = """\
conditions:
  - check: non-inferiority
    baseline: base@1
    candidate: cand@1
    rubric: ab
    dimensions: [quality]
    margin: 0.2
    {side}
"""


@pytest.mark.parametrize(("side", "passed"), [("raters: [judge]", True), ("judge: [judge]", False)])
def test_gate_with_a_judge_is_not_fooled_by_its_bias(capsys, tmp_path, side, passed):
    """B is truly 0.5 worse; the judge adds 0.8 to B, so alone it finds B 0.3 better. People on 60 prompts correct it."""
    from assay.store import Store

    db = f"sqlite:///{tmp_path}/g.db"
    s = Store(db)
    build(s, effect=-0.5, bias=0.8, seed=6)
    s.close()
    conf = tmp_path / "gate.yaml"
    conf.write_text(GATE.format(side=side))
    code, out, err = run(capsys, "--db", db, "gate", str(conf), "--json")
    rep = json.loads(out)
    assert rep["passed"] is passed and code == (0 if passed else 1)
    (row,) = rep["conditions"][0]["rows"]
    if not passed:
        assert row["people + judge only"] == "60 + 180" and row["result"] == "not shown"
        assert float(row["judge only (biased)"]) > 0 > float(row["lower 95% bound (PPI++)"])
        assert "people and judge combined by PPI++" in rep["conditions"][0]["summary"]


def test_gate_judge_errors_are_stated(capsys, tmp_path):
    from assay.store import Store

    db = f"sqlite:///{tmp_path}/g.db"
    s = Store(db)
    build(s, n=20, labelled=5)
    s.close()
    for side, message in [("judge: [judge]\n    raters: [ann]", "raters: and kind: are not used"),
                          ("humans: [ann]", "humans: goes with judge:"),
                          ("judge: [judge]\n    humans: [nobody]", "no rater matches --human 'nobody'")]:
        conf = tmp_path / "gate.yaml"
        conf.write_text(GATE.format(side=side))
        code, out, err = run(capsys, "--db", db, "gate", str(conf), "--json")
        rep = json.loads(out)
        assert code == 1 and rep["conditions"][0]["status"] == "error", side
        assert message in rep["conditions"][0]["summary"], (side, rep["conditions"][0]["summary"])


def test_calibrated_judge_is_cross_fitted_and_helps_a_judge_on_another_scale(store):
    """A judge on an exponential scale: isotonic calibration, cross-fitted, recovers people's scale.

    Where the judge's scale is nearly linear in people's (tanh(t/2) * 3 + 7, say), PPI++'s own
    linear correction does as well and the cross-fitted interval is wider (lam fixed at 1, and the
    map's steps add error): 0.375 against 0.331 in 50 simulated studies of this size; with
    exp(1.2 t) it is 0.383 against 0.526.
    """
    from assay.analysis.assisted import calibrated

    rng = np.random.default_rng(21)
    add_rubric(store, R.Rubric(name="cal", version=1, dimensions=[
        R.Dimension(name="q", description="q", scale=R.Scale(kind="continuous", min=-100, max=100))]))
    recs: list[R.Record] = [R.Dataset(name="cal"), R.Model(id=A, provider="none"), R.Model(id=B, provider="none"),
                            R.Rater(id=JUDGE, kind="llm", name="judge"), R.Rater(id=PEOPLE[0], kind="human",
                                                                                  name="ann")]
    labelled = set(rng.choice(300, size=80, replace=False).tolist())
    for i in range(300):
        item = R.Item(id=R.Item.make_id("cal", str(i), None, None), dataset="cal", external_id=str(i), prompt=f"q{i}")
        recs.append(item)
        for model in (A, B):
            resp = R.Response(id=R.Response.make_id(item.id, model, 0), item_id=item.id, model=model,
                              sample_index=0, text="x")
            recs.append(resp)
            true = rng.normal(0, 1) + (0.4 if model == B else 0.0)
            recs.append(R.Judgment(response_id=resp.id, rater_id=JUDGE, rubric="cal@1", dimension="q",
                                   value=float(np.exp(1.2 * true) + rng.normal(0, 0.05))))
            if i in labelled:
                recs.append(R.Judgment(response_id=resp.id, rater_id=PEOPLE[0], rubric="cal@1", dimension="q",
                                       value=true))
    store.add(recs)
    sel = Selection(rubric="cal@1")
    plain = assisted_report(store, A, B, judges=[JUDGE], humans=[PEOPLE[0]], select=sel)["dimensions"][0]
    rep = assisted_report(store, A, B, judges=[JUDGE], humans=[PEOPLE[0]], select=sel, assist=Assist(calibrate=5),
                          options=Options(random_state=2))
    cal = rep["dimensions"][0]
    assert cal["calibrated"] == "isotonic, cross-fitted over 5 folds" and rep["seed"] == 2 and cal["lam"] == 1
    # the numbers are cross_paired_difference on the cross-fitted maps
    (s,), _ = assisted_scores(store, A, B, judges=[JUDGE], humans=[PEOPLE[0]], select=sel)
    ya, yb, ua, ub = calibrated(s, 5, 2)
    ref = ppi.cross_paired_difference(s.y_b, s.y_a, yb, ya, ub, ua)
    assert (cal["estimate"], cal["ci_low"], cal["ci_high"]) == pytest.approx((ref.estimate, ref.low, ref.high))
    # the raw judge's difference (on its own scale) is still what "judge only" shows
    assert cal["judge_estimate"] == pytest.approx(plain["judge_estimate"])
    raw_error = np.abs(np.concatenate([s.yhat_a, s.yhat_b]) - np.concatenate([s.y_a, s.y_b])).mean()
    cal_error = np.abs(np.concatenate([ya, yb]) - np.concatenate([s.y_a, s.y_b])).mean()
    assert cal_error < 0.2 < raw_error  # on people's scale
    # on people's scale the judge is worth more than PPI++'s linear correction gets from it
    assert cal["ci_high"] - cal["ci_low"] < plain["ci_high"] - plain["ci_low"]
    assert cal["ci_low"] < 0.4 < cal["ci_high"]
    # no labelled prompt is predicted by a map fitted on it: changing one prompt's people score moves only
    # the other folds' predictions of it
    s2 = type(s)(**{**s.__dict__, "y_a": s.y_a.copy()})
    s2.y_a[0] += 50.0
    ya2, _, _, _ = calibrated(s2, 5, 2)
    assert ya2[0] == ya[0]


def test_a_campaign_narrows_peoples_side_only(store):
    """People's labels from a campaign (ann's); the judge's verdicts (in no campaign) still count on every prompt."""
    build(store, n=60, labelled=20, seed=9, campaign="camp-1")
    sel = Selection(rubric="ab@1", dimensions=["quality"])
    q = assisted_report(store, A, B, judges=[JUDGE], humans=list(PEOPLE),
                        select=Selection(rubric="ab@1", dimensions=["quality"], campaign="camp-1"))["dimensions"][0]
    ann = assisted_report(store, A, B, judges=[JUDGE], humans=[PEOPLE[0]], select=sel)["dimensions"][0]
    assert (q["n"], q["N"]) == (20, 40)
    assert q["human_estimate"] == pytest.approx(ann["human_estimate"]) and q["estimate"] == pytest.approx(ann["estimate"])
