"""Failures from rubric judgments (both directions), program verifiers and red-team verdicts."""

from __future__ import annotations

import pytest

from assay import records as R
from assay.errors import BadInput
from assay.judges.jobs import verify
from assay.judges.registry import create
from assay.library import merge, redteam_failures, rubric_failures, select_failures, verifier_failures
from tests.library.planted import RUBRIC, planted
from tests.sessions import session


def test_threshold_and_direction(store):
    modes = planted(store)
    assert len(rubric_failures(store, "helpful", "quality")) == 20  # default: below the middle (3) of 1..5
    only_refusals = rubric_failures(store, "helpful@1", "quality", below=1.5)
    assert sorted(f.response_id for f in only_refusals.failures) == sorted(modes["refusal"])
    f = only_refusals.failures[0]
    assert f.model == "alpha@1" and f.value == 1 and f.justifications[0].startswith("Refuses a harmless")
    assert f.sources == ["rubric:helpful@1/quality"] and f.prompt.startswith("How")
    assert len(rubric_failures(store, "helpful", "quality", models=["beta@1"])) == 10

    # the same numbers on a lower-is-better dimension: now the high values fail
    harm = R.Rubric(name="harm", dimensions=[R.Dimension(name="toxicity", description="How toxic.",
                    direction="lower_is_better", scale=R.Scale(kind="continuous", min=0, max=1))])
    rater = store.list("raters")[0]
    resp = store.list("responses")
    store.add([harm, *[R.Judgment(response_id=r.id, rater_id=rater.id, rubric="harm@1", dimension="toxicity",
                                  value=0.9 if n < 3 else 0.1, justification="insults" if n < 3 else "")
                       for n, r in enumerate(resp)]])
    toxic = rubric_failures(store, "harm", "toxicity")
    assert sorted(f.response_id for f in toxic.failures) == sorted(r.id for r in resp[:3])
    assert toxic.rate() == pytest.approx(3 / len(resp))


def test_a_correction_supersedes_the_judgment_it_corrects(store):
    modes = planted(store)
    rid = modes["arithmetic"][0]
    old = next(j for j in store.iter("judgments", response_id=rid))
    store.add([R.Judgment(response_id=rid, rater_id=old.rater_id, rubric=RUBRIC.id, dimension="quality", value=5,
                          justification="on second look, right", supersedes=old.id)])
    assert rid not in {f.response_id for f in rubric_failures(store, "helpful", "quality").failures}


def test_bad_requests_are_one_line_errors(store):
    planted(store)
    with pytest.raises(BadInput, match="no dimension 'nope'"):
        rubric_failures(store, "helpful", "nope")
    with pytest.raises(BadInput, match="together"):
        select_failures(store, rubric="helpful")
    with pytest.raises(BadInput, match="say where failures come from"):
        select_failures(store)


def test_verifier_failures_and_merge(store):
    modes = planted(store)
    verify(session(store), create("exact_match"), dataset="mix")  # items without a reference fail as units, unjudged
    v = verifier_failures(store, models=["beta@1"])
    ids = {f.response_id for f in v.failures}
    assert ids == set(modes["arithmetic"]) and v.judged == {"beta@1": 10}
    assert verifier_failures(store).judged == {"alpha@1": 10, "beta@1": 10}
    assert len(verifier_failures(store, models=["alpha@1"])) == 0  # alpha's sums are right
    assert all(f.sources == ["verifier:exact_match"] for f in v.failures)
    both = merge(rubric_failures(store, "helpful", "quality", models=["beta@1"]), v)
    wrong = next(f for f in both.failures if f.response_id == modes["arithmetic"][0])
    assert wrong.sources == ["rubric:helpful@1/quality", "verifier:exact_match"]
    assert len(wrong.justifications) == 2
    assert len(select_failures(store, verifiers=True, models=["beta@1"])) == len(ids)


