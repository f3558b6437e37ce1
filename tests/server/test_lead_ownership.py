"""Leads do not see or change each other's campaigns, through a real two-worker server on both stores.

lee and lou are leads; ada is an admin. lee's campaign "private" holds a response no campaign of
lou's has, and one that lou's "carl-only" campaign also has. ann rates lee's units (with a flag,
which opens an edge case), carl rates lou's. As lou, every lead route given one of lee's objects
answers 404, exactly as for an object that does not exist, and changes nothing.
"""

from __future__ import annotations

import pytest

from assay import annotate as A
from assay.server import lead, rater, redteam_pages
from tests.server.conftest import Rater, rating, rid

LEE_SECRET = "private reasoning of ann for lee"
LOU_OWN = "reasoning of carl for lou"

# every lead route, by what it shows or changes: an object of a campaign (owner or admin only),
# or the workbench's shared pages (the red-team results and the failure library, campaign creation)
OBJECT_ROUTES = {
    ("GET", "/lead/c/{cid}"), ("GET", "/lead/c/{cid}/quality"), ("POST", "/lead/c/{cid}/collect"),
    ("POST", "/lead/c/{cid}/close"), ("GET", "/lead/c/{cid}/export.{fmt}"), ("POST", "/lead/edge/{case_id}"), ("GET", "/lead/response/{rid}"),
}
WORKBENCH_ROUTES = {
    ("GET", "/lead"), ("GET", "/lead/new"), ("POST", "/lead/new"), ("GET", "/lead/library"),
    ("GET", "/lead/library/{slug}"), ("POST", "/lead/library/{slug}/status"), ("POST", "/lead/library/{slug}/edit"),
    ("GET", "/lead/redteam"),
}


@pytest.fixture(scope="module")
def world(server):
    """lee's campaign rated and flagged by ann, lou's rated by carl; the ids of what they made."""
    with server.store() as s:
        units = A.units_from_dataset(s, "basic")
        lou_units = {tuple(u) for u in A.units_from_dataset(s, "basic")[:3]}  # what "carl-only" has
        only_lee = next(u for u in units if tuple(u) not in lou_units)
        shared = next(u for u in units if tuple(u) in lou_units)
        cid = A.create_campaign(s, "private", rubric="default@1", units=[only_lee, shared],
                                spec=A.CampaignSpec(overlap=1, raters=[rid("ann")]), created_by="lee").id
    ann, carl = Rater(server.url, "ann"), Rater(server.url, "carl")
    while (aid := ann.next(cid)) is not None:
        flag = {"flag": "ambiguous", "flag_note": "is a hedge an error?"}
        assert ann.post(f"/a/{aid}", {**rating(2, LEE_SECRET), **flag}).status_code == 303
    while (aid := carl.next(server.ids["restricted"])) is not None:
        assert carl.post(f"/a/{aid}", rating(4, LOU_OWN)).status_code == 303
    with server.store() as s:
        case = A.edge_case_queue(s, campaign_id=cid)[0]
    people = {n: Rater(server.url, n) for n in ("lee", "lou", "ada")}
    yield {"cid": cid, "case": case.id, "only_lee": only_lee[0], "shared": shared[0], "carl": carl, **people}
    for r in (ann, carl, *people.values()):
        r.close()


def test_every_lead_route_is_classified():
    """A new /lead route must say whether it serves a campaign's objects (and be tested below) or
    the workbench's shared pages."""
    routes = {(m, r.path) for router in (lead.router, rater.router, redteam_pages.router) for r in router.routes
              for m in r.methods if r.path.startswith("/lead")}
    assert routes == OBJECT_ROUTES | WORKBENCH_ROUTES


