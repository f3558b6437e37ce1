"""Program verifiers over the store: Judgments on the built-in 'verifiers' rubric, failures as data, reruns."""

from __future__ import annotations

import pytest

from assay import records as R
from assay.errors import BadInput
from assay.judges import registry
from assay.judges.jobs import verifiers_rubric, verify
from assay.store.ledger import Ledger

from .scripted_judges import store_responses
from tests.sessions import session


def test_verifiers_and_metrics_store_judgments_on_their_dimensions(store):
    texts = {"m@1": ["Paris", "The capital is Paris", '{"a": 1}']}
    store_responses(store, texts, references=["Paris", "Paris", "Paris"])
    em, em_rater = verify(session(store), registry.create("exact_match"))
    rouge, rouge_rater = verify(session(store), registry.create("rouge_l"))
    js, js_rater = verify(session(store), registry.create("json_valid"))
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
    again, _ = verify(session(store), registry.create("exact_match"))
    assert again.id == em.id and store.count("judgments", rater_id=em_rater.id) == 3


def test_a_verifier_the_items_cannot_feed_is_refused_before_any_unit(store):
    store_responses(store, {"m@1": ["x", "y"]})
    with pytest.raises(BadInput, match=r"ifeval needs IFEval instructions .*, and none of the 2 items") as e:
        verify(session(store), registry.create("ifeval"))
    assert e.value.field == "judge" and len(str(e.value).splitlines()) == 1
    for name, args, what in (("regex", {}, "a pattern"), ("json_schema", {}, "a JSON Schema"),
                             ("rouge_l", {}, "a reference answer"), ("exact_match", {}, "a reference answer")):
        with pytest.raises(BadInput, match=f"{name} needs {what}"):
            verify(session(store), registry.create(name, **args))
    assert Ledger(store).runs() == [] and store.count("judgments") == 0  # no run, no unit, nothing stored
    assert verify(session(store), registry.create("regex", pattern="x"))[0].succeeded == 2  # given what it needs, it runs

    # per-item settings come from item metadata, as registry.py reads them; in a selection that mixes
    # items with and without them, the responses to the others are left out (counted), not failed
    item = R.Item(id="if1", dataset="if", prompt="Say hi without commas.",
                  metadata={"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]})
    store.add([R.Dataset(name="if"), item, R.Response(id="r-if1", item_id="if1", model="m@1", text="hi there")])
    run, rater = verify(session(store), registry.create("ifeval"), models=["m@1"])
    assert (run.total, run.succeeded, run.failed) == (1, 1, 0)
    assert run.config["left_out"]["responses"] == 2 and "IFEval instructions" in run.config["left_out"]["items_lack"]
    assert verify(session(store), registry.create("ifeval"), dataset="if")[0].config.get("left_out") is None
    (j,) = store.list("judgments", rater_id=rater.id)
    assert (j.rubric, j.dimension, j.value) == ("verifiers@1", "ifeval", 1.0)
    assert j.detail["instructions"] == [{"id": "punctuation:no_comma", "followed": True}]
