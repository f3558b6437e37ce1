"""judge-report: a judge's agreement with humans beside theirs, confusion, flips, length bias, self-preference."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score

from assay import records as R
from assay.bundled import load_pandalm
from assay.judges.jobs import judge_pairwise
from assay.analysis.judge_trust import judge_report
from assay.testing import ScriptedServer

from .scripted_judges import fenced, nonce_of, store_responses
from tests.sessions import session

PANDALM = Path(__file__).resolve().parents[2] / "src" / "assay" / "data" / "pandalm"


def pandalm_expected() -> dict:
    """GPT-3.5 against the human majority, straight from the published files (not through the store)."""
    rows = json.loads((PANDALM / "testset-v1.json").read_text())
    gpt = {r["idx"]: str(r["gpt_result"]) for r in json.loads((PANDALM / "gpt-3.5-turbo-testset-v1.json").read_text())}
    code = {"1": 1, "2": 2, "Tie": 0}
    majority, judge = [], []
    for r in rows:
        label, n = Counter(r[f"annotator{i}"] for i in (1, 2, 3)).most_common(1)[0]
        assert n >= 2
        if gpt[r["idx"]] in code:
            majority.append(label)
            judge.append(code[gpt[r["idx"]]])
    return {"n": len(judge), "agree": sum(a == b for a, b in zip(judge, majority)),
            "kappa": cohen_kappa_score(judge, majority)}


def test_pandalm_reproduces_the_human_kappas_and_rates_gpt35_against_the_majority(store):
    load_pandalm(store)
    rep = judge_report(store, "gpt-3.5-turbo")
    a = rep["pairwise"]["agreement"]
    kappas = [round(s["kappa"], 4) for s in a["human_pairs"].values()]
    assert kappas == [0.8520, 0.8789, 0.8617]  # annotators 1~2, 1~3, 2~3 (validation/README.md)
    assert all(s["n"] == 999 for s in a["human_pairs"].values())
    assert a["majority_labels"] == {"tie": 105, "first": 422, "second": 472} and a["no_majority"] == 0
    want = pandalm_expected()
    m = a["judge_vs_majority"]
    assert (m["n"], round(m["percent"] * m["n"])) == (want["n"], want["agree"]) == (974, 697)
    assert m["kappa"] == pytest.approx(want["kappa"], abs=1e-9)
    assert a["judge_coverage"] == {"units": 974, "of": 999, "share": pytest.approx(974 / 999)}
    conf = a["confusion"]["counts"]
    assert sum(conf[k][k] for k in conf) == 697 and sum(map(sum, (r.values() for r in conf.values()))) == 974
    # the judge is well below the bar the humans set for each other
    assert a["judge_mean_kappa_with_humans"] < min(a["human_mean_kappa_with_other_humans"].values())
    assert rep["pairwise"]["position"]["flip_rate"] is None  # PandaLM published one order only
    assert 0.5 < rep["pairwise"]["length_bias"]["p_judge_prefers_longer"] < 1


def test_scores_report_agreement_length_slope_and_self_preference(store):
    texts = {"gpt-y@1": [" ".join(["w"] * (10 * (i + 1))) for i in range(4)],
             "llama@1": [" ".join(["w"] * (10 * (i + 5))) for i in range(4)]}
    items, resp = store_responses(store, texts, families={"gpt-y@1": "gpt", "llama@1": "llama"})
    responses = resp["gpt-y@1"] + resp["llama@1"]
    humans = [R.Rater(id=f"human:h{k}", kind="human", name=f"h{k}") for k in (1, 2)]
    judge = R.Rater(id="llm:gpt-x@1:t", kind="llm", name="gpt-x@1", model="gpt-x@1")
    store.add([R.Model(id="gpt-x@1", family="gpt"), *humans, judge])
    human_scores = [1, 2, 3, 4, 5, 1, 2, 3]
    judge_scores = [2, 3, 4, 5, 5, 1, 2, 3]  # one level kinder to its own family (the first four), fair to others

    def js(rater, values):
        return [R.Judgment(response_id=r.id, rater_id=rater.id, rubric="default@1", dimension="factuality", value=float(v))
                for r, v in zip(responses, values)]

    store.add([*js(humans[0], human_scores), *js(humans[1], human_scores), *js(judge, judge_scores)])
    (rep,) = judge_report(store, judge.id)["rubric"]
    a = rep["agreement"]
    assert (rep["rubric"], rep["dimension"], rep["responses"]) == ("default@1", "factuality", 8)
    assert a["human_pairs"]["human:h1 ~ human:h2"]["kappa"] == pytest.approx(1.0)
    vs = a["judge_vs_humans"]["human:h1"]
    assert (vs["n"], vs["percent"]) == (8, 4 / 8)
    assert vs["kappa"] == pytest.approx(cohen_kappa_score(judge_scores, human_scores, labels=[1, 2, 3, 4, 5]))
    assert vs["kappa_quadratic"] == pytest.approx(cohen_kappa_score(judge_scores, human_scores, weights="quadratic", labels=[1, 2, 3, 4, 5]))
    assert vs["spearman"] == pytest.approx(spearmanr(judge_scores, human_scores).statistic)
    conf = a["confusion"]["counts"]
    assert conf["2.0"]["1.0"] == 1 and conf["5.0"]["4.0"] == 1 and conf["5.0"]["5.0"] == 1
    lengths = [len(r.text.split()) / 100 for r in responses]
    assert rep["length_bias"]["judge_slope_per_100_words"] == pytest.approx(np.polyfit(lengths, judge_scores, 1)[0])
    assert rep["length_bias"]["human_slope_per_100_words"] == pytest.approx(np.polyfit(lengths, human_scores, 1)[0])
    sp = rep["self_preference"]
    assert sp["family"] == "gpt" and (sp["own_family_responses"], sp["other_responses"]) == (4, 4)
    assert (sp["judge_minus_humans_own"], sp["judge_minus_humans_other"], sp["self_preference"]) == (1.0, 0.0, 1.0)


def test_pairwise_flips_length_bias_and_self_preference_of_a_real_judge_run(store):
    texts = {"gpt-y@1": [f"Canberra, the capital, for reason {i}." for i in range(4)],
             "llama@1": ["Sydney."] * 4}
    items, resp = store_responses(store, texts, families={"gpt-y@1": "gpt", "llama@1": "llama"})
    store.add([R.Model(id="fair@1", family="gpt"), R.Model(id="biased@1", family="mistral")])
    human = R.Rater(id="human:h1", kind="human", name="h1")
    store.add([human, *[R.Comparison(item_id=i.id, rater_id=human.id, response_ids=[a.id, b.id], shown_order=[a.id, b.id],
                                     outcome="win", winner=a.id)
                        for i, a, b in zip(items, resp["gpt-y@1"], resp["llama@1"])]])

    def handler(body):
        n = nonce_of(body)
        if body["model"] == "biased":
            return f"first\nVERDICT {n}: A>B"
        return f"fair\nVERDICT {n}: {'A>B' if 'Canberra' in fenced(body, 'ANSWER A') else 'B>A'}"

    with ScriptedServer(handler=handler) as srv:
        _, fair = judge_pairwise(session(store, base_url=srv.base_url), ["gpt-y@1", "llama@1"], ["fair@1"])
        _, biased = judge_pairwise(session(store, base_url=srv.base_url), ["gpt-y@1", "llama@1"], ["biased@1"])
    f = judge_report(store, fair.id)["pairwise"]
    b = judge_report(store, "biased@1")["pairwise"]
    assert f["position"] == {"pairs_judged_both_orders": 4, "flips": 0, "flip_rate": 0.0, "p_shown_first_preferred": 0.5}
    assert b["position"] == {"pairs_judged_both_orders": 4, "flips": 4, "flip_rate": 1.0, "p_shown_first_preferred": 1.0}
    assert f["agreement"]["judge_vs_majority"]["percent"] == 1.0 and b["agreement"]["judge_vs_majority"]["percent"] == 0.0
    assert (f["length_bias"]["p_judge_prefers_longer"], f["length_bias"]["n_judge"]) == (1.0, 4)
    assert f["self_preference"] == {"family": "gpt", "pairs": 4, "p_judge_prefers_own_family": 1.0,
                                    "p_humans_prefer_own_family": 1.0}
    assert b["self_preference"]["pairs"] == 0  # a mistral judge judges no mistral model


def test_unknown_judge_is_a_clear_error(store):
    from assay.errors import NotFound

    with pytest.raises(NotFound, match="no rater 'nobody'"):
        judge_report(store, "nobody")
