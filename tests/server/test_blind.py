"""Blind rating holds against a rater who knows the dataset's name and the candidate models.

Such a rater can compute every response id (a digest of item id, model and sample), every item
id (a digest of the dataset name and the external id, or of the prompt the page shows), every
unit id, and the assignment ids and shown orders of the unkeyed recipes. None of them, nor a
digest of one, nor a prefix of those, may appear in anything the rater sees: pages, JSON, URLs,
headers; and the order responses are shown in must not follow from them.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import re

import pytest

from assay import records as R
from tests.server.conftest import Rater, rating, rid

JSON = {"accept": "application/json"}
DATASET, MODELS = "basic", ["alpha@1", "beta@1", "gamma@1"]  # what seed_basic made, and the attacker guesses


def _sha(*parts: str) -> str:
    return hashlib.sha256("".join(p + "\x1f" for p in parts).encode()).hexdigest()


class Seen:
    """Everything a rater's client received or was sent to: bodies, header values, URLs."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.prompts: set[str] = set()

    def add(self, r) -> None:
        self.parts += [str(r.request.url), r.text, *(f"{k}: {v}" for k, v in r.headers.items())]
        self.prompts |= {html.unescape(p) for p in re.findall(r'<pre class="raw-text">(.*?)</pre>', r.text, re.S)}

    def text(self) -> str:
        return "\n".join(self.parts).lower()


def _attacker_strings(server, seen: Seen) -> dict[str, str]:
    """What the attacker computes -> a label: ids and their sha256, sha1, md5 and blake2b digests."""
    items = {R.Item.make_id(DATASET, str(i), None, None) for i in range(10)}
    items |= {R.Item.make_id(DATASET, None, p, None) for p in seen.prompts}
    responses = {R.Response.make_id(i, m, s) for i in items for m in MODELS for s in range(2)}
    by_item = {i: [R.Response.make_id(i, m, 0) for m in MODELS] for i in items}
    units = set(responses)
    for ids in by_item.values():
        units |= {R.digest("unit", *sorted(c)) for n in (2, 3) for c in itertools.combinations(ids, n)}
    # the assignment ids of the unkeyed recipe, for this campaign's raters
    old_aids = {_sha("assignment", cid, u, rid(name))[:32] for cid in server.ids.values() for u in units
                for name in ("ann", "bob")}
    out: dict[str, str] = {}
    for label, group in (("item id", items), ("response id", responses), ("unit id", units)):
        for s in group:
            out[s] = label
            for algo in ("sha256", "sha1", "md5", "blake2b"):
                out[hashlib.new(algo, s.encode()).hexdigest()] = f"{algo} of a {label}"
    out.update({a: "unkeyed assignment id" for a in old_aids})
    return out


def _leaks(text: str, strings: dict[str, str]) -> list[str]:
    """Candidates found whole anywhere, by their first 12 characters anywhere, or by their first 8
    at the start of a hex run (a shortened id shown as such)."""
    runs = {m[:8] for m in re.findall(r"(?<![0-9a-f])[0-9a-f]{8,}", text)}
    found = []
    for s, label in strings.items():
        s = s.lower()
        if s[:12] in text or s[:8] in runs:
            found.append(f"{label} {s}")
    return found


def _work(rater: Rater, cid: str, kind: str, seen: Seen, rounds: int) -> list[tuple[str, list[str]]]:
    """A rater's session in a campaign, browser and script, keeping everything they see; returns
    (assignment id, the handles in shown order) of each assignment answered."""
    done = []
    for _ in range(rounds):
        r = rater.client.get(f"/c/{cid}/next")
        seen.add(r)
        if r.status_code != 303:
            break
        page = rater.client.get(r.headers["location"])
        seen.add(page)
        j = rater.client.get(f"/c/{cid}/next", headers=JSON)
        seen.add(j)
        aid, handles = j.json()["assignment"], j.json()["shown_order"]
        assert r.headers["location"] == f"/a/{aid}" and len(handles) == page.text.count('class="response card"')
        bad = rater.post(f"/a/{aid}", {"justification": "short"})  # refused, and the page shown again
        seen.add(bad)
        assert bad.status_code == 422
        seen.add(rater.post(f"/a/{aid}", {"justification": "short"}, headers=JSON))
        if kind == "rate":
            answer = rating(3)
        elif kind == "compare":
            answer = {"choice": "B", "strength": "2", "justification": "the second one"}
        else:
            answer = {"rank:A": "2", "rank:B": "3", "rank:C": "1", "justification": "the third is best"}
        sub = rater.post(f"/a/{aid}", answer, headers=JSON)
        seen.add(sub)
        assert sub.status_code == 201, sub.text
        done.append((aid, handles))
    seen.add(rater.client.get(f"/c/{cid}/guidelines"))
    return done


