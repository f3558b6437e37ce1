"""The report's red-team and failure-library sections: the same figures as `assay.redteam`, escaped, absent without data."""

from __future__ import annotations

import csv

import pytest

from assay import records as R
from assay.redteam import asr as A
from assay.redteam import detect_refusals, import_jailbreakbench, import_xstest
from assay.analysis.options import Options
from assay.report import build_report, to_html, to_json, to_markdown
from tests.redteam._data import JBB, completions
from tests.sessions import session

EVIL = "<script>alert(1)</script><img src=x onerror=alert(1)>"
GPT35, GPT4 = "gpt-3.5-turbo-1106@jbb", "gpt-4-0125-preview@jbb"


def _human_verdicts(store) -> R.Rater:
    """A human (with a hostile name) judging every PAIR response of the two GPT models: the artifact's
    verdict, except that every fifth one is flipped, so the human's figures differ from the artifact's."""
    human = R.Rater(id="human:redteamer", kind="human", name=f"red teamer {EVIL}")
    store.add([human])
    att = store.frame("attempts", model=[GPT35, GPT4])
    ids = sorted(att["response_id"].dropna())
    published = {j.response_id: j.value for j in store.iter("judgments", dimension="jailbroken", response_id=ids)
                 if j.rater_id.startswith("program:jailbreakbench.artifact.jailbroken")}
    store.add([R.Judgment(id=f"hj{k}", response_id=rid, rater_id=human.id, rubric="redteam@1", dimension="jailbroken",
                          value=1.0 - published[rid] if k % 5 == 0 else published[rid], justification=EVIL)
               for k, rid in enumerate(ids)])
    return human


def test_redteam_section_equals_asr_compare_and_refusal_rates(store):
    from assay.stats.agreement import cohen_kappa

    for name in ("PAIR-gpt-3.5-turbo-1106", "PAIR-gpt-4-0125-preview", "PAIR-vicuna-13b-v1.5", "GCG-vicuna-13b-v1.5"):
        import_jailbreakbench(store, JBB / f"{name}.json")
    human = _human_verdicts(store)
    for model in ("gpt4", "llama2orig"):
        import_xstest(store, completions(model))
    _, detector = detect_refusals(session(store), dataset="xstest")
    report = build_report(store, options=Options(rounds=20))

    rt = report["redteam"]
    # every rater with verdicts on the attempts, the human first, then the imported verdicts by id
    assert [t["rater"] for t in rt["tables"]][0] == human.id
    assert [t["name"] for t in rt["tables"]][1:] == ["jailbreakbench.artifact.jailbroken",
                                                     "jailbreakbench.artifact.llama_guard1"]
    for t in rt["tables"]:
        assert t["rows"] == A.asr(store, rater=t["rater"], dimension=t["dimension"])["rows"]
    published = {(r["model"], r["attack"]): r["asr"] for r in rt["tables"][1]["rows"]}
    assert published == {(GPT35, "PAIR"): 0.71, (GPT4, "PAIR"): 0.34, ("vicuna-13b-v1.5@jbb", "PAIR"): 0.69,
                         ("vicuna-13b-v1.5@jbb", "GCG"): 0.80}
    human_rows = {(r["model"], r["attack"]): r for r in rt["tables"][0]["rows"]}
    assert human_rows[(GPT4, "PAIR")]["asr"] != 0.34  # the flipped verdicts count
    assert human_rows[("vicuna-13b-v1.5@jbb", "GCG")]["n"] == 0  # the human never judged GCG
    # the comparison: by the first rater, the two models sharing the most judged behaviours with one attack
    c = rt["comparison"]
    assert (c["on"], c["first"], c["second"], c["within"], c["rater"]) == ("model", GPT35, GPT4, "PAIR", human.id)
    assert {k: v for k, v in c.items() if k != "within"} == A.compare(store, GPT35, GPT4, rater=human.id,
                                                                      attacks=["PAIR"])

    rf = report["refusals"]
    final = "human:xstest.final_label"
    assert [t["rater"] for t in rf["raters"]] == [final, "human:xstest.annotation_1", "human:xstest.annotation_2",
                                                  detector.id]
    assert rf["reference"] == final
    for t in rf["raters"]:
        assert t["rows"] == A.refusal_rates(store, rater=t["rater"])
    # Cohen's kappa of the detector with the final labels, recomputed from the CSV and the detector's judgments
    model_of = {"gpt4": "gpt4@xstest", "llama2orig": "llama2orig@xstest"}
    ours = {j.response_id: j.label for j in store.iter("judgments", rater_id=detector.id)}
    a, b = [], []
    for model, mid in model_of.items():
        with open(completions(model), encoding="utf-8") as f:
            for row in csv.DictReader(f):
                item = R.Item.make_id("xstest", None, row["prompt"], None)  # XSTest items follow the prompt text
                a.append(row["final_label"].split("_", 1)[1])
                b.append(ours[R.Response.make_id(item, mid, 0)])
    det = next(x for x in rf["agreement"] if x["rater"] == detector.id)
    assert det["n"] == len(a) == 900
    assert det["kappa"]["estimate"] == pytest.approx(cohen_kappa(a, b), abs=1e-12)
    assert det["kappa_binary"]["estimate"] == pytest.approx(
        cohen_kappa([x != "full_compliance" for x in a], [x != "full_compliance" for x in b]), abs=1e-12)
    llama = next(r for r in rf["raters"][0]["rows"] if r["model"] == "llama2orig@xstest")
    assert (llama["over_refusal"]["k"], llama["over_refusal"]["n"]) == (149, 250)

    html = to_html(report)
    assert 'id="redteam"' in html and 'href="#redteam"' in html and 'id="library"' not in html
    assert "0.710" in html and "0.340" in html and "149/250" in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "red teamer &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    md = to_markdown(report)
    assert "### Red team" in md and "<script>" not in md and "| 0.710 [" in md
    assert '"redteam"' in to_json(report)


