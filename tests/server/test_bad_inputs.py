"""Inputs that crashed the server: numbers that are not finite, NUL bytes, unpaired surrogates, huge
strings, missing and repeated fields, sent to every route of a real `assay serve` on both stores.
Each is refused with a 4xx and a message; none is a 5xx; the connection stays up."""

from __future__ import annotations

import itertools
import re
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote_plus, urlsplit

import httpx
import pytest

from assay import annotate as A
from assay import library as L
from assay.server import accounts as ACC
from assay.store import Store
from tests.server.conftest import DIMS, Rater, add_texts, add_users, rating, rid, seed_basic, start_server, stop_server

JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def srv(backend_url):
    """A one-worker server over seed_basic, a larger dataset for ann's fuzzed answers, a library
    entry and a campaign to close; the store stays open for the test's own reads."""
    with Store(backend_url) as s:
        ids = seed_basic(s)
        add_users(s, {"dan": "rater"})
        add_texts(s, "fuzz", [f"Fuzz prompt {i}" for i in range(40)],
                  {m: [f"answer {i} of {m}" for i in range(40)] for m in ("m1@1", "m2@1", "m3@1")})
        for kind in ("rate", "compare", "rank"):
            ids[f"fuzz-{kind}"] = A.create_campaign(s, f"fuzz {kind}", rubric="default@1",
                                                    spec=A.CampaignSpec(overlap=1, raters=[rid("ann")], kind=kind),
                                                    units=A.units_from_dataset(s, "fuzz", kind=kind), created_by="lee").id
        ids["to-close"] = A.create_campaign(s, "to close", rubric="default@1", spec=A.CampaignSpec(overlap=1),
                                            created_by="lee", units=A.units_from_dataset(s, "basic")[:2]).id
        L.add_entry(s, "Fuzzed entry", entry="fuzz-me", created_by="lee")
    url, proc = start_server(backend_url, workers=1)
    store = Store(backend_url, create=False)
    people = {n: Rater(url, n) for n in ("ann", "lee", "ada")}
    for _ in range(3):  # edge cases for the lead's edge route: flagged answers open them
        aid = people["ann"].next(ids["fuzz-rate"])
        r = people["ann"].post(f"/a/{aid}", rating(3, flag="ambiguous", flag_note="which reading?"))
        assert r.status_code == 303
    ids["edges"] = [c.id for c in store.list("edge_cases")]
    assert len(ids["edges"]) == 3
    yield url, proc, ids, store, people
    for p in people.values():
        p.close()
    store.close()
    stop_server(proc)


# ---- the inputs of the issue, one by one ---------------------------------------------------------


def _raw_exchange(base: str, requests: list[bytes]) -> list[bytes]:
    """Send requests one after another on one keep-alive connection; the answers (an answer is
    missing when the server closed the connection)."""
    u = urlsplit(base)
    out = []
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        buf = b""
        for req in requests:
            try:
                sock.sendall(req)
                while True:
                    head, sep, body = buf.partition(b"\r\n\r\n")
                    m = re.search(rb"(?i)content-length: (\d+)", head)
                    if sep and m and len(body) >= int(m.group(1)):
                        out.append(head + sep + body[: int(m.group(1))])
                        buf = body[int(m.group(1)):]
                        break
                    data = sock.recv(65536)
                    if not data:
                        return out
                    buf += data
            except OSError:
                return out
    return out


def _post_bytes(base: str, path: str, body: bytes, person: Rater, accept: str = "text/html") -> bytes:
    cookie = f"assay_session={person.client.cookies['assay_session']}"
    u = urlsplit(base)
    return (f"POST {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nCookie: {cookie}\r\nAccept: {accept}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def _form_bytes(data: dict[str, str]) -> bytes:
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in data.items()).encode()


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400"])
def test_numbers_that_are_not_finite_are_422_on_the_page_and_the_connection_stays(srv, value):
    base, _, ids, store, people = srv
    ann = people["ann"]
    aid = ann.next(ids["rate"])
    body = _form_bytes({"csrf_token": ann.csrf, **rating(4), "dim:factuality": value})
    answers = _raw_exchange(base, [_post_bytes(base, f"/a/{aid}", body, ann),
                                   _post_bytes(base, f"/a/{aid}", body, ann, accept="application/json")])
    assert len(answers) == 2, "the server closed the keep-alive connection"
    page, js = answers
    assert page.startswith(b"HTTP/1.1 422") and b'id="error">field &#39;factuality&#39;: ' in page
    assert b"is not a finite number" in page and b'id="answer"' in page  # the rating form, shown again
    assert js.startswith(b"HTTP/1.1 422") and b'"field":"factuality"' in js
    assert store.count("judgments", assignment_id=aid) == 0