@pytest.fixture(scope="module")
def sessions(server):
    seen = Seen()
    work: dict[str, list] = {}
    people = {n: Rater(server.url, n) for n in ("ann", "bob")}
    for name, person in people.items():
        seen.add(person.login_response)
        seen.add(person.client.get("/"))
        for kind in ("rate", "compare", "rank"):
            work[(name, kind)] = _work(person, server.ids[kind], kind, seen, rounds=6 if kind == "compare" else 3)
    # calibration: the gold unit, its feedback page; a skip
    ann = people["ann"]
    j = ann.client.get(f"/c/{server.ids['calibration']}/next", headers=JSON).json()
    fb = ann.post(f"/a/{j['assignment']}", rating(5, justification="all correct"))
    seen.add(fb)
    seen.add(ann.client.get(fb.headers["location"]))
    bob = people["bob"]
    aid = bob.next(server.ids["rate"])
    skipped = bob.post(f"/a/{aid}/skip", {"reason": "cannot tell"}, headers=JSON)
    seen.add(skipped)
    assert skipped.status_code == 201
    yield seen, work
    for p in people.values():
        p.close()


def test_nothing_a_rater_sees_matches_a_response_id_or_a_digest_of_one(server, sessions):
    seen, work = sessions
    assert sum(len(v) for v in work.values()) >= 20 and len(seen.prompts) >= 4
    strings = _attacker_strings(server, seen)
    assert len(strings) > 1000
    text = seen.text()
    with server.store() as s:  # the attacker's guesses cover what was really shown (the test is not vacuous)
        shown = {r for got in work.values() for aid, _ in got for r in s.get("assignments", aid).response_ids}
    assert shown <= set(strings)
    assert _leaks(text, strings) == []
    for model in MODELS:  # blind campaigns: no model named either
        assert model.split("@")[0] not in text


def test_scripts_answer_by_handle_and_handles_map_back(server, sessions):
    ann = Rater(server.url, "ann")
    foreign = ann.client.get(f"/c/{server.ids['compare']}/next", headers=JSON).json()["shown_order"]
    assert ann.post(f"/a/{ann.next(server.ids['compare'])}", {"choice": "tie", "justification": "same"},
                    headers=JSON).status_code == 201
    for kind in ("compare", "rank"):
        j = ann.client.get(f"/c/{server.ids[kind]}/next", headers=JSON).json()
        aid, handles = j["assignment"], j["shown_order"]
        if kind == "compare":
            # a handle is its assignment's own: the last one's handles name nothing here
            r = ann.post(f"/a/{aid}", {"choice": foreign[0], "strength": "1", "justification": "x"}, headers=JSON)
            assert r.status_code == 422 and r.json()["field"] == "choice"
            answer = {"choice": handles[1], "strength": "2", "justification": "the second one"}
        else:
            answer = {**{f"rank:{h}": str(n) for n, h in zip((2, 3, 1), handles)}, "justification": "third best"}
        assert ann.post(f"/a/{aid}", answer, headers=JSON).status_code == 201
        with server.store() as s:
            asg = s.get("assignments", aid)
            (c,) = s.list("comparisons", assignment_id=aid)
        assert len(set(handles)) == len(handles) == len(asg.shown_order) and c.shown_order == asg.shown_order
        if kind == "compare":
            assert c.winner == asg.shown_order[1]
        else:
            assert c.ranking == [asg.shown_order[2], asg.shown_order[0], asg.shown_order[1]]
    ann.close()


def test_the_shown_order_does_not_follow_from_the_ids(server, sessions):
    """The attacker who knows the response ids of a unit cannot tell which one is A: the order is
    keyed with the server's secret, so the unkeyed recipe guesses it no better than a coin."""
    _, work = sessions
    hits = total = 0
    with server.store() as s:
        for (name, kind), got in work.items():
            if kind == "rate":
                continue
            for aid, _ in got:
                asg = s.get("assignments", aid)
                guess = min(asg.response_ids, key=lambda r, a=asg: _sha("order", a.campaign_id, a.id, r))
                hits += asg.shown_order[0] == guess
                total += 1
    assert total >= 12
    assert hits < total  # the unkeyed recipe predicts every order on an unkeyed server


def test_assignment_ids_are_keyed_with_the_stores_secret(server):
    """The same campaign, unit and rater give another assignment id under another secret: the id a
    rater sees in a URL is not a public function of the unit (whose id names the models)."""
    from assay.annotate.queue import assignment_id
    from assay.store.rating import app_secret

    with server.store() as s:
        # the module's server is shared: hand one out here rather than rely on another test having done so
        from assay import annotate as A

        asg = (A.next_assignment(s, s.get("campaigns", server.ids["compare"]), rid("ann"))
               or s.list("assignments", campaign_id=server.ids["compare"])[0])
        unit = R.digest("unit", *sorted(asg.response_ids))
        assert asg.id == assignment_id(asg.campaign_id, unit, asg.rater_id, key=app_secret(s))
        assert asg.id != assignment_id(asg.campaign_id, unit, asg.rater_id, key="0" * 64)
        assert asg.id != _sha("assignment", asg.campaign_id, unit, asg.rater_id)[:32]
