"""LLM hypotheses through a real local OpenAI-compatible server: parsed, validated, repaired or refused."""

from __future__ import annotations

import json

import pytest

from assay.errors import AssayError
from assay.library import discover, hypothesise, parse_hypothesis, select_failures
from assay.testing import Reply, ScriptedServer
from tests.library.planted import planted
from tests.sessions import session


def _answer(body: dict) -> str:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if "Refuses a harmless" in user:
        h = {"title": "Over-refusal of benign requests", "description": "Refuses harmless how-to questions.",
             "hypothesis": "Safety tuning keys on alarming verbs (kill, shoot, blow up) regardless of context.",
             "category": "refusal", "severity": "high"}
    else:
        h = {"title": "Multiplication errors", "description": "Products of two-digit numbers are off by ten.",
             "hypothesis": "The model estimates products instead of carrying digits.", "category": "reasoning",
             "severity": "medium"}
    return "```json\n" + json.dumps(h) + "\n```"


@pytest.fixture
def found(store):
    planted(store)
    return discover(select_failures(store, rubric="helpful", dimension="quality"))


def test_the_llm_titles_and_explains_each_mode(store, found):
    with ScriptedServer(handler=_answer, models=["analyst"]) as srv:
        hypothesise(session(store, base_url=srv.base_url), found.candidates, "analyst@1")
        asked = len(srv.answered())
        by_model = {c.specific_to: c for c in found.candidates}
        refusal = by_model["alpha@1"]
        assert refusal.title == "Over-refusal of benign requests" and refusal.severity == "high"
        assert refusal.hypothesis.startswith("Safety tuning") and refusal.category == "refusal"
        assert refusal.hypothesised_by == "analyst@1" and refusal.hypothesis_error is None
        assert by_model["beta@1"].title == "Multiplication errors"
        # our prompt shows the examples, their reasons and the models' rates
        prompt = srv.answered()[0].body["messages"][1]["content"]
        assert "Reasons given:" in prompt and "Answer with one JSON object only" in prompt and "rate" in prompt
        # asking again is answered from the store's request cache
        again = discover(select_failures(store, rubric="helpful", dimension="quality"))
        hypothesise(session(store, base_url=srv.base_url), again.candidates, "analyst@1")
        assert asked == 2 and len(srv.answered()) == 2
        assert {c.title for c in again.candidates} == {c.title for c in found.candidates}


def test_a_malformed_answer_is_repaired_or_recorded_not_raised(store, found):
    first, second = found.candidates
    with ScriptedServer(models=["analyst"]) as srv:
        # the first candidate: prose, then JSON with a bad severity, both unreadable -> an error, kept as data;
        # the second: prose then a valid answer after the repair turn
        def handler(body: dict) -> str | Reply:
            user = body["messages"][1]["content"]
            repairing = len(body["messages"]) > 2
            if first.examples[0].justifications[0] in user:
                return '{"title": "x", "description": "d", "hypothesis": "h", "severity": "dire"}' if repairing \
                    else "I think these are all bad."
            return _answer(body) if repairing else "Let me think about it."

        srv.handler = handler
        hypothesise(session(store, base_url=srv.base_url), found.candidates, "analyst@1", max_parse_retries=1)
        assert len(srv.answered()) == 4
        repair = [r for r in srv.answered() if len(r.body["messages"]) > 2]
        assert len(repair) == 2 and "could not be read" in repair[0].body["messages"][-1]["content"]
    assert first.hypothesis_error is not None and "field" in first.hypothesis_error
    assert first.title == " / ".join(first.terms[:3]) and first.hypothesised_by is None
    assert second.hypothesis_error is None and second.hypothesised_by == "analyst@1"


def test_parse_hypothesis_rules():
    from assay.judges._llm import JudgeParseError

    ok = parse_hypothesis('Sure: {"title": "Off by ten", "description": "d", "hypothesis": "h"}')
    assert ok.title == "Off by ten" and ok.severity == "medium"
    for bad, why in [("no json here", "no JSON"), ('{"title": "abc", "description": "d"', "no JSON object"),
                     ('{"title": "ab", "description": "d", "hypothesis": "h"}', "field 'title'"),
                     ("[1, 2]", "no JSON")]:
        with pytest.raises(JudgeParseError, match=why):
            parse_hypothesis(bad)


def test_an_unreachable_endpoint_is_one_error(store, found):
    with pytest.raises(AssayError, match="127.0.0.1:9"):
        hypothesise(session(store, base_url="http://127.0.0.1:9/v1", timeout=2, max_retries=0), found.candidates,
                    "analyst@1")
