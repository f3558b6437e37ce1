"""Rating through the real server: idempotent submission, validation, compare/rank, calibration, edge cases, export."""

from __future__ import annotations

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.server.conftest import DIMS, Rater, rating, rid

JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def people(server):
    made = {n: Rater(server.url, n) for n in ("ann", "bob", "carl", "lee", "ada")}
    yield made
    for r in made.values():
        r.close()


def test_double_submit_writes_once(server, people):
    ann = people["ann"]
    aid = ann.next(server.ids["rate"])
    first = ann.post(f"/a/{aid}", rating(4))
    again = ann.post(f"/a/{aid}", rating(2))  # a retried or doubled POST, even with other values
    assert first.status_code == again.status_code == 303
    # both go on to the same next item (the submit hands it out)
    assert first.headers["location"] == again.headers["location"]
    nxt = first.headers["location"].rsplit("/", 1)[1]
    assert first.headers["location"] == f"/a/{nxt}" and nxt != aid and ann.next(server.ids["rate"]) == nxt
    with server.store() as s:
        js = s.list("judgments", assignment_id=aid)
        assert sorted(j.dimension for j in js) == sorted(DIMS)
        assert {j.value for j in js} == {4.0}
        assert s.get("assignments", aid).status == "done"


def test_concurrent_identical_posts_write_one_judgment_set(server, people):
    bob = people["bob"]
    aid = bob.next(server.ids["rate"])
    body = {"csrf_token": bob.csrf, **rating(3)}
    cookies = dict(bob.client.cookies)

    def post(_: int) -> int:
        with httpx.Client(base_url=server.url, cookies=cookies, headers=JSON) as c:
            return c.post(f"/a/{aid}", data=body).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(post, range(12)))
    assert sorted(codes) == [200] * 11 + [201]  # one created, eleven told it was already stored
    with server.store() as s:
        assert s.count("judgments", assignment_id=aid) == len(DIMS)
        assert {j.value for j in s.list("judgments", assignment_id=aid)} == {3.0}


@pytest.mark.parametrize("change, message", [
    ({"justification": "too short"}, "at least 10 characters"),
    ({"dim:factuality": "9"}, "ordinal value must be an integer 1..5"),
    ({"dim:coherence": ""}, "choose a value for coherence"),
    ({"flag": "ambiguous"}, "a flag needs a note"),
    ({"flag": "made-up", "flag_note": "x"}, "unknown flag"),
])
def test_invalid_answers_are_refused_and_nothing_is_written(server, people, change, message):
    ann = people["ann"]
    aid = ann.next(server.ids["rate"])
    r = ann.post(f"/a/{aid}", {**rating(4), **change})
    assert r.status_code == 422 and message in r.text
    rj = ann.post(f"/a/{aid}", {**rating(4), **change}, headers=JSON)
    assert rj.status_code == 422 and message in rj.json()["error"]
    with server.store() as s:
        assert s.count("judgments", assignment_id=aid) == 0


def test_compare_records_the_shown_order_and_maps_letters(server, people):
    ann = people["ann"]
    cid = server.ids["compare"]
    for _ in range(3):
        aid = ann.next(cid)
        page = ann.client.get(f"/a/{aid}").text
        assert "alpha@1" not in page and "beta@1" not in page  # blind: no model names
        r = ann.post(f"/a/{aid}", {"choice": "B", "strength": "2", "justification": "B shows its work."},
                     headers=JSON)
        assert r.status_code == 201
        with server.store() as s:
            asg = s.get("assignments", aid)
            (cmp,) = s.list("comparisons", assignment_id=aid)
        assert cmp.shown_order == asg.shown_order and sorted(cmp.response_ids) == sorted(asg.response_ids)
        assert cmp.winner == asg.shown_order[1] and cmp.strength == 2 and cmp.dimension == "factuality"
    tie = ann.next(cid)
    assert ann.post(f"/a/{tie}", {"choice": "A", "justification": "no strength"}, headers=JSON).status_code == 422
    assert ann.post(f"/a/{tie}", {"choice": "both_bad", "justification": "Both wrong."}, headers=JSON).status_code == 201
    with server.store() as s:
        (cmp,) = s.list("comparisons", assignment_id=tie)
        assert cmp.outcome == "both_bad" and cmp.winner is None


def test_rank_three_responses(server, people):
    bob = people["bob"]
    aid = bob.next(server.ids["rank"])
    bad = bob.post(f"/a/{aid}", {"rank:A": "1", "rank:B": "1", "rank:C": "2", "justification": "x"}, headers=JSON)
    assert bad.status_code == 422
    r = bob.post(f"/a/{aid}", {"rank:A": "2", "rank:B": "3", "rank:C": "1", "justification": "C is exact."},
                 headers=JSON)
    assert r.status_code == 201
    with server.store() as s:
        asg = s.get("assignments", aid)
        (cmp,) = s.list("comparisons", assignment_id=aid)
    a, b, c = asg.shown_order
    assert cmp.ranking == [c, a, b] and cmp.winner == c


