"""Judge panels: several judge models on the same work, each member's verdicts kept, aggregated by majority or mean."""

from __future__ import annotations

import pytest

from assay.judges.jobs import judge_pairwise, judge_rubric
from assay.judges.panel import Panel, aggregate_signed, majority_value
from assay.judges.rubric import RubricJudge, RubricPrompt
from assay.rubrics import default_rubric
from assay.testing import ScriptedServer

from .scripted_judges import fenced, nonce_of, store_responses
from assay.judges.jobs import RubricPrompt
from tests.sessions import session

SCORES = {"j1": 2, "j2": 4, "j3": 4}


def per_model(body):
    """Each judge model has its own opinion: j1 gives 2, j2 and j3 give 4 (coherence always 5)."""
    n = nonce_of(body)
    return f"r\nVERDICT {n} factuality: {SCORES[body['model']]}\nr\nVERDICT {n} coherence: 5"


@pytest.mark.parametrize(("how", "want"), [("majority", 4.0), ("mean", 10 / 3)])
def test_rubric_panel_keeps_each_member_and_aggregates(store, how, want):
    store_responses(store, {"m@1": ["x", "y"]})
    with ScriptedServer(handler=per_model) as srv:
        run, panel = judge_rubric(session(store, base_url=srv.base_url), ["j1@1", "j2@1", "j3@1"], "default",
                                  aggregate=how, prompt=RubricPrompt(dimensions=["factuality", "coherence"]))
        assert len(srv.chat_requests) == 6 and run.succeeded == 2
    assert panel.kind == "llm" and panel.config["aggregate"] == how and len(panel.config["members"]) == 3
    mine = store.list("judgments", rater_id=panel.id, dimension="factuality")
    assert [j.value for j in mine] == pytest.approx([want, want])
    members = mine[0].detail["members"]
    assert sorted(m["value"] for m in members.values()) == [2.0, 4.0, 4.0]
    for rater_id, m in members.items():  # every member's own judgment is stored under its own rater
        assert store.get("judgments", m["judgment"]).rater_id == rater_id
    assert store.count("judgments") == 2 * 2 * 4
    coh = store.list("judgments", rater_id=panel.id, dimension="coherence")
    assert {j.value for j in coh} == {5.0} and mine[0].detail["sd"] == pytest.approx((8 / 9) ** 0.5)


def test_pairwise_panel_majority(store):
    store_responses(store, {"a@1": ["Canberra."], "b@1": ["Sydney."]})

    def handler(body):
        a = fenced(body, "ANSWER A")
        # j1 and j2 prefer Canberra; j3 prefers Sydney, strongly
        likes_canberra = body["model"] != "j3"
        a_wins = ("Canberra" in a) == likes_canberra
        mark = ">" if likes_canberra else ">>"
        return f"r\nVERDICT {nonce_of(body)}: {'A' + mark + 'B' if a_wins else 'B' + mark + 'A'}"

    with ScriptedServer(handler=handler) as srv:
        run, panel = judge_pairwise(session(store, base_url=srv.base_url), ["a@1", "b@1"], ["j1@1", "j2@1", "j3@1"])
        assert len(srv.chat_requests) == 6
        mean_run, mean_panel = judge_pairwise(session(store, base_url=srv.base_url), ["a@1", "b@1"],
                                              ["j1@1", "j2@1", "j3@1"], aggregate="mean")
        assert len(srv.chat_requests) == 6  # the members' calls come from the cache
    (c,) = store.list("comparisons", rater_id=panel.id)
    a_resp = store.list("responses", model="a@1")[0]
    assert (c.outcome, c.winner, c.strength) == ("win", a_resp.id, 1)
    assert sorted(m["score"] for m in c.detail["members"].values()) == [-2.0, 1.0, 1.0]
    (m,) = store.list("comparisons", rater_id=mean_panel.id)
    assert (m.outcome, m.detail["mean"]) == ("tie", 0.0)  # (1 + 1 - 2) / 3
    assert store.count("comparisons") == 3 + 2


def test_aggregation_rules():
    assert majority_value([2, 4, 4]) == 4 and majority_value([1, 2, 4, 5]) == 2  # no single mode: lower median
    assert aggregate_signed([1, 1, -2], "majority") == ("first", 1, 0.0)
    assert aggregate_signed([1, -1, 0], "majority")[0] == "tie"
    assert aggregate_signed([2, 2, -1], "mean") == ("first", 1, 1.0)
    assert aggregate_signed([2, 2, 1], "mean")[:2] == ("first", 2)
    assert aggregate_signed([None, None], "majority")[0] == "both_bad"


def test_a_panel_needs_distinct_judges_of_one_kind():
    with ScriptedServer() as srv:
        from assay import records as R
        from assay.providers import make_provider

        c = make_provider(R.Model(id="j@1", base_url=srv.base_url))
        rub = default_rubric()
        with pytest.raises(ValueError, match="at least two"):
            Panel([RubricJudge(c, rub)])
        with pytest.raises(ValueError, match="must differ"):
            Panel([RubricJudge(c, rub), RubricJudge(c, rub)])
        with pytest.raises(ValueError, match="aggregate"):
            Panel([RubricJudge(c, rub), RubricJudge(c, rub, RubricPrompt(samples=2))], aggregate="median")