@pytest.mark.parametrize("change", [{"justification": "Looks right\x00 to me."},
                                    {"flag": "novel", "flag_note": "new\x00 behaviour"},
                                    {"justification": "Looks right to me.", "dim:creativity": "3\x00"}])
def test_nul_bytes_in_an_answer_are_422_with_a_message(srv, change):
    _, _, ids, store, people = srv
    ann = people["ann"]
    aid = ann.next(ids["rate"])
    for accept in ("text/html", "application/json"):
        r = ann.post(f"/a/{aid}", {**rating(4), **change}, headers={"accept": accept})
        assert r.status_code == 422
        assert "remove the NUL character" in (r.json()["error"] if accept != "text/html" else r.text)
    assert store.count("judgments", assignment_id=aid) == 0
    assert ann.post(f"/a/{aid}", rating(4)).status_code == 303  # the same form without it is taken


def test_a_nul_byte_in_a_skip_reason_is_422(srv):
    _, _, ids, store, people = srv
    ann = people["ann"]
    aid = ann.next(ids["rate"])
    r = ann.post(f"/a/{aid}/skip", {"reason": "cannot\x00 tell"})
    assert r.status_code == 422 and "remove the NUL character" in r.text
    assert store.get("assignments", aid).status == "pending"


def test_time_spent_is_measured_by_the_server_from_the_hand_out(srv):
    _, _, ids, store, people = srv
    ann = people["ann"]
    aid = ann.next(ids["fuzz-rate"])
    handed = store.get("assignments", aid).created_at.timestamp()
    time.sleep(1.5)
    before = time.time()
    for started in ("1e-300", str(time.time() + 3600), "nan", "-5"):  # the client's clock is not asked
        r = ann.post(f"/a/{aid}", {**rating(4), "started": started, "justification": "x"}, headers=JSON)
        assert r.status_code in (200, 201)
        if started == "1e-300":
            after = time.time()
    spent = {j.time_spent_s for j in store.list("judgments", assignment_id=aid)}
    assert len(spent) == 1
    (t,) = spent
    assert before - handed >= 1.4  # handed out at least the sleep ago
    assert before - handed - 0.5 <= t <= after - handed + 0.5, (t, before - handed, after - handed)


# ---- every field of every route ------------------------------------------------------------------

SURROGATE = "\ud800"  # sent as UTF-7 in a multipart part, the one way it reaches a Python str
BAD = ["", "0", "-1", "1e400", "-1e400", "nan", "inf", "-inf", "1e-300", "99999999999999999999", "9" * 5000,
       "\x00", "a\x00b", "²", "<script>alert(1)</script>", "A", "x" * 1_000_000, SURROGATE, b"\xed\xa0\x80\xff",
       b"%ED%A0%80"]


@dataclass
class Target:
    """How to post one route well-formed: who, where, the good form, the fields to spoil. ``path``
    gives a fresh path when told the last post was taken (``fresh=True``)."""

    who: str
    path: Callable[[bool], str]
    good: Callable[[], dict[str, str]]
    fields: list[str] = field(default_factory=list)
    as_json: bool = False  # also post every variant as a script would (Accept: application/json)


