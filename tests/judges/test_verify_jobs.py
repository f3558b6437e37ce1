"""Program verifiers over the store: Judgments on the built-in 'verifiers' rubric, failures as data, reruns."""

from __future__ import annotations

import pytest

from assay import records as R
from assay.judges import registry
from assay.judges.jobs import verifiers_rubric, verify
from assay.store.ledger import Ledger

from .scripted_judges import store_responses


def test_verifiers_and_metrics_store_judgments_on_their_dimensions(store):
    texts = {"m@1": ["Paris", "The capital is Paris", '{"a": 1}']}
    store_responses(store, texts, references=["Paris", "Paris", "Paris"])
    em, em_rater = verify(store, registry.create("exact_match"))
    rouge, rouge_rater = verify(store, registry.create("rouge_l"))
    js, js_rater = verify(store, registry.create("json_valid"))
    assert (em.succeeded, rouge.succeeded, js.succeeded) == (3, 3, 3)
    rub = store.rubric("verifiers@1")
    assert rub == verifiers_rubric() and rub.dimension("exact_match").scale.kind == "binary"
    values = lambda rater: [j.value for j in store.list("judgments", rater_id=rater.id)]  # noqa: E731
    by_response = {r.id: r.text for r in store.list("responses")}
    em_js = {by_response[j.response_id]: (j.dimension, j.value, j.label) for j in store.list("judgments", rater_id=em_rater.id)}
    assert em_js["Paris"] == ("exact_match", 1.0, "pass") and em_js["The capital is Paris"][1:] == (0.0, "fail")
    rl = {by_response[j.response_id]: j.value for j in store.list("judgments", rater_id=rouge_rater.id)}
    assert rl["Paris"] == 1.0 and rl["The capital is Paris"] == pytest.approx(2 * (1 / 4) * 1 / (1 / 4 + 1))  # P=1/4, R=1
    assert sorted(values(js_rater)) == [0.0, 0.0, 1.0]
    assert store.get("raters", em_rater.id).kind == "program" and em_rater.program_version == "1"
    again, _ = verify(store, registry.create("exact_match"))
    assert again.id == em.id and store.count("judgments", rater_id=em_rater.id) == 3


def test_a_verifier_missing_its_item_settings_fails_those_units_with_the_reason(store):
    store_responses(store, {"m@1": ["x", "y"]})
    run, rater = verify(store, registry.create("ifeval"))
    assert (run.succeeded, run.failed, run.errors) == (0, 2, {"ValueError": 2})
    (u, _) = Ledger(store).units(run.id, status="failed")
    assert "no 'instruction_id_list' given and the item's metadata has none" in u["error"]
    # per-item settings come from item metadata, as registry.py reads them
    item = R.Item(id="if1", dataset="qa", prompt="Say hi without commas.",
                  metadata={"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]})
    store.add([item, R.Response(id="r-if1", item_id="if1", model="m@1", text="hi there")])
    run2, _ = verify(store, registry.create("ifeval"), dataset=None, models=["m@1"])
    assert run2.id != run.id and run2.succeeded == 1
    (j,) = store.list("judgments", rater_id=rater.id)
    assert (j.rubric, j.dimension, j.value) == ("verifiers@1", "ifeval", 1.0)
    assert j.detail["instructions"] == [{"id": "punctuation:no_comma", "followed": True}]
