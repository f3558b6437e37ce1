"""Skipping through the real server: CSRF, own assignments only, once, not on calibration gold, seen by the lead."""

from __future__ import annotations

import pytest

from assay import annotate as A
from assay.store import rating as S
from tests.server.conftest import Rater, rating, rid

JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def people(server):
    made = {n: Rater(server.url, n) for n in ("ann", "bob", "carl", "lee")}
    yield made
    for r in made.values():
        r.close()


def _campaign(server, name: str, n_units: int, **kw) -> str:
    with server.store() as s:
        units = A.units_from_dataset(s, "basic", models=["gamma@1"])[:n_units]
        return A.create_campaign(s, name, rubric="default@1", units=units, created_by="lee",
                                 spec=A.CampaignSpec(raters=[rid("ann"), rid("bob")], **kw)).id


def test_skip_frees_the_slot_for_the_next_rater(server, people):
    ann, bob = people["ann"], people["bob"]
    cid = _campaign(server, "skip one", 1, overlap=1)
    aid = ann.next(cid)
    assert bob.next(cid) is None  # overlap 1: the unit is ann's
    page = ann.client.get(f"/a/{aid}").text
    assert f'action="/a/{aid}/skip"' in page and 'id="skip_reason"' in page
    r = ann.post(f"/a/{aid}/skip", {"reason": "I cannot check <this> claim"})
    assert r.status_code == 303 and r.headers["location"] == f"/c/{cid}/next"  # nothing else for ann
    with server.store() as s:
        assert s.get("assignments", aid).status == "skipped"
        (k,) = S.skips(s, cid)
    assert (k["rater_id"], k["reason"]) == (rid("ann"), "I cannot check <this> claim")
    assert ann.client.get(f"/a/{aid}").headers["location"] == f"/c/{cid}/next"  # no form for a skipped item
    assert ann.next(cid) is None  # not given back to ann
    taken = bob.next(cid)
    with server.store() as s:
        assert s.get("assignments", taken).response_ids == s.get("assignments", aid).response_ids
    # the lead sees the skip, its reason escaped, per rater and in the progress line
    dash = people["lee"].client.get(f"/lead/c/{cid}").text
    assert "I cannot check &lt;this&gt; claim" in dash and "1 skipped" in dash
    assert f'<tr data-rater="{rid("ann")}">' in dash
    row = dash.split(f'<tr data-rater="{rid("ann")}">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="skipped">1</td>' in row


def test_skip_hands_out_the_next_item_and_a_repeat_changes_nothing(server, people):
    ann = people["ann"]
    cid = _campaign(server, "skip next", 3, overlap=2)
    aid = ann.next(cid)
    first = ann.post(f"/a/{aid}/skip", {}, headers=JSON)
    assert first.status_code == 201 and first.json()["skipped"] is True
    nxt = first.json()["next"]
    assert nxt and nxt != aid and ann.next(cid) == nxt
    again = ann.post(f"/a/{aid}/skip", {"reason": "double click"}, headers=JSON)
    assert again.status_code == 200 and again.json() == {"skipped": False, "next": nxt}
    browser_again = ann.post(f"/a/{aid}/skip", {})
    assert browser_again.status_code == 303 and browser_again.headers["location"] == f"/a/{nxt}"
    # the stale page of the skipped item is submitted after all: nothing is written
    assert ann.post(f"/a/{aid}", rating(4)).status_code == 303
    with server.store() as s:
        assert s.get("assignments", aid).status == "skipped"
        assert s.count("judgments", assignment_id=aid) == 0
        assert [k["reason"] for k in S.skips(s, cid)] == [""]
        units = {u["unit_id"]: u["n_claims"] for u in S.units(s, cid)}
        unit = s.get("assignments", aid).response_ids[0]
    assert units[unit] == 0 and sum(units.values()) == 1  # ann's next item holds the only claim


def test_skip_needs_the_csrf_token_and_the_raters_own_pending_item(server, people):
    ann, bob = people["ann"], people["bob"]
    cid = _campaign(server, "skip guarded", 2, overlap=1)
    aid = ann.next(cid)
    for token in (None, "", "wrong", bob.csrf):
        data = {"reason": "x"} if token is None else {"reason": "x", "csrf_token": token}
        assert ann.client.post(f"/a/{aid}/skip", data=data).status_code == 403
    assert ann.client.post(f"/a/{aid}/skip", data={}, headers={"x-csrf-token": "nope"}).status_code == 403
    assert bob.post(f"/a/{aid}/skip", {"reason": "not mine"}).status_code == 404  # another rater's
    assert ann.post(f"/a/{'f' * 32}/skip", {}).status_code == 404
    assert ann.post(f"/a/{'x' * 500}/skip", {}).status_code == 404
    with server.store() as s:
        assert s.get("assignments", aid).status == "pending" and S.skips(s, cid) == []
    assert ann.post(f"/a/{aid}", rating(3)).status_code == 303
    r = ann.post(f"/a/{aid}/skip", {}, headers=JSON)
    assert r.status_code == 400 and "answered already" in r.json()["error"]
    with server.store() as s:
        assert s.get("assignments", aid).status == "done" and S.skips(s, cid) == []


def test_calibration_gold_cannot_be_skipped(server, people):
    carl = people["carl"]
    cid = server.ids["calibration"]
    aid = carl.next(cid)
    page = carl.client.get(f"/a/{aid}").text
    assert "/skip" not in page and 'id="skip_reason"' not in page  # no skip form on a gold calibration item
    r = carl.post(f"/a/{aid}/skip", {"reason": "hard"})
    assert r.status_code == 400 and "cannot be skipped" in r.text
    with server.store() as s:
        assert s.get("assignments", aid).status == "pending" and S.skips(s, cid) == []
