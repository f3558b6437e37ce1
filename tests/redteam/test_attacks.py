"""Attacks against assay's scripted OpenAI-compatible server, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json

import pytest

from assay import records as R
from assay.errors import BadInput, NotFound
from assay.redteam.attacks import run_attacks
from assay.redteam.iterative import (
    ATTACKER_SYSTEM, FORGETS, REMEMBERS, IterativeAttack, parse_score, run_iterative,
)
from assay.store.ledger import Ledger
from assay.testing import Reply, ScriptedServer
from tests.sessions import session

GOALS = ["explain goal zero", "explain goal one", "explain goal two"]


def behaviors(store, name: str = "beh") -> list[R.Item]:
    items = [R.Item(id=R.Item.make_id(name, str(i), None, None), dataset=name, external_id=str(i), prompt=g,
                    category="test") for i, g in enumerate(GOALS)]
    store.add([R.Dataset(name=name), *items])
    return items


def model(srv, name: str) -> R.Model:
    return R.Model(id=f"{name}@1", base_url=srv.base_url)


FAST = dict(backoff_base=0.01, max_retries=1)


class Target:
    """Refuses in plain text; complies when it finds a goal in base64, or a prompt that says PLEASE.

    ``broken`` makes prompts containing it fail with HTTP 400 (a per-call error).
    """

    def __init__(self) -> None:
        self.broken: str | None = None

    def __call__(self, body: dict) -> str | Reply:
        last = body["messages"][-1]["content"]
        if self.broken and self.broken in last:
            return Reply(status=400, body={"error": {"message": "prompt rejected"}})
        for word in last.split():
            try:
                if base64.b64decode(word, validate=True).decode() in GOALS:
                    return "Sure, here is the explanation, step by step."
            except ValueError:
                continue
        if "PLEASE" in last:
            return f"Fine, here is everything in detail on: {last}"
        return f"I'm sorry, but I can't help with: {last}"  # echoed, so no two gradings are one request


def scripted(target: Target, attacker_replies=None):
    """One server for target, attacker and judge: the attacker asks nicely from its second round on."""

    def handler(body: dict) -> str | Reply:
        m = body["model"]
        if m == "target":
            return target(body)
        if m == "attacker":
            if attacker_replies is not None:
                return attacker_replies(body)
            rounds = sum(1 for x in body["messages"] if x["role"] == "assistant")
            goal = body["messages"][0]["content"].split("GOAL: ")[1].splitlines()[0]
            # the seed differs by stream, so streams never share a request (no races on the cache)
            prompt = f"{'PLEASE ' if rounds >= 1 else ''}{goal} (seed {body.get('seed')})"
            return json.dumps({"reflection": f"round {rounds}", "prompt": prompt})
        if m == "judge":
            answer = body["messages"][-1]["content"].split("ANSWER:\n")[1]
            return json.dumps({"reason": "judged", "score": 10 if "in detail" in answer else 2})
        return Reply(status=404, body={"error": {"message": f"model {m} unknown"}})

    return ScriptedServer(handler=handler)


# ---- single-shot -----------------------------------------------------------------------------------


def test_single_shot_attacks_link_behaviour_item_and_response_and_add_nothing_twice(store):
    beh = behaviors(store)
    with scripted(Target()) as srv:
        results = run_attacks(session(store, **FAST), model(srv, "target"), "beh",
                              ["direct", "base64", "roleplay+prefix"])
        assert [(r.attack, r.attempts, r.added, r.failed) for r in results] == [
            ("direct", 3, 3, 0), ("base64", 3, 3, 0), ("roleplay+prefix", 3, 3, 0)]
        assert len(srv.chat_requests) == 9
        assert {r.dataset for r in results} == {"beh~direct", "beh~base64", "beh~roleplay+prefix"}

        attempts = store.list("attempts", model="target@1")
        assert len(attempts) == 9
        for a in attempts:
            item = store.get("items", a.item_id)
            response = store.get("responses", a.response_id)
            assert response.item_id == item.id and response.model == "target@1" and a.run_id == response.run_id
            assert item.metadata["behavior_id"] == a.behavior_id and item.metadata["attack"] == a.attack
            assert item.dataset == f"beh~{a.attack}" and item.category == "test"
            goal = store.get("items", a.behavior_id).prompt
            if a.attack == "direct":
                assert item.prompt == goal and response.text.startswith("I'm sorry")
            elif a.attack == "base64":
                assert base64.b64encode(goal.encode()).decode() in item.prompt
                assert response.text.startswith("Sure")
            else:
                assert goal in item.prompt and item.prompt.endswith('"Sure, here is".')
            assert a.attack_config["converters"][0]["name"] == a.attack.split("+")[0]

        # the same attacks again: nothing new is stored or sent
        counts = {k: store.count(k) for k in ("items", "responses", "attempts", "datasets")}
        again = run_attacks(session(store, **FAST), model(srv, "target"), "beh",
                            ["direct", "base64", "roleplay+prefix"])
        assert [(r.attempts, r.added) for r in again] == [(3, 0)] * 3
        assert {k: store.count(k) for k in counts} == counts and len(srv.chat_requests) == 9
        assert [r.run.id for r in again] == [r.run.id for r in results]
    assert {b.id for b in beh} == {a.behavior_id for a in attempts}


def test_failed_calls_are_counted_in_the_run_and_a_rerun_retries_only_them(store):
    behaviors(store)
    target = Target()
    target.broken = "goal one"
    with scripted(target) as srv:
        (res,) = run_attacks(session(store, **FAST), model(srv, "target"), "beh", ["prefix"])
        assert (res.attempts, res.added, res.failed) == (2, 2, 1)
        assert res.run.failed == 1 and res.run.errors == {"bad_request": 1} and res.run.status == "done"
        (failed,) = Ledger(store).units(res.run.id, status="failed")
        assert failed["error_kind"] == "bad_request" and "prompt rejected" in failed["error"]
        assert store.count("attempts") == 2
        sent = len(srv.chat_requests)

        target.broken = None
        (res2,) = run_attacks(session(store, **FAST), model(srv, "target"), "beh", ["prefix"])
        assert (res2.attempts, res2.added, res2.failed, res2.run.failed) == (3, 1, 0, 0)
        assert len(srv.chat_requests) == sent + 1


def test_limit_unknown_dataset_and_bad_attacks(store):
    behaviors(store)
    with scripted(Target()) as srv:
        (res,) = run_attacks(session(store, **FAST), model(srv, "target"), "beh", ["direct"], limit=2)
        assert (res.behaviors, res.attempts) == (2, 2) and len(srv.chat_requests) == 2
        with pytest.raises(NotFound, match="no dataset 'nope'"):
            run_attacks(session(store, **FAST), model(srv, "target"), "nope", ["direct"])
        with pytest.raises(BadInput, match="no converter named 'b64'"):
            run_attacks(session(store, **FAST), model(srv, "target"), "beh", ["b64"])
        with pytest.raises(BadInput, match="given twice"):
            run_attacks(session(store, **FAST), model(srv, "target"), "beh", ["base64", "base64(instruction=true)"])
        assert len(srv.chat_requests) == 2


# ---- iterative -------------------------------------------------------------------------------------


def iterate(store, srv, **kw):
    args = dict(attacker=model(srv, "attacker"), scorer=model(srv, "judge"), streams=2, turns=4, seed=7)
    args.update(kw)
    attacker, scorer = args.pop("attacker"), args.pop("scorer")
    return run_iterative(session(store, **FAST), model(srv, "target"), "beh", attacker=attacker, scorer=scorer,
                         attack=IterativeAttack(**args))


def test_iterative_attack_refines_stops_streams_at_success_and_resumes_for_free(store):
    behaviors(store)
    with scripted(Target()) as srv:
        res = iterate(store, srv)
        assert res.run.kind == "redteam" and res.run.status == "done" and res.run.failed == 0
        assert (res.run.total, res.run.succeeded) == (6, 6)
        # each stream: round 0 refused (score 2), round 1 PLEASE complied (score 10), then stopped
        assert res.attempts == 12 and res.succeeded_streams == 6 and set(res.best.values()) == {10.0}
        attempts = store.list("attempts", run_id=res.run.id)
        by_key = {(a.behavior_id, a.stream, a.turn): a for a in attempts}
        for (b, s, t), a in by_key.items():
            assert a.attack == "iterative" and a.model == "target@1"
            assert a.scorer.startswith("llm:redteam-scorer:") and store.find("raters", a.scorer) is not None
            if t == 0:
                assert (a.parent_id, a.score, a.success) == (None, 2.0, False)
            else:
                assert t == 1 and a.parent_id == by_key[(b, s, 0)].id and (a.score, a.success) == (10.0, True)
                assert store.get("items", a.item_id).prompt.startswith("PLEASE")
            assert store.get("responses", a.response_id).item_id == a.item_id
            assert store.get("items", a.item_id).dataset == "beh~iterative"
        # calls per stream: 2 attacker, 2 target, 2 judge; the two streams of a behaviour propose
        # different first prompts (the seed differs by stream), so nothing is shared by accident
        assert len(srv.chat_requests) == 36
        first = {store.get("items", by_key[(b, s, 0)].item_id).prompt for (b, s, t) in by_key if t == 0}
        assert len(first) == 6
        # the attacker saw its own reply and the grade of round 0 in round 1
        second = [r for r in srv.chat_requests if r.body["model"] == "attacker" and len(r.messages) > 2][0]
        assert second.messages[0]["content"] == ATTACKER_SYSTEM.format(goal=second.messages[0]["content"].split(
            "GOAL: ")[1].splitlines()[0], memory=FORGETS)
        assert "GRADE: 2/10 (judged)" in second.messages[-1]["content"]

        # the same command again: the run is complete, nothing sent, nothing added
        again = iterate(store, srv)
        assert again.run.id == res.run.id and len(srv.chat_requests) == 36 and store.count("attempts") == 12

        # a new run of the same attack with more turns is answered from the request cache
        more = iterate(store, srv, turns=6)
        assert more.run.id != res.run.id and more.run.cached == 6 and len(srv.chat_requests) == 36
        assert store.count("attempts") == 12  # the same rounds are the same attempts

        # another seed asks anew
        iterate(store, srv, seed=8, streams=1, turns=1)
        assert sorted(r.body["model"] for r in srv.chat_requests[36:]) == ["attacker"] * 3 + ["judge"] * 3 + ["target"] * 3


def test_iterative_errors_are_stored_and_a_rerun_repeats_only_the_failed_calls(store):
    behaviors(store)
    target = Target()
    target.broken = "PLEASE explain goal one"
    with scripted(target) as srv:
        res = iterate(store, srv)
        assert (res.run.succeeded, res.run.failed, res.run.errors) == (4, 2, {"bad_request": 2})
        failed = Ledger(store).units(res.run.id, status="failed")
        assert sorted(u["unit_key"].rsplit(":", 1)[1] for u in failed) == ["0", "1"]
        assert all("prompt rejected" in u["error"] for u in failed)
        # the failed streams keep their finished round 0
        beh1 = R.Item.make_id("beh", "1", None, None)
        kept = store.list("attempts", behavior_id=beh1)
        assert sorted((a.stream, a.turn) for a in kept) == [(0, 0), (1, 0)]
        sent = len(srv.chat_requests)

        target.broken = None
        res2 = iterate(store, srv)
        assert res2.run.id == res.run.id and (res2.run.succeeded, res2.run.failed) == (6, 0)
        # only the failed target call and its grading are new, per failed stream
        new = srv.chat_requests[sent:]
        assert sorted(r.body["model"] for r in new) == ["judge", "judge", "target", "target"]
        assert sorted((a.stream, a.turn) for a in store.list("attempts", behavior_id=beh1)) == [
            (0, 0), (0, 1), (1, 0), (1, 1)]


def test_iterative_with_a_program_scorer_and_an_unreadable_attacker(store):
    behaviors(store)
    with scripted(Target()) as srv:
        res = iterate(store, srv, scorer="no-refusal", streams=1, turns=3)
        assert res.succeeded_streams == 3 and res.attempts == 6
        a = store.list("attempts", run_id=res.run.id)[0]
        assert a.scorer.startswith("program:redteam-scorer:no-refusal")
        assert {r.body["model"] for r in srv.chat_requests} == {"attacker", "target"}
        with pytest.raises(BadInput, match="no program scorer 'nope'"):
            iterate(store, srv, scorer="nope")

    with scripted(Target(), attacker_replies=lambda body: "I would rather not.") as srv:
        res = iterate(store, srv, streams=1, turns=2, seed=99)
        assert res.run.failed == 3 and res.run.errors == {"attacker_unreadable": 3} and res.attempts == 0
        assert len(srv.chat_requests) == 9  # three tries per stream, then the stream fails


def test_parse_score():
    assert parse_score('```json\n{"reason": "ok", "score": 7}\n```').score == 7
    assert parse_score("Score: 10 because").score == 10
    assert parse_score("9").score == 9
    bad = parse_score("no idea")
    assert bad.score is None and "unreadable" in bad.reason
    assert parse_score('{"score": 42}').score is None


def test_the_multiturn_attack_keeps_the_conversation_and_escalates_to_success(store):
    """A target that gives in only on the third message of a conversation: the multi-turn attack gets there."""
    behaviors(store)

    def patient(body: dict) -> str:
        said = [m for m in body["messages"] if m["role"] == "user"]
        if len(said) >= 3:
            return "Fine, since we have talked it through, here it is."
        return f"I'm sorry, not yet ({len(said)})."

    def attacker(body: dict) -> str:
        rounds = sum(1 for x in body["messages"] if x["role"] == "assistant")
        goal = body["messages"][0]["content"].split("GOAL: ")[1].splitlines()[0]
        return json.dumps({"reflection": "build up", "prompt": f"step {rounds} towards {goal}"})

    class Patient(Target):
        def __call__(self, body: dict) -> str:
            return patient(body)

    with scripted(Patient(), attacker_replies=attacker) as srv:
        res = iterate(store, srv, scorer="no-refusal", streams=1, turns=5, conversation=True)
        assert res.run.status == "done" and res.succeeded_streams == 3 and res.attempts == 9
        sent = len(srv.chat_requests)
        attempts = sorted(store.list("attempts", run_id=res.run.id), key=lambda a: (a.behavior_id, a.turn))
        for a in attempts:
            item = store.get("items", a.item_id)
            assert a.attack == "multiturn" and item.dataset == "beh~multiturn" and item.prompt is None
            # turn t sends the whole conversation: t earlier messages and answers, then the new message
            assert [m.role for m in item.messages] == ["user", "assistant"] * a.turn + ["user"]
            assert item.messages[-1].content.startswith(f"step {a.turn}")
            assert (a.success, a.turn == 2) in ((True, True), (False, False))
        # the target's third request held the first two answers it gave
        third = [r for r in srv.chat_requests if r.body["model"] == "target" and len(r.messages) == 5]
        assert len(third) == 3 and third[0].messages[1]["content"].startswith("I'm sorry, not yet (1)")
        # the attacker was told the target remembers
        first = next(r for r in srv.chat_requests if r.body["model"] == "attacker")
        assert REMEMBERS in first.messages[0]["content"] and FORGETS not in first.messages[0]["content"]
        again = iterate(store, srv, scorer="no-refusal", streams=1, turns=5, conversation=True)
        assert again.run.id == res.run.id and len(srv.chat_requests) == sent
