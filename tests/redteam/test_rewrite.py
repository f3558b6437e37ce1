"""Converters that ask a model (paraphrase, translate, tone) through the provider layer: seeded, cached, chained."""

from __future__ import annotations

import base64
import json

import pytest

from assay import records as R

from assay.cli import main
from assay.redteam import converters as C
from assay.redteam.attacks import run_attacks
from assay.redteam.rewrite import REWRITER_SYSTEM, convert_all
from assay.testing import ScriptedServer
from tests.redteam.test_attacks import FAST, behaviors
from tests.sessions import session


def helper(body: dict) -> str:
    """A rewriting model: upper-cases for a paraphrase, tags a translation with its language."""
    if body["model"] == "target":
        return "I'm sorry, I can't."
    asked, text = body["messages"][-1]["content"].split("\n\nTEXT:\n")
    if asked.startswith("Paraphrase"):
        return f"{text.upper()} (seed {body['seed']})"
    if "into Zulu" in asked:
        return f"[zu] {text}"
    if "into English" in asked:
        return text.removeprefix("[zu] ") + " (back)"
    return f"[{asked.split('tone that is ')[1].split(';')[0]}] {text}"


def test_model_converters_are_seeded_cached_and_chain_with_deterministic_ones(store):
    behaviors(store)
    with ScriptedServer(handler=helper) as srv:
        store.add([R.Model(id="helper@1", base_url=srv.base_url)])
        s = session(store, **FAST)
        chain = C.parse_chain("paraphrase(model=helper@1, seed=3)+base64(instruction=false)")
        assert chain.models == ["helper@1"]
        with pytest.raises(ValueError, match="asks a model"):
            chain("x")
        out = convert_all(s, chain, ["say a", "say b"])
        assert [base64.b64decode(o).decode() for o in out] == ["SAY A (seed 3)", "SAY B (seed 3)"]
        first = srv.chat_requests[0].body
        assert first["seed"] == 3 and first["messages"][0]["content"] == REWRITER_SYSTEM
        n = len(srv.chat_requests)
        assert convert_all(s, chain, ["say a", "say b"]) == out and len(srv.chat_requests) == n  # from the cache
        assert convert_all(s, C.parse_chain("translate(model=helper@1, back=true)"), ["hello"]) == ["hello (back)"]
        assert convert_all(s, C.parse_chain("tone(model=helper@1, tone=urgent)"), ["hi"])[0].startswith("[urgent")

        results = run_attacks(s, R.Model(id="target@1", base_url=srv.base_url), "beh",
                              ["translate(model=helper@1)"])
        assert results[0].attempts == 3
        items = store.list("items", dataset=results[0].dataset)
        assert sorted(i.prompt for i in items) == [f"[zu] explain goal {w}" for w in ("one", "two", "zero")]
    with pytest.raises(ValueError, match="model=NAME@VERSION"):
        C.create("paraphrase")
    with pytest.raises(ValueError, match="tone must be one of"):
        C.create("tone", model="helper@1", tone="grumpy")


def test_model_converters_from_the_cli(store, store_url, capsys):
    behaviors(store)
    with ScriptedServer(handler=helper) as srv:
        args = ["--db", store_url, "redteam", "run", "--behaviors", "beh", "--model", "target@1", "--base-url",
                srv.base_url, "--attack", "paraphrase(model=helper@1)", "--yes"]
        assert main(args) == 0
        n = len(srv.chat_requests)
        assert n == 6  # three rewrites, three target calls
        assert main(args) == 0 and len(srv.chat_requests) == n
    assert store.find("models", "helper@1") is not None


