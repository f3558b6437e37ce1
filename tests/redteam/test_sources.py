"""Importing JailbreakBench artifacts and XSTest completions: records, idempotence, bad input, human agreement."""

from __future__ import annotations

import csv
import json

import pytest

from assay.errors import BadInput
from assay.redteam.sources import import_jailbreakbench, import_xstest, xstest_label
from assay.stats.agreement import cohen_kappa
from tests.redteam._data import JBB, XSTEST, completions


def test_jailbreakbench_import_is_complete_and_idempotent(store):
    path = JBB / "PAIR-gpt-4-0125-preview.json"
    first = import_jailbreakbench(store, path)
    assert first["model"] == "gpt-4-0125-preview@jbb" and first["attack"] == "PAIR" and first["behaviors"] == 100
    # 64 of 100 behaviours have a submitted prompt and a response; each response gets two imported verdicts
    assert (first["items_added"], first["responses_added"], first["attempts_added"], first["judgments_added"]) == (164, 64, 100, 128)
    again = import_jailbreakbench(store, path)
    assert {k: v for k, v in again.items() if k.endswith("_added")} == dict.fromkeys(
        ("items_added", "responses_added", "attempts_added", "judgments_added"), 0)
    attempts = store.list("attempts", model="gpt-4-0125-preview@jbb")
    assert {a.attack for a in attempts} == {"PAIR"} and sum(a.response_id is None for a in attempts) == 36
    raters = {r.name: r for r in store.iter("raters")}
    assert raters["jailbreakbench.artifact.jailbroken"].kind == "program"
    assert raters["jailbreakbench.artifact.jailbroken"].program_version == "imported"
    behaviour = store.get("items", attempts[0].behavior_id)
    assert behaviour.dataset == "jbb-behaviors" and behaviour.category


def test_jailbreakbench_bad_input_names_file_line_and_field(store, tmp_path):
    data = json.loads((JBB / "PAIR-vicuna-13b-v1.5.json").read_text())
    data["jailbreaks"][2]["jailbroken"] = "yes"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data, indent=1))
    with pytest.raises(BadInput) as e:
        import_jailbreakbench(store, bad)
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1) if '"index": 2,' in text)
    assert str(e.value).startswith(f"{bad}, line {line}: field 'jailbreaks[2].jailbroken': expected bool")
    assert store.count("attempts") == 0  # nothing of the bad file was stored
    (tmp_path / "broken.json").write_text('{"parameters": {}\n,,}')
    with pytest.raises(BadInput, match=r"broken.json, line 2: not valid JSON"):
        import_jailbreakbench(store, tmp_path / "broken.json")


def test_xstest_import_labels_items_and_is_idempotent(store):
    out = import_xstest(store, completions("gpt4"))
    assert out["model"] == "gpt4@xstest" and out["items"] == 450
    assert (out["items_added"], out["responses_added"], out["judgments_added"]) == (450, 450, 1350)
    assert all(v == 0 for k, v in import_xstest(store, completions("gpt4")).items() if k.endswith("_added"))
    items = store.list("items", dataset="xstest")
    # our safe/unsafe rule from the type agrees with the label column of xstest_prompts.csv
    with open(XSTEST / "xstest_prompts.csv", encoding="utf-8") as f:
        published = {r["id"]: r["label"] for r in csv.DictReader(f)}  # completions' "v2-12" is prompt "12"
    assert all(published[it.external_id] == it.metadata["label"] == xstest_label(it.category) for it in items)
    assert sum(it.metadata["label"] == "safe" for it in items) == 250
    # the string-match file adds only XSTest's classifier verdicts on the same responses
    s = import_xstest(store, XSTEST / "xstest_v2_completions_gpt4_streval.csv")
    assert (s["items_added"], s["responses_added"], s["judgments_added"]) == (0, 0, 450)


def test_xstest_prompts_alone_share_the_completions_items(store):
    """The bundled prompts give items to answer with your own model; published answers land on the same items."""
    out = import_xstest(store)
    assert (out["model"], out["items_added"], out["responses_added"]) == (None, 450, 0)
    assert sum(it.metadata["label"] == "safe" for it in store.list("items", dataset="xstest")) == 250
    gpt4 = import_xstest(store, completions("gpt4"))
    # one prompt (id 195) was reworded after the completions were made: its answer gets the old wording's item
    assert (gpt4["items_added"], gpt4["responses_added"]) == (1, 450)
    (old,) = [it for it in store.list("items", dataset="xstest") if it.external_id == "195" and "enemy" in it.prompt]
    assert store.count("responses", item_id=old.id) == 1


def test_xstest_bad_label_names_line_and_field(store, tmp_path):
    rows = (completions("gpt4")).read_text(encoding="utf-8")
    bad = tmp_path / "xstest_v2_completions_bad.csv"
    bad.write_text(rows.replace("1_full_compliance", "compliance", 1), encoding="utf-8")
    with pytest.raises(BadInput, match=r"line \d+: field 'annotation_1': expected one of"):
        import_xstest(store, bad)
    assert store.count("responses") == 0


@pytest.mark.parametrize("model", ["gpt4", "llama2orig"])
def test_xstest_human_agreement_through_the_store(store, model):
    import_xstest(store, completions(model))
    from assay.analysis.frames import judgments_frame
    from assay.analysis.options import Selection

    df = judgments_frame(store, select=Selection(rubric="redteam@1", dimensions=["refusal"],
                                                 raters=["human:xstest.annotation_1", "human:xstest.annotation_2"]))
    wide = df.pivot(index="unit", columns="rater", values="label")
    kappa = cohen_kappa(wide["human:xstest.annotation_1"], wide["human:xstest.annotation_2"],
                        categories=["full_compliance", "partial_refusal", "full_refusal"])
    with open(completions(model), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    agree = sum(r["annotation_1"] == r["annotation_2"] for r in rows) / len(rows)
    assert (wide.iloc[:, 0] == wide.iloc[:, 1]).mean() == pytest.approx(agree)
    assert 0.6 < kappa <= 1.0
    print(f"XSTest {model}: annotators agree on {agree:.3f} of completions, Cohen kappa {kappa:.3f}")
