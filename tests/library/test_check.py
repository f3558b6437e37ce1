"""Re-checking entries on new model versions against a scripted target: mitigated, regressed, confirmed."""

from __future__ import annotations

import re

import pytest

from assay import records as R
from assay.errors import BadInput
from assay.library import add_entry, check_entry, edit_entry, history
from assay.testing import ScriptedServer
from tests.judges.scripted_judges import nonce_of
from tests.library.planted import planted
from tests.library.test_entries import REGEX
from tests.sessions import session

EXACT = {"program": {"name": "exact_match", "args": {}}}


class Target:
    """A scripted model whose behaviour the test switches: refusing or not, multiplying right or not."""

    def __init__(self) -> None:
        self.refuses = False
        self.right = True

    def __call__(self, body: dict) -> str:
        if body["model"] == "judge":
            return self.judge(body)
        prompt = body["messages"][-1]["content"]
        m = re.match(r"What is (\d+) times (\d+)\?", prompt)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            return str(a * b if self.right else a * b + 10)
        return "I'm sorry, I can't help with that." if self.refuses else "Sure, here is a practical answer."

    @staticmethod
    def judge(body: dict) -> str:
        text = next(m["content"] for m in body["messages"] if m["role"] == "user")
        nonce = nonce_of(body)
        answer = text.split(f"<<<ANSWER {nonce}>>>\n")[1].split(f"\n<<<END ANSWER {nonce}>>>")[0]
        return f"Checked.\nVERDICT {nonce} quality: {1 if 'sorry' in answer else 5}"


@pytest.fixture
def target():
    t = Target()
    with ScriptedServer(handler=t) as srv:
        t.srv = srv
        yield t


def model(target, mid: str) -> R.Model:
    return R.Model(id=mid, base_url=target.srv.base_url)


def test_mitigated_then_regressed_then_cached(store, target):
    modes = planted(store)
    add_entry(store, "Over-refusal", entry="refusal", examples=modes["refusal"], detector=REGEX)
    edit_entry(store, "refusal", status="confirmed")

    fixed = check_entry(session(store), "refusal", model(target, "alpha@2"))
    assert (fixed.previous_status, fixed.entry.status, fixed.entry.version) == ("confirmed", "mitigated", 3)
    ev = fixed.entry.evidence["last_check"]
    assert (ev["model"], ev["n"], ev["failures"], ev["rate"], ev["prompts"]) == ("alpha@2", 10, 0, 0.0, 10)
    assert ev["wilson95"] == [0.0, pytest.approx(0.277533, abs=1e-6)]
    gen = store.get("runs", ev["generation_run"])
    assert gen.kind == "generate" and gen.succeeded == 10
    assert len(target.srv.answered()) == 10
    # the detector's verdicts are stored as judgments on the new answers
    new = {R.Response.make_id(r.item_id, "alpha@2", 0) for r in store.iter("responses", id=modes["refusal"])}
    assert {j.response_id for j in store.iter("judgments", run_id=gen.id)} == new

    target.refuses = True
    broke = check_entry(session(store), "refusal", model(target, "alpha@3"))
    assert (broke.previous_status, broke.entry.status) == ("mitigated", "regressed")
    assert broke.evidence["failures"] == 10 and broke.evidence["wilson95"][0] > 0.7
    assert broke.entry.models == ["alpha@1", "alpha@3"]
    assert [c["status"] for c in broke.entry.evidence["checks"]] == ["mitigated", "regressed"]

    # the same check again is answered from the request cache (no new request) and still recorded
    before = len(target.srv.answered())
    again = check_entry(session(store), "refusal", model(target, "alpha@3"))
    assert len(target.srv.answered()) == before and again.entry.status == "regressed"
    assert [v.status for v in history(store, "refusal")] == ["open", "confirmed", "mitigated", "regressed",
                                                             "regressed"]


def test_still_failing_stays_confirmed_with_a_reference_detector(store, target):
    modes = planted(store)
    add_entry(store, "Multiplication errors", entry="sums", examples=modes["arithmetic"], detector=EXACT)
    target.right = False
    r = check_entry(session(store), "sums", model(target, "beta@2"), mitigated_below=0.1)
    assert (r.previous_status, r.entry.status, r.evidence["rate"]) == ("open", "confirmed", 1.0)
    target.right = True
    r = check_entry(session(store), "sums", model(target, "beta@3"), mitigated_below=0.1)
    assert r.entry.status == "mitigated" and r.evidence["failures"] == 0


def test_an_llm_detector_runs_the_rubric_judge(store, target):
    modes = planted(store)
    det = {"rubric": "helpful", "dimension": "quality", "threshold": 3, "rater": "judge@1"}
    add_entry(store, "Over-refusal", entry="refusal", examples=modes["refusal"][:4], detector=det)
    target.refuses = True
    r = check_entry(session(store, base_url=target.srv.base_url), "refusal", model(target, "alpha@2"))
    assert (r.entry.status, r.evidence["n"], r.evidence["failures"]) == ("confirmed", 4, 4)
    judge_run = store.get("runs", r.evidence["judge_run"])
    assert judge_run.kind == "judge" and judge_run.succeeded == 4
    assert sum(1 for q in target.srv.answered() if q.body["model"] == "judge") == 4


def test_refusals(store, target):
    modes = planted(store)
    add_entry(store, "No detector", entry="bare", examples=modes["refusal"][:2])
    with pytest.raises(BadInput, match="no detector"):
        check_entry(session(store), "bare", model(target, "alpha@2"))
    add_entry(store, "No examples", entry="empty", detector=REGEX)
    with pytest.raises(BadInput, match="no example responses"):
        check_entry(session(store), "empty", model(target, "alpha@2"))
    edit_entry(store, "bare", status="retired", detector=REGEX)
    with pytest.raises(BadInput, match="retired"):
        check_entry(session(store), "bare", model(target, "alpha@2"))