# (method, path, form) with lee's objects; {cid} lee's campaign, {case} its edge case, {only_lee} a
# response in no campaign of lou's
ATTEMPTS = [
    ("GET", "/lead/c/{cid}", None),
    ("GET", "/lead/c/{cid}/quality", None),
    ("GET", "/lead/c/{cid}/export.csv", None),
    ("GET", "/lead/c/{cid}/export.jsonl", None),
    ("POST", "/lead/c/{cid}/collect", {}),
    ("POST", "/lead/c/{cid}/close", {}),
    ("POST", "/lead/edge/{case}", {"action": "resolve", "text": "lou's rule, for lee's raters"}),
    ("POST", "/lead/edge/{case}", {"action": "dismiss", "text": "lou says no"}),
    ("GET", "/lead/response/{only_lee}", None),
]


@pytest.mark.parametrize("method, path, form", ATTEMPTS, ids=[f"{m} {p}" for m, p, _ in ATTEMPTS])
def test_another_lead_gets_404_for_every_object_of_a_campaign(server, world, method, path, form):
    url = path.format(**world)
    missing = path.format(cid="nope", case="nope", only_lee="nope")
    lou = world["lou"]
    got = lou.client.get(url) if form is None else lou.post(url, form)
    absent = lou.client.get(missing) if form is None else lou.post(missing, form)
    assert (got.status_code, absent.status_code) == (404, 404)
    assert got.text == absent.text  # nothing tells lee's object from one that does not exist
    # the owner and an admin do reach it (read-only routes; the writes are checked below)
    if form is None:
        assert world["lee"].client.get(url).status_code == 200
        assert world["ada"].client.get(url).status_code == 200
    with server.store() as s:
        assert s.get("campaigns", world["cid"]).status == "open"
        assert s.get("edge_cases", world["case"]).status == "open"
        assert s.get("campaigns", world["cid"]).guideline_version == 1


def test_a_response_in_both_leads_campaigns_shows_each_only_their_own_judgments(server, world):
    mine = world["lou"].client.get(f"/lead/response/{world['shared']}")
    assert mine.status_code == 200 and LOU_OWN in mine.text
    assert LEE_SECRET not in mine.text and rid("ann") not in mine.text
    theirs = world["lee"].client.get(f"/lead/response/{world['shared']}")
    assert LEE_SECRET in theirs.text and LOU_OWN not in theirs.text
    both = world["ada"].client.get(f"/lead/response/{world['shared']}")
    assert LEE_SECRET in both.text and LOU_OWN in both.text


def test_a_dashboard_lists_only_its_campaigns_edge_cases(server, world):
    note = "is a hedge an error?"
    assert note in world["lee"].client.get(f"/lead/c/{world['cid']}").text
    assert note not in world["lou"].client.get(f"/lead/c/{server.ids['restricted']}").text  # same rubric


def test_a_clarification_moves_only_its_leads_campaigns(server, world):
    lou_cid = server.ids["restricted"]
    with server.store() as s:
        before = s.get("campaigns", lou_cid).guideline_version
    r = world["lee"].post(f"/lead/edge/{world['case']}", {"action": "resolve", "text": "Hedges are not errors."})
    assert r.status_code == 303
    with server.store() as s:
        assert s.get("edge_cases", world["case"]).status == "resolved"
        moved = s.get("campaigns", world["cid"]).guideline_version
        assert moved > before and "Hedges are not errors." in s.guideline("default@1", moved).text
        assert s.get("campaigns", server.ids["rate"]).guideline_version == moved  # lee's other open campaign
        assert s.get("campaigns", lou_cid).guideline_version == before  # lou's stays
        # a new campaign of lou's starts from the rubric's shared guidelines, one of lee's from lee's
        units = A.units_from_dataset(s, "basic")[:1]
        assert A.create_campaign(s, "lou later", rubric="default@1", units=units, created_by="lou"
                                 ).guideline_version == before
        assert A.create_campaign(s, "lee later", rubric="default@1", units=units, created_by="lee"
                                 ).guideline_version == moved
    page = world["carl"].client.get(f"/c/{lou_cid}/guidelines")
    assert page.status_code == 200 and "Hedges are not errors." not in page.text