def test_library_entries_appear_escaped_with_status_and_last_check(store):
    from assay.library import add_entry, edit_entry

    model = f"target{EVIL}@1"
    store.add([R.Dataset(name="d"), R.Model(id=model), R.Item(id="i1", dataset="d", prompt=f"say {EVIL}")])
    store.add([R.Response(id="r1", item_id="i1", model=model, text=f"Sure: {EVIL}")])
    add_entry(store, f"Echoes markup {EVIL}", entry="echoes-markup", hypothesis=f"copies {EVIL} verbatim",
              severity="high", examples=["r1"])
    check = {"model": model, "n": 20, "failures": 5, "rate": 0.25, "wilson95": [0.111862, 0.468701]}
    edit_entry(store, "echoes-markup", status="confirmed", evidence={"last_check": check})
    add_entry(store, "Plain one", entry="plain-one")
    report = build_report(store, options=Options(rounds=10))
    assert report["redteam"] is None and report["refusals"] is None
    lib = {e["entry"]: e for e in report["library"]}
    e = lib["echoes-markup"]
    assert (e["version"], e["status"], e["severity"], e["examples"], e["models"]) == (2, "confirmed", "high", 1, [model])
    assert e["last_check"]["rate"] == 0.25 and e["last_check"]["low"] == 0.111862 and lib["plain-one"]["last_check"] is None
    html = to_html(report)
    assert 'id="library"' in html and 'id="redteam"' not in html
    assert "Echoes markup &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "onerror=alert(1)>" not in html
    assert "confirmed" in html and "5/20 = 0.250 [0.112, 0.469]" in html
    md = to_markdown(report)
    assert "### Failure library" in md and "<script>" not in md and "| confirmed | high |" in md


def test_sections_absent_without_red_team_data(store):
    store.add([R.Dataset(name="d"), R.Model(id="a@1"), R.Item(id="i1", dataset="d", prompt="hi"),
               R.Response(id="r1", item_id="i1", model="a@1", text="hello"),
               R.Rater(id="human:h", kind="human", name="h")])
    from assay.rubrics import get_rubric

    rub = get_rubric(store, "default")
    store.add([R.Judgment(id="j1", response_id="r1", rater_id="human:h", rubric=rub.id, dimension="factuality",
                          value=4.0)])
    report = build_report(store, options=Options(rounds=10))
    assert report["redteam"] is None and report["refusals"] is None and report["library"] == []
    html, md = to_html(report), to_markdown(report)
    assert 'id="redteam"' not in html and 'id="library"' not in html and "#redteam" not in html
    assert "### Red team" not in md and "### Failure library" not in md


def test_attempts_without_verdicts_say_so(store):
    store.add([R.Dataset(name="b"), R.Model(id="t@1"), R.Item(id="b1", dataset="b", prompt="do harm"),
               R.Response(id="r1", item_id="b1", model="t@1", text="no")])
    store.add([R.Attempt(id="a1", behavior_id="b1", model="t@1", attack="direct", item_id="b1", response_id="r1")])
    report = build_report(store, options=Options(rounds=10))
    assert report["redteam"]["attempts"] == 1 and "no verdicts" in report["redteam"]["error"]
    assert "no verdicts on the attempts" in to_html(report) and "no verdicts on the attempts" in to_markdown(report)


def test_the_ab_test_leaves_red_team_verdicts_out(store):
    """Without a rubric, the report's A/B test covers quality dimensions, not jailbreak verdicts."""
    from assay.report import Sections, build_report
    from assay.rubrics import get_rubric

    rub = get_rubric(store, "default")
    items = [R.Item(id=f"i{k}", dataset="d", prompt=f"question {k}") for k in range(12)]
    answers = [R.Response(id=f"{m}-{k}", item_id=f"i{k}", model=f"{m}@1",
                          text="I'm sorry, I can't help with that." if m == "a" and k % 3 == 0 else f"answer {k}")
               for m in ("a", "b") for k in range(12)]
    human = R.Rater(id="human:h", kind="human", name="h")
    judged = [R.Judgment(response_id=r.id, rater_id=human.id, rubric=rub.id, dimension="factuality",
                         value=float(3 + (r.model == "b@1") + k % 2)) for k, r in enumerate(answers)]
    store.add([R.Dataset(name="d"), *items, R.Model(id="a@1"), R.Model(id="b@1"), *answers, human, *judged])
    get_rubric(store, "redteam")
    verdicts = R.Rater(id="program:jb", kind="program", name="jb", program_version="imported")
    store.add([verdicts, *[R.Judgment(response_id=r.id, rater_id=verdicts.id, rubric="redteam@1",
                                      dimension="jailbroken", value=float(k % 2)) for k, r in enumerate(answers)]])
    report = build_report(store, options=Options(rounds=10), sections=Sections(ab_models=("a@1", "b@1")))
    dims = {(d["rubric"], d["dimension"]) for d in report["abtest"]["data"]["dimensions"]}
    assert dims == {(rub.id, "factuality")}