def test_calibration_gold_feedback_only_after_submitting(server, people):
    carl = people["carl"]
    cid = server.ids["calibration"]
    aid = carl.next(cid)
    page = carl.client.get(f"/a/{aid}").text
    assert "Exactly right" not in page  # the gold answer is not shown before
    assert carl.client.get(f"/a/{aid}/feedback").status_code == 404
    values = {**rating(5, "All correct and clear."), "dim:creativity": "4"}
    r = carl.post(f"/a/{aid}", values)
    assert r.status_code == 303 and r.headers["location"] == f"/a/{aid}/feedback"
    fb = carl.client.get(f"/a/{aid}/feedback")
    assert fb.status_code == 200 and "Exactly right: 0 + 0 is 0." in fb.text
    assert "Compare with the gold answer" in fb.text  # creativity 4 vs gold 2
    assert carl.next(cid) is None  # one gold unit, done


def test_flag_opens_an_edge_case_and_resolving_it_moves_the_guidelines(server, people):
    ann, bob, lee = people["ann"], people["bob"], people["lee"]
    cid = server.ids["rate"]
    aid = ann.next(cid)
    note = "Is 'I think' a hedge or a wrong claim?"
    assert ann.post(f"/a/{aid}", {**rating(3), "flag": "ambiguous", "flag_note": note}).status_code == 303
    with server.store() as s:
        (j,) = [x for x in s.list("judgments", assignment_id=aid) if x.dimension == "factuality"]
        assert j.flags == ["ambiguous"] and j.flag_note == note and j.guideline_version == 1
        cases = [c for c in s.list("edge_cases", status="open") if c.response_id == j.response_id]
    assert len(cases) == 1 and note in cases[0].note
    dash = lee.client.get(f"/lead/c/{cid}")
    assert note.replace("'", "&#39;") in dash.text
    r = lee.post(f"/lead/edge/{cases[0].id}", {"action": "resolve", "back": f"/lead/c/{cid}",
                                               "text": "A hedge ('I think') is not a factual error."})
    assert r.status_code == 303
    with server.store() as s:
        case = s.get("edge_cases", cases[0].id)
        gv = s.guideline("default@1")
        assert case.status == "resolved" and case.guideline_version == gv.version == 2
        assert gv.edge_case_id == case.id and "is not a factual error" in gv.text and gv.author == "lee"
        assert s.get("campaigns", cid).guideline_version == 2
    assert "is not a factual error" in bob.client.get(f"/c/{cid}/guidelines").text
    later = bob.next(cid)
    assert bob.post(f"/a/{later}", rating(4)).status_code == 303
    with server.store() as s:
        assert {j.guideline_version for j in s.list("judgments", assignment_id=later)} == {2}
    assert lee.post(f"/lead/edge/{cases[0].id}", {"action": "resolve", "text": "again"}).status_code == 400


def test_export_and_dashboard(server, people):
    lee, ann, bob = people["lee"], people["ann"], people["bob"]
    cid = server.ids["rate"]
    assert bob.post(f"/a/{bob.next(cid)}", rating(2)).status_code == 303
    aid = ann.next(cid)
    assert ann.post(f"/a/{aid}", rating(4, "=HYPERLINK(\"http://evil\") is a formula")).status_code == 303
    r = lee.client.get(f"/lead/c/{cid}/export.csv")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    with server.store() as s:
        assert len(rows) == s.count("judgments", campaign_id=cid)
    assert {"model", "rater_id", "dimension", "value", "justification"} <= set(rows[0])
    formula = [x for x in rows if "HYPERLINK" in x["justification"]]
    assert formula and all(x["justification"].startswith("'=") for x in formula)
    lines = lee.client.get(f"/lead/c/{cid}/export.jsonl").text.splitlines()
    assert len(lines) == len(rows) and json.loads(lines[0])["model"] in {"alpha@1", "beta@1", "gamma@1"}
    dash = lee.client.get(f"/lead/c/{cid}").text
    assert rid("ann") in dash and rid("bob") in dash and "Krippendorff" in dash


def test_lead_creates_a_campaign_in_the_app(server, people):
    lee, carl = people["lee"], people["carl"]
    page = lee.client.get("/lead/new")
    assert page.status_code == 200 and "basic" in page.text
    r = lee.post("/lead/new", {"name": "made in the app", "kind": "compare", "rubric": "default@1",
                               "dimensions": "safety", "dataset": "basic", "models": "alpha@1, beta@1",
                               "overlap": "2", "min_justification": "12", "deadline": "2099-12-31",
                               "raters": "carl"})
    assert r.status_code == 303
    cid = r.headers["location"].rsplit("/", 1)[1]
    with server.store() as s:
        camp = s.get("campaigns", cid)
        from assay.store import rating as S

        units = S.units(s, cid)
    assert (camp.kind, camp.dimensions, camp.overlap, camp.min_justification, camp.created_by) == \
        ("compare", ["safety"], 2, 12, "lee")
    assert camp.deadline.year == 2099 and camp.blind and len(units) == 4  # one alpha/beta pair per item
    assert carl.next(cid) is not None
    assert lee.post("/lead/new", {"name": "made in the app", "dataset": "basic"}).status_code == 400  # name taken
    assert people["ann"].post("/lead/new", {"name": "sneaky", "dataset": "basic"}).status_code == 403