def _targets(ids, store, people) -> dict[str, list[Target]]:
    ann = people["ann"]

    def pending(kind: str, suffix: str = "") -> Callable[[bool], str]:
        held: list[str] = []

        def path(fresh: bool) -> str:
            if fresh or not held:
                held[:] = [f"/a/{ann.next(ids[f'fuzz-{kind}']) or 'none-left'}{suffix}"]
            return held[0]
        return path

    def fixed(path: str) -> Callable[[bool], str]:
        return lambda fresh: path

    def entry_version() -> str:
        return str(L.get_entry(store, "fuzz-me").version)

    just = ["justification", "flag", "flag_note", "started"]
    return {
        "/logout": [Target("dan", fixed("/logout"), dict, ["csrf_token"])],
        "/login": [Target("anon", fixed("/login"), lambda: {"name": "dan", "password": "wrong password"},
                          ["name", "password", "csrf_token"])],
        "/a/{aid}": [
            Target("ann", pending("rate"), lambda: rating(4, justification="fine"), [f"dim:{d}" for d in DIMS] + just,
                   as_json=True),
            # the text fields are read the same way for every kind: spoiled once, above
            Target("ann", pending("compare"), lambda: {"choice": "A", "strength": "1", "justification": "A"},
                   ["choice", "strength"], as_json=True),
            Target("ann", pending("rank"), lambda: {"rank:A": "1", "rank:B": "2", "rank:C": "3", "justification": "r"},
                   ["rank:A", "rank:B", "rank:C"], as_json=True),
        ],
        "/a/{aid}/skip": [Target("ann", pending("rate", "/skip"), lambda: {"reason": "cannot"}, ["reason"],
                                 as_json=True)],
        "/lead/c/{cid}/collect": [Target("lee", fixed(f"/lead/c/{ids['rate']}/collect"), dict, ["csrf_token"])],
        "/lead/c/{cid}/close": [Target("lee", fixed(f"/lead/c/{ids['to-close']}/close"), dict, ["csrf_token"])],
        "/lead/edge/{case_id}": [Target("lee", fixed(f"/lead/edge/{ids['edges'][0]}"),
                                        lambda: {"action": "dismiss", "text": "dup", "back": f"/lead/c/{ids['rate']}"},
                                        ["action", "text", "back"]),
                                 Target("lee", fixed(f"/lead/edge/{ids['edges'][1]}"),
                                        lambda: {"action": "resolve", "text": "Read it this way.", "back": "/lead"},
                                        ["action", "text"])],
        "/lead/new": [Target("lee", fixed("/lead/new"), lambda: {
            "name": f"fuzzed {uuid.uuid4().hex[:8]}", "kind": "rate", "rubric": "default@1", "dataset": "basic",
            "models": "alpha@1", "dimensions": "factuality", "overlap": "1", "min_justification": "0",
            "gold_share": "0", "deadline": "", "raters": "carl"},
            ["name", "kind", "rubric", "dataset", "models", "dimensions", "overlap", "min_justification",
             "gold_share", "deadline", "raters", "calibration", "unblind"])],
        # a new password is hashed with argon2's full cost: the hashing actions get the fields they read
        "/admin/users": [Target("ada", fixed("/admin/users"),
                                lambda: {"action": "role", "name": "carl", "role": "rater"}, ["action", "name", "role"]),
                         Target("ada", fixed("/admin/users"), lambda: {"action": "add", "password": "a long password"},
                                ["name"]),
                         Target("ada", fixed("/admin/users"), lambda: {"action": "password", "name": "carl"},
                                ["password"])],
        "/lead/library/{slug}/status": [Target("lee", fixed("/lead/library/fuzz-me/status"), lambda: {
            "version": entry_version(), "status": "confirmed", "note": "seen again"}, ["version", "status", "note"])],
        "/lead/library/{slug}/edit": [Target("lee", fixed("/lead/library/fuzz-me/edit"), lambda: {
            "version": entry_version(), "title": f"Fuzzed {uuid.uuid4().hex[:6]}", "description": "d",
            "hypothesis": "h", "severity": "low", "tags": "a, b"},
            ["version", "title", "description", "hypothesis", "severity", "tags"])],
    }


def _encode(items: list[tuple[str, str | bytes]], multipart: bool) -> tuple[bytes, str]:
    """A body and its content type: URL-encoded (bytes values go in raw), or multipart in UTF-7,
    the charset through which an unpaired surrogate reaches the app."""
    if not multipart:
        parts = [quote_plus(k).encode() + b"=" + (v if isinstance(v, bytes) else quote_plus(v).encode())
                 for k, v in items]
        return b"&".join(parts), "application/x-www-form-urlencoded"
    out = []
    for k, v in items:
        value = v if isinstance(v, bytes) else v.encode("utf-7")
        out.append(b'--B0undary\r\nContent-Disposition: form-data; name="' + k.encode("utf-7") + b'"\r\n\r\n' + value
                   + b"\r\n")
    return b"".join(out) + b"--B0undary--\r\n", "multipart/form-data; charset=utf-7; boundary=B0undary"


def _variants(good: Callable[[], dict[str, str]], name: str
              ) -> list[tuple[str, list[tuple[str, str | bytes]], bool]]:
    """(label, the form's items, multipart?) for every bad value of one field, its absence and its
    repetition, each in an otherwise good form made afresh (a unique name, the entry's version)."""
    out = []
    for value in BAD:
        g = good()
        out.append((repr(value)[:30], [*((k, v) for k, v in g.items() if k != name), (name, value)],
                    value == SURROGATE))
    g = good()
    out.append(("missing", [(k, v) for k, v in g.items() if k != name], False))
    g = good()
    out.append(("repeated", [*g.items(), (name, g.get(name, "x")), (name, "\x00")], False))
    out.append(("repeated, other", [*good().items(), (name, "1"), (name, "2")], False))
    return out


