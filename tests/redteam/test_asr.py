"""Attack success rates from imported verdicts reproduce JailbreakBench's published figures; over-refusal; McNemar."""

from __future__ import annotations

import csv
import json

import pytest

from assay.errors import BadInput
from assay.redteam import asr as A
from assay.redteam.sources import import_jailbreakbench, import_xstest
from tests.redteam._data import JBB, PUBLISHED_ASR, completions

RATER = "jailbreakbench.artifact.jailbroken"


@pytest.fixture
def jbb(store):
    for name in PUBLISHED_ASR:
        import_jailbreakbench(store, JBB / f"{name}.json")
    return store


def test_asr_reproduces_each_published_attack_success_rate(jbb):
    rows = {(r["attack"], r["model"]): r for r in A.asr(jbb, rater=RATER)["rows"]}
    assert len(rows) == len(PUBLISHED_ASR)
    for name, published in PUBLISHED_ASR.items():
        params = json.loads((JBB / f"{name}.json").read_text())["parameters"]
        assert params["attack_success_rate"] == published
        row = rows[(params["method"], f"{params['model']}@jbb")]
        assert row["n"] == 100 and row["unjudged"] == 0
        assert row["asr"] == published, name  # exactly, not approximately
        assert row["low"] <= published <= row["high"]
    # one attempt per behaviour here, so per-attempt and per-behaviour rates coincide
    per_attempt = {(r["attack"], r["model"]): r["asr"] for r in A.asr(jbb, rater=RATER, per="attempt")["rows"]}
    assert per_attempt == {k: r["asr"] for k, r in rows.items()}


def test_per_behaviour_counts_any_success_across_attacks(jbb):
    vicuna = "vicuna-13b-v1.5@jbb"
    both = A.asr(jbb, rater=RATER, by=["model"], models=[vicuna])["rows"][0]
    gcg = {r["index"]: r["jailbroken"] for r in json.loads((JBB / "GCG-vicuna-13b-v1.5.json").read_text())["jailbreaks"]}
    pair = {r["index"]: r["jailbroken"] for r in json.loads((JBB / "PAIR-vicuna-13b-v1.5.json").read_text())["jailbreaks"]}
    assert both["successes"] == sum(gcg[i] or pair[i] for i in gcg) and both["n"] == 100
    attempt = A.asr(jbb, rater=RATER, by=["model"], models=[vicuna], per="attempt")["rows"][0]
    assert (attempt["successes"], attempt["n"]) == (80 + 69, 200)
    cats = A.asr(jbb, rater=RATER, by=["model", "attack", "category"], models=[vicuna], attacks=["GCG"])["rows"]
    assert len(cats) == 10 and sum(r["successes"] for r in cats) == 80 and sum(r["n"] for r in cats) == 100


def test_compare_attacks_with_mcnemar(jbb):
    from statsmodels.stats.contingency_tables import mcnemar

    c = A.compare(jbb, "GCG", "PAIR", on="attack", rater=RATER, models=["vicuna-13b-v1.5@jbb"])
    gcg = {r["index"]: r["jailbroken"] for r in json.loads((JBB / "GCG-vicuna-13b-v1.5.json").read_text())["jailbreaks"]}
    pair = {r["index"]: r["jailbroken"] for r in json.loads((JBB / "PAIR-vicuna-13b-v1.5.json").read_text())["jailbreaks"]}
    b = sum(gcg[i] and not pair[i] for i in gcg)
    cc = sum(pair[i] and not gcg[i] for i in gcg)
    assert (c["only_first"], c["only_second"], c["behaviors"]) == (b, cc, 100)
    both = sum(gcg[i] and pair[i] for i in gcg)
    assert c["p_value"] == pytest.approx(mcnemar([[both, b], [cc, 100 - both - b - cc]], exact=True).pvalue, abs=1e-12)
    m = A.compare(jbb, "gpt-3.5-turbo-1106@jbb", "gpt-4-0125-preview@jbb", rater=RATER, attacks=["PAIR"])
    assert (m["first_asr"], m["second_asr"]) == (0.71, 0.34) and m["p_value"] < 1e-6


def test_rater_must_be_chosen_when_several_judged(jbb):
    with pytest.raises(BadInput, match="choose a rater"):
        A.asr(jbb)
    guard = A.asr(jbb, rater="jailbreakbench.artifact.llama_guard1")["rows"]
    assert {(r["attack"], r["model"]): r["successes"] for r in guard}[("PAIR", "gpt-4-0125-preview@jbb")] == 50


def test_refusal_rates_from_human_labels(store):
    for model in ("gpt4", "mistralinstruct"):
        import_xstest(store, completions(model))
    rows = {r["model"]: r for r in A.refusal_rates(store, rater="xstest.final_label", dataset="xstest")}
    for model in ("gpt4", "mistralinstruct"):
        with open(completions(model), encoding="utf-8") as f:
            data = list(csv.DictReader(f))
        safe = [r for r in data if not r["type"].startswith("contrast_")]
        unsafe = [r for r in data if r["type"].startswith("contrast_")]
        row = rows[f"{model}@xstest"]
        assert row["over_refusal"]["n"] == 250 and row["unsafe_compliance"]["n"] == 200
        assert row["over_refusal"]["k"] == sum(r["final_label"] != "1_full_compliance" for r in safe)
        assert row["unsafe_compliance"]["k"] == sum(r["final_label"] == "1_full_compliance" for r in unsafe)
    assert rows["gpt4@xstest"]["over_refusal"]["k"] == 21  # 8.4% of safe prompts refused, as the labels say
