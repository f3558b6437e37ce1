"""A lead creates a campaign with gold answers, gold share and calibration entirely in the app."""

from __future__ import annotations

import html
import json
import re

import pytest

from assay import records as R
from assay.store import rating as S
from tests.server.conftest import Rater


@pytest.fixture(scope="module")
def people(server):
    made = {n: Rater(server.url, n) for n in ("carl", "lee")}
    yield made
    for r in made.values():
        r.close()


def response(i: int, model: str) -> str:
    return R.Response.make_id(R.Item.make_id("basic", str(i), None, None), model, 0)


def form(name: str, **extra: str) -> dict[str, str]:
    return {"name": name, "kind": "rate", "rubric": "default@1", "dimensions": "factuality", "dataset": "basic",
            "models": "gamma@1", "overlap": "1", "min_justification": "0", "raters": "carl", **extra}


def gold_file(*lines: object, name: str = "gold.jsonl") -> dict:
    body = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    return {"gold": (name, body.encode(), "application/x-ndjson")}


def error_of(page: str) -> str:
    m = re.search(r'<p class="error" id="error">(.*?)</p>', page, re.S)
    assert m, page[:2000]
    return html.unescape(m.group(1))


def test_gold_file_share_and_calibration_from_the_app(server, people):
    lee, carl = people["lee"], people["carl"]
    page = lee.client.get("/lead/new").text
    assert 'enctype="multipart/form-data"' in page and 'type="file" name="gold"' in page
    gold = gold_file({"response_id": response(0, "alpha@1"), "values": {"factuality": 5},
                      "explanation": "0 + 0 is **0**: exactly right."},
                     "",  # blank lines are fine
                     {"response_id": response(1, "beta@1"), "values": {"factuality": 1},
                      "explanation": "1 + 1 is 2, not 3."})
    r = lee.post("/lead/new", form("gold from the app", calibration="on", gold_share="0.5"), files=gold)
    assert r.status_code == 303, r.text
    cid = r.headers["location"].rsplit("/", 1)[1]
    with server.store() as s:
        camp = s.get("campaigns", cid)
        units = S.units(s, cid)
        answers = S.gold_answers(s, cid)
    assert camp.calibration and camp.gold_share == 0.5 and camp.created_by == "lee"
    assert sorted(u["unit_id"] for u in units if u["is_gold"]) == sorted([response(0, "alpha@1"),
                                                                         response(1, "beta@1")])
    assert len([u for u in units if not u["is_gold"]]) == 4  # gamma's four responses
    assert {(g["unit_id"], g["dimension"], g["value"]) for g in answers} == {
        (response(0, "alpha@1"), "factuality", 5.0), (response(1, "beta@1"), "factuality", 1.0)}
    # the rater meets gold first in calibration, and sees the explanation after answering
    aid = carl.next(cid)
    with server.store() as s:
        asg = s.get("assignments", aid)
    assert asg.is_gold
    expected = 5 if asg.response_ids == [response(0, "alpha@1")] else 1
    r = carl.post(f"/a/{aid}", {"dim:factuality": str(expected), "justification": "checked the sum", "started": "0"})
    assert r.status_code == 303 and r.headers["location"] == f"/a/{aid}/feedback"
    fb = carl.client.get(f"/a/{aid}/feedback").text
    assert "You matched the gold answer" in fb
    assert ("<strong>0</strong>" in fb) if expected == 5 else ("1 + 1 is 2, not 3." in fb)


BAD = [
    ({"response_id": response(2, "alpha@1"), "values": {"factuality": 7}}, "values.factuality",
     "ordinal value must be an integer 1..5"),
    ({"response_id": response(2, "alpha@1"), "values": {"tone": 3}}, "values.tone", "is not rated in this campaign"),
    ({"response_id": response(2, "alpha@1"), "values": {"factuality": "high"}}, "values.factuality",
     "'high' is not a number"),
    ({"response_id": response(2, "alpha@1")}, "values", "gives 'values' for its dimensions"),
    ({"values": {"factuality": 3}}, "response_id", "missing"),
    ({"response_id": "no-such-response", "values": {"factuality": 3}}, "response_id",
     "response 'no-such-response' is not in the store"),
    ({"response_id": response(0, "alpha@1"), "values": {"factuality": 3}}, "response_ids",
     "a second gold answer for the same unit"),
    ({"response_ids": [response(2, "alpha@1"), response(2, "beta@1")], "values": {"factuality": 3}},
     "response_ids", "a rate unit needs 1 distinct responses"),
    ({"response_id": response(2, "alpha@1"), "values": {"factuality": 3}, "explanation": ["x"]}, "explanation",
     "must be a string"),
    ('{"response_id": "unterminated', None, "not JSON"),
    ("[1, 2]", None, "a gold answer is a JSON object"),
]


@pytest.mark.parametrize("line, field, reason", BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_a_bad_gold_line_is_named_and_creates_nothing(server, people, line, field, reason):
    lee = people["lee"]
    with server.store() as s:
        before = (s.count("campaigns"), s.count("assignments"))
    good = {"response_id": response(0, "alpha@1"), "values": {"factuality": 5}, "explanation": "right"}
    name = f"bad gold {len(str(line))}-{field}"
    r = lee.post("/lead/new", form(name, calibration="on", gold_share="0.3"),
                 files=gold_file(good, line, name="C:\\Users\\lee\\bad-gold.jsonl"))
    assert r.status_code == 400
    msg = error_of(r.text)
    where = "bad-gold.jsonl, line 2: " + (f"field '{field}': " if field else "")
    assert msg.startswith(where) and reason in msg and "\n" not in msg, msg
    assert f'value="{name}"' in r.text  # the form comes back filled in, to fix the file and try again
    with server.store() as s:
        assert (s.count("campaigns"), s.count("assignments")) == before
        assert not s.list("campaigns", name=name)


def test_other_gold_form_errors(server, people):
    lee = people["lee"]
    r = lee.post("/lead/new", form("share without gold", gold_share="0.2"))
    assert r.status_code == 400 and "needs gold answers" in error_of(r.text)
    r = lee.post("/lead/new", form("share not a number", gold_share="lots"))
    assert r.status_code == 400 and "field 'gold_share'" in error_of(r.text)
    r = lee.post("/lead/new", form("empty gold file"), files={"gold": ("empty.jsonl", b"\n\n", "text/plain")})
    assert r.status_code == 400 and error_of(r.text).startswith("empty.jsonl: no gold answer")
    r = lee.post("/lead/new", form("not utf8"), files={"gold": ("latin.jsonl", b'{"x": "\xe9"}\n', "text/plain")})
    assert r.status_code == 400 and error_of(r.text).startswith("latin.jsonl: not UTF-8 text")
    # no file chosen: a browser still sends the field, empty, and the campaign is made without gold
    r = lee.post("/lead/new", form("no gold at all"), files={"gold": ("", b"", "application/octet-stream")})
    assert r.status_code == 303
    with server.store() as s:
        for name in ("share without gold", "share not a number", "empty gold file", "not utf8"):
            assert not s.list("campaigns", name=name)
        (camp,) = s.list("campaigns", name="no gold at all")
        assert not S.gold_answers(s, camp.id) and camp.gold_share == 0