def _session(base: str, store: Store, name: str) -> tuple[httpx.Client, str]:
    """A client signed in as ``name`` through a session made in the store (no argon2 on the way)."""
    token, csrf = ACC.start_session(store, ACC.User(name=name, role="rater", rater_id=rid(name)))
    return httpx.Client(base_url=base, cookies={"assay_session": token}, timeout=30), csrf


def _routes(routes) -> list[tuple[str, set[str]]]:
    """(path, methods) of every route, through included routers (the app's routers have no prefix)."""
    out = []
    for r in routes:
        if hasattr(r, "original_router"):
            out += _routes(r.original_router.routes)
        elif getattr(r, "methods", None):
            out.append((r.path, set(r.methods)))
    return out


def test_every_field_of_every_post_route_refuses_bad_values_without_a_5xx(srv):
    base, _, ids, store, people = srv
    from assay.server.app import Settings, create_app

    posts = {path for path, methods in _routes(create_app(Settings(database_url=store.url), store=store).routes)
             if "POST" in methods}
    targets = _targets(ids, store, people)
    assert posts == set(targets), "a POST route without fuzzing: add it to _targets"
    anon = httpx.Client(base_url=base, timeout=30)
    t0, seen, fives, per_route = time.perf_counter(), Counter(), [], {}
    for route, group in targets.items():
        t_route = time.perf_counter()
        for t in group:
            taken = False
            for name in t.fields:
                for label, items, multipart in _variants(lambda t=t: {"csrf_token": "", **t.good()}, name):
                    if t.who == "anon":
                        client = anon
                        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
                    elif t.who == "dan":  # logging out ends the session: a fresh one each time
                        client, token = _session(base, store, "dan")
                    else:
                        client, token = people[t.who].client, people[t.who].csrf
                    items = [(k, token if k == "csrf_token" and v == "" else v) for k, v in items]
                    body, ctype = _encode(items, multipart)
                    for accept in ("text/html", "application/json") if t.as_json else ("text/html",):
                        try:
                            r = client.post(t.path(taken), content=body,
                                            headers={"content-type": ctype, "accept": accept})
                        except httpx.TransportError as e:  # a reset connection is a failure too
                            fives.append((route, name, label, accept, type(e).__name__, str(e)))
                            continue
                        taken = r.status_code in (201, 303)
                        seen[r.status_code] += 1
                        if r.status_code >= 500:
                            fives.append((route, name, label, accept, r.status_code, r.text[:200]))
                    if t.who == "dan":
                        client.close()
        per_route[route] = round(time.perf_counter() - t_route, 1)
    elapsed = time.perf_counter() - t0
    assert fives == []
    assert httpx.get(base + "/healthz").status_code == 200
    assert {422, 400}.issubset(seen), seen  # the bad values were refused as such, not merely bounced
    print(f"{sum(seen.values())} posts in {elapsed:.1f} s: {dict(sorted(seen.items()))}; by route {per_route}")


BAD_SEGMENTS = ["%00", "a%00b", "%ED%A0%80", "x" * 2000, "..%2F..%2Fetc", "%FF", "nan", "0"]
BAD_QUERIES = ["%00", "%ED%A0%80", "x" * 5000, "nan", "1e400", "%FF%FE"]


def test_every_get_route_refuses_bad_path_and_query_values_without_a_5xx(srv):
    base, _, ids, store, people = srv
    from assay.server.app import Settings, create_app

    gets = [path for path, methods in _routes(create_app(Settings(database_url=store.url), store=store).routes)
            if "GET" in methods and "{" in path]
    assert len(gets) >= 8
    fives = []
    for path, who in itertools.product(gets, ("ann", "lee")):
        client = people[who].client
        for bad in BAD_SEGMENTS:
            url = re.sub(r"\{[^}]+\}", bad, path)
            for q in BAD_QUERIES:
                keys = ("status", "model", "tag", "dimension", "rater", "saved")
                r = client.get(url + "?" + "&".join(f"{k}={q}" for k in keys), headers=JSON)
                if r.status_code >= 500:
                    fives.append((who, url[:80], q[:20], r.status_code))
    for path in ("/lead/library", "/lead/redteam", "/"):
        for q in BAD_QUERIES:
            r = people["lee"].client.get(path + "?" + "&".join(f"{k}={q}" for k in ("status", "model", "tag",
                                                                                     "dimension", "rater")))
            if r.status_code >= 500:
                fives.append(("lee", path, q[:20], r.status_code))
    assert fives == []