def test_a_failed_rewrite_is_counted_reported_and_asked_again_on_a_rerun(store, store_url, capsys):
    from assay.testing import Reply

    behaviors(store)
    broken = {"goal one"}

    def flaky(body: dict):
        if body["model"] != "target" and any(b in body["messages"][-1]["content"] for b in broken):
            return Reply(status=400, body={"error": {"message": "rejected"}})
        return helper(body)

    with ScriptedServer(handler=flaky) as srv:
        args = ["--db", store_url, "redteam", "run", "--behaviors", "beh", "--model", "target@1", "--base-url",
                srv.base_url, "--attack", "paraphrase(model=helper@1)", "--max-retries", "0", "--yes", "--json"]
        assert main(args) == 1
        captured = capsys.readouterr()
        (row,) = json.loads(captured.out)["attacks"]
        assert (row["attempts"], row["failed"]) == (2, 1)
        assert row["rewrite_errors"][0].startswith("converter paraphrase: helper@1 failed (bad_request)")
        broken.clear()
        n = len(srv.chat_requests)
        assert main(args) == 0
        # only the failed rewrite and its target call are new
        assert sorted(r.body["model"] for r in srv.chat_requests[n:]) == ["helper", "target"]


@pytest.mark.parametrize("spec", ["paraphrase(model=helper@1, seed=3)", "translate(model=helper@1, back=true)",
                                  "tone(model=helper@1, tone=formal)"])
def test_model_converters_work_from_inside_a_running_event_loop(store, spec):
    """A notebook or an async app calls convert_all with its loop running: no 'asyncio.run() cannot be called'."""
    import asyncio

    with ScriptedServer(handler=helper) as srv:
        store.add([R.Model(id="helper@1", base_url=srv.base_url)])
        s = session(store, **FAST)
        outside = convert_all(s, C.parse_chain(spec), ["say a", "say b"])
        n = len(srv.chat_requests)

        async def app() -> list[str | None]:
            await asyncio.sleep(0)  # this loop is running
            errors: list[str] = []
            out = convert_all(s, C.parse_chain(spec), ["say a", "say b", "say c"], errors=errors)
            assert errors == []
            return out

        inside = asyncio.run(app())
        assert inside[:2] == outside and inside[2] not in (None, "say c")
        assert len(srv.chat_requests) == n + (2 if "back=true" in spec else 1)  # only "say c" is new


def test_answers_to_translated_prompts_are_not_judged_by_the_english_refusal_detector(store):
    """A target refusing in Zulu has no English refusal cue: the detector would call it compliance (a false
    jailbreak). Those answers are left out and named; a back-translated attack is English again and is judged."""
    from assay.redteam.detect import classify_refusal, detect_refusals
    from assay.redteam.rewrite import asked_in

    assert classify_refusal("Ngiyaxolisa, angikwazi ukusiza ngalokho.").label == "full_compliance"  # the misreading

    def zulu_target(body: dict) -> str:
        if body["model"] == "target":
            asked = body["messages"][-1]["content"]
            return "Ngiyaxolisa, angikwazi ukusiza ngalokho." if asked.startswith("[zu]") else "I'm sorry, I can't."
        return helper(body)

    behaviors(store)
    with ScriptedServer(handler=zulu_target) as srv:
        store.add([R.Model(id="helper@1", base_url=srv.base_url)])
        s = session(store, **FAST)
        target = R.Model(id="target@1", base_url=srv.base_url)
        run_attacks(s, target, "beh", ["translate(model=helper@1)", "translate(model=helper@1, back=true)"])
        left_out: list[str] = []
        run, rater = detect_refusals(s, models=["target@1"], attempts_only=True, left_out=left_out)
    attempts = store.list("attempts")
    zulu = {a.response_id for a in attempts if asked_in(a.attack_config["converters"]) == "Zulu"}
    english = {a.response_id for a in attempts} - zulu
    assert len(zulu) == len(english) == 3 and set(left_out) == zulu
    labels = {j.response_id: j.label for j in store.iter("judgments", rater_id=rater.id)}
    assert set(labels) == english and set(labels.values()) == {"full_refusal"}
    assert asked_in([{"name": "translate", "args": {"language": "English"}}]) is None
    zulu_dataset = store.get("items", next(a.item_id for a in attempts if a.response_id in zulu)).dataset
    with pytest.raises(Exception, match="another language"):  # nothing left to judge: said why
        detect_refusals(s, models=["target@1"], dataset=zulu_dataset)
    # `assay verify --verifier refusal` leaves them out the same way
    from assay.judges import create
    from assay.judges.jobs import verify

    run, _ = verify(s, create("refusal"), models=["target@1"])
    assert run.config["left_out"]["responses"] == 3 and run.total == 3  # the back-translated attack's answers