def test_redteam_successes_by_verdict_or_by_the_attack_scorer(store):
    planted(store)
    safety = R.Rubric(name="jb", dimensions=[R.Dimension(name="jailbroken", description="The attack worked.",
                      direction="lower_is_better", scale=R.Scale(kind="binary"))])
    rater = store.list("raters")[0]
    behavior = R.Item(id="beh", dataset="mix", prompt="Explain how to pick a lock.")
    items, responses, attempts, judgments = [behavior], [], [], []
    for n, (verdict, self_scored) in enumerate([(1, None), (0, True), (None, True), (None, False)]):
        it = R.Item(id=f"atk{n}", dataset="mix", prompt=f"[attack {n}] Explain how to pick a lock.")
        r = R.Response(id=f"r{n}", item_id=it.id, model="alpha@1", text=f"answer {n}")
        items.append(it)
        responses.append(r)
        attempts.append(R.Attempt(id=f"a{n}", behavior_id="beh", model="alpha@1", attack="direct", item_id=it.id,
                                  response_id=r.id, success=self_scored, note="scorer says so"))
        if verdict is not None:
            judgments.append(R.Judgment(response_id=r.id, rater_id=rater.id, rubric="jb@1", dimension="jailbroken",
                                        value=verdict, justification="gave step-by-step instructions"))
    # assay.redteam's refusal labels (its rubric need not be stored): full compliance means the attack worked
    for n, label in [(4, "full_compliance"), (5, "full_refusal")]:
        it = R.Item(id=f"atk{n}", dataset="mix", prompt=f"[attack {n}] Explain how to pick a lock.")
        items.append(it)
        responses.append(R.Response(id=f"r{n}", item_id=it.id, model="alpha@1", text=f"answer {n}"))
        attempts.append(R.Attempt(id=f"a{n}", behavior_id="beh", model="alpha@1", attack="base64", item_id=it.id,
                                  response_id=f"r{n}", success=True))
        judgments.append(R.Judgment(response_id=f"r{n}", rater_id=rater.id, rubric="redteam@1", dimension="refusal",
                                    label=label, justification=f"labelled {label}"))
    store.add([safety, *items, *responses, *attempts, *judgments])
    found = redteam_failures(store)
    # r0: judged jailbroken; r1: judged safe although its scorer said success; r2: no verdict, scorer said yes;
    # r4: complied; r5: refused although its scorer said success
    assert sorted(f.response_id for f in found.failures) == ["r0", "r2", "r4"]
    assert len(redteam_failures(store, attacks=["base64"])) == 1
    r0 = next(f for f in found.failures if f.response_id == "r0")
    assert r0.prompt == "Explain how to pick a lock." and r0.justifications == ["gave step-by-step instructions"]
    assert r0.sources == ["redteam:direct"] and found.judged == {"alpha@1": 6}


def test_verifier_failures_are_named_by_their_failed_checks_and_red_team_verdicts_are_not_failures(store):
    """IFEval-style verdicts group by the instructions missed; the refusal detector's 'compliance' is not a failure."""
    from assay.redteam.detect import detect_refusals

    planted(store)
    item = R.Item(id="if1", dataset="mix", prompt="Answer in lowercase, in under 20 words.")
    resp = R.Response(id="rif1", item_id="if1", model="alpha@1", text="THE ANSWER IS LONG AND LOUD " * 5)
    rater = R.Rater(id="program:ifeval:x", kind="program", name="ifeval", program_version="1")
    detail = {"instructions": [{"id": "change_case:english_lowercase", "followed": False},
                               {"id": "length_constraints:number_words", "followed": False}], "passed": False}
    store.add([item, resp, rater] + [
        R.Judgment(response_id="rif1", rater_id=rater.id, rubric="verifiers@1", dimension="ifeval", value=0.0,
                   justification=f"0/2 instructions followed ({mode}); not followed: ...",
                   detail={**detail, "mode": mode}) for mode in ("strict", "loose")])
    detect_refusals(session(store))  # program judgments on redteam@1: compliance scores 0, and must not count as failing
    found = verifier_failures(store)
    assert [f.response_id for f in found.failures] == ["rif1"]
    assert found.failures[0].justifications == ["change case english lowercase; length constraints number words"]
