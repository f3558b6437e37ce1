"""Guidelines per rubric and per lead: a clarification moves its lead's campaigns and no one else's."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from assay import annotate as A
from assay import records as R
from tests.annotate.test_annotate import _answer, _setup


def _flag(store, camp, rater: str) -> R.EdgeCase:
    """A rater flags their next unit of a campaign: the case it opens."""
    asg = A.next_assignment(store, camp, rater)
    A.submit(store, camp, asg, A.Answer(**{**_answer().__dict__, "flags": ["ambiguous"], "flag_note": "which?"}))
    (case,) = [c for c in A.edge_case_queue(store, campaign_id=camp.id) if c.response_id == asg.response_ids[0]]
    return case


def test_each_lead_follows_their_own_line_of_the_rubric(store):
    raters = _setup(store, n_items=6)
    units = A.units_from_dataset(store, "d", models=["m1@1"])
    a1 = A.create_campaign(store, "a1", rubric="default@1", units=units, created_by="amy")
    a2 = A.create_campaign(store, "a2", rubric="default@1", units=units, created_by="amy")
    b1 = A.create_campaign(store, "b1", rubric="default@1", units=units, created_by="bo")
    case_a, case_b = _flag(store, a1, raters[0]), _flag(store, b1, raters[0])
    assert (case_a.campaign_id, case_b.campaign_id) == (a1.id, b1.id) and case_a.id != case_b.id

    gv_a = A.resolve_edge_case(store, case_a.id, clarification="Amy's rule.")
    gv_b = A.resolve_edge_case(store, case_b.id, clarification="Bo's rule.")
    assert (gv_a.version, gv_b.version) == (2, 3)  # one sequence of numbers per rubric
    assert "Amy's rule." in gv_a.text and "Amy's rule." not in gv_b.text and "Bo's rule." in gv_b.text
    versions = {c.name: c.guideline_version for c in store.iter("campaigns")}
    assert versions == {"a1": 2, "a2": 2, "b1": 3}  # amy's campaigns together, bo's apart
    # new campaigns: from their lead's line, or from the shared guidelines for a lead without one
    assert A.create_campaign(store, "a3", rubric="default@1", units=units, created_by="amy").guideline_version == 2
    assert A.create_campaign(store, "c1", rubric="default@1", units=units, created_by="cy").guideline_version == 1
    # a case of no campaign (a judges' disagreement) adds to the shared line and moves nobody
    store.add([R.EdgeCase(id="judges", rubric="default@1", note="judges split")])
    shared = A.resolve_edge_case(store, "judges", clarification="Shared rule.")
    assert shared.version == 4 and "Amy's rule." not in shared.text and "Bo's rule." not in shared.text
    first = store.guideline("default@1", 1).text.rstrip()
    assert all(g.text.startswith(first) for g in (gv_a, gv_b, shared))  # each built on the text it follows
    assert {c.name: c.guideline_version for c in store.iter("campaigns")}["c1"] == 1
    assert A.create_campaign(store, "c2", rubric="default@1", units=units, created_by="cy").guideline_version == 4
    # a judgment made now remembers its campaign's version
    b1 = store.get("campaigns", b1.id)
    asg = A.next_assignment(store, b1, raters[1])
    A.submit(store, b1, asg, _answer())
    assert {j.guideline_version for j in store.list("judgments", assignment_id=asg.id)} == {3}


def test_concurrent_resolutions_in_one_campaign_keep_every_clarification(store):
    raters = _setup(store, n_items=6)
    units = A.units_from_dataset(store, "d", models=["m1@1"])
    camp = A.create_campaign(store, "c", rubric="default@1", units=units, spec=A.CampaignSpec(overlap=1),
                             created_by="amy")
    cases = [_flag(store, camp, r) for r in raters[:4]]
    start = threading.Barrier(len(cases))

    def resolve(case: R.EdgeCase) -> int:
        start.wait()
        return A.resolve_edge_case(store, case.id, clarification=f"rule {case.id}").version

    with ThreadPoolExecutor(len(cases)) as pool:
        versions = sorted(pool.map(resolve, cases))
    assert versions == [2, 3, 4, 5]
    final = store.get("campaigns", camp.id).guideline_version
    assert final == 5 and all(f"rule {c.id}" in store.guideline("default@1", final).text for c in cases)
