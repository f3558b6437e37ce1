"""Security of the real server over HTTP: sessions, authorization matrix, CSRF, rate limits, headers."""

from __future__ import annotations

import re

import httpx
import pytest

from assay.store import Store
from tests.server.conftest import PASSWORD, Rater, rating, start_server, stop_server


@pytest.fixture(scope="module")
def people(server):
    made = {n: Rater(server.url, n) for n in ("ann", "bob", "carl", "lee", "lou", "ada")}
    yield made
    for r in made.values():
        r.close()


def test_login_cookie_flags_and_security_headers(server):
    r = Rater(server.url, "ann")
    assert r.login_response.status_code == 303
    cookie = r.login_response.headers["set-cookie"]
    assert "assay_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http on loopback, no --secure-cookies
    page = r.client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    r.close()


def test_secure_cookies_flag(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    from tests.server.conftest import add_users

    with Store(url) as s:
        add_users(s, {"sam": "rater"})
    base, proc = start_server(url, extra=("--secure-cookies",))
    try:
        with httpx.Client(base_url=base) as c:
            page = c.get("/login")
            assert "Secure" in page.headers["set-cookie"]
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            # a browser sends Secure cookies only over https; over loopback http we send it by hand
            r = c.post("/login", data={"csrf_token": token, "name": "sam", "password": PASSWORD},
                       headers={"cookie": f"assay_login_csrf={token}"})
        assert r.status_code == 303
        session = next(h for h in r.headers.get_list("set-cookie") if h.startswith("assay_session="))
        assert "Secure" in session and "HttpOnly" in session
        assert "strict-transport-security" in r.headers
    finally:
        stop_server(proc)


def test_anonymous_requests_are_sent_to_login(server):
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/").headers["location"] == "/login"
        assert c.get(f"/c/{server.ids['rate']}/next").status_code == 303
        assert c.get("/lead").status_code == 303
        r = c.post(f"/a/{'0' * 32}", data=rating())
        assert r.status_code == 401
    with httpx.Client(base_url=server.url, cookies={"assay_session": "forged-token"}) as c:
        assert c.get("/").status_code == 303


def test_wrong_password_is_refused(server):
    r = Rater(server.url, "carl", password="not the password")
    assert r.login_response.status_code == 401
    assert "assay_session" not in r.login_response.headers.get("set-cookie", "")
    assert r.client.get("/").status_code == 303


def _assignment_of(rater: Rater, cid: str) -> str:
    aid = rater.next(cid)
    assert aid
    return aid


def test_authorization_matrix(server, people):
    ids = server.ids
    ann, bob, carl, lee, lou, ada = (people[n] for n in ("ann", "bob", "carl", "lee", "lou", "ada"))
    bob_asg = _assignment_of(bob, ids["rate"])
    carl_asg = _assignment_of(carl, ids["restricted"])
    cases = [
        # (who, method, path, expected status)
        (ann, "GET", f"/a/{bob_asg}", 404),                       # another rater's assignment
        (ann, "GET", f"/a/{carl_asg}", 404),                      # ... in another campaign
        (ann, "GET", f"/a/{'f' * 32}", 404),                      # no such assignment
        (ann, "GET", f"/a/{'x' * 500}", 404),
        (ann, "GET", f"/c/{ids['restricted']}/next", 404),        # a campaign she is not on
        (ann, "GET", f"/c/{ids['restricted']}/guidelines", 404),
        (ann, "GET", f"/c/{'nope'}/next", 404),
        (carl, "GET", f"/c/{ids['rate']}/next", 404),             # rate lists ann and bob only
        (ann, "GET", "/lead", 403),
        (ann, "GET", f"/lead/c/{ids['rate']}", 403),
        (ann, "GET", f"/lead/c/{ids['rate']}/export.csv", 403),
        (ann, "GET", "/admin/users", 403),
        (lee, "GET", "/admin/users", 403),
        (lou, "GET", f"/lead/c/{ids['rate']}", 404),              # a lead sees only their campaigns
        (lou, "GET", f"/lead/c/{ids['rate']}/export.jsonl", 404),
        (lou, "GET", f"/lead/c/{ids['restricted']}", 200),
        (lee, "GET", f"/lead/c/{ids['rate']}", 200),
        (lee, "GET", f"/lead/c/{ids['restricted']}", 404),
        (ada, "GET", f"/lead/c/{ids['rate']}", 200),              # admins see every campaign
        (ada, "GET", "/admin/users", 200),
        (bob, "GET", f"/a/{bob_asg}", 200),
        (carl, "GET", f"/a/{carl_asg}", 200),
    ]
    got = [(who.name, m, p, who.client.request(m, p).status_code) for who, m, p, _ in cases]
    assert got == [(who.name, m, p, want) for who, m, p, want in cases]
    # writes: another rater's assignment cannot be submitted, and nothing is written
    for path in (f"/a/{bob_asg}", f"/a/{carl_asg}"):
        assert ann.post(path, rating()).status_code == 404
    assert lee.post("/admin/users", {"action": "add", "name": "mallory", "password": "x" * 12,
                                     "role": "admin"}).status_code == 403
    assert ann.post(f"/lead/c/{ids['rate']}/close", {}).status_code == 403
    assert lou.post(f"/lead/c/{ids['rate']}/close", {}).status_code == 404
    with server.store() as s:
        assert s.count("judgments", assignment_id=[bob_asg, carl_asg]) == 0
        assert s.get("campaigns", ids["rate"]).status == "open"
        assert not any(u["name"] == "mallory" for u in __import__("assay.store.rating", fromlist=["x"]).list_users(s))


def test_csrf_is_required_on_every_state_change(server, people):
    ann, bob, ada = people["ann"], people["bob"], people["ada"]
    aid = _assignment_of(ann, server.ids["rate"])
    data = rating()
    for token in (None, "", "wrong", bob.csrf):
        body = dict(data) if token is None else {**data, "csrf_token": token}
        r = ann.client.post(f"/a/{aid}", data=body)
        assert r.status_code == 403, token
    with server.store() as s:
        assert s.count("judgments", assignment_id=aid) == 0
    # the header works for scripts
    r = ann.client.post(f"/a/{aid}", data=data, headers={"x-csrf-token": ann.csrf})
    assert r.status_code == 303
    assert ann.client.post("/logout").status_code == 403
    assert ann.client.get("/").status_code == 200  # still logged in
    assert ada.client.post("/admin/users", data={"action": "add", "name": "eve", "password": "x" * 12}).status_code == 403
    # the login form is protected too (login CSRF): no cookie-bound token, no session
    with httpx.Client(base_url=server.url) as c:
        r = c.post("/login", data={"csrf_token": "guess", "name": "ann", "password": PASSWORD})
        assert r.status_code == 403 and "assay_session" not in r.headers.get("set-cookie", "")


def test_login_attempts_are_rate_limited_across_workers(server):
    # the server runs two worker processes: the limit holds whichever one answers
    for _ in range(3):  # one address has 3 of the name's 5 checks ...
        assert Rater(server.url, "lou", password="guess guess").login_response.status_code == 401
    assert Rater(server.url, "lou", password="guess guess").login_response.status_code == 429
    for _ in range(2):  # ... the name 5 from anywhere
        assert Rater(server.url, "lou", password="guess guess", address="127.0.0.2").login_response.status_code == 401
    locked = Rater(server.url, "lou", address="127.0.0.3")  # the right password, too late
    assert locked.login_response.status_code == 429
    assert "assay_session" not in locked.login_response.headers.get("set-cookie", "")
    assert Rater(server.url, "ada").login_response.status_code == 303  # others are not affected


def test_logout_and_disabling_end_sessions(server):
    r = Rater(server.url, "bob")
    assert r.client.get("/").status_code == 200
    old = r.client.cookies.get("assay_session")
    assert r.post("/logout", {}).status_code == 303
    with httpx.Client(base_url=server.url, cookies={"assay_session": old}) as c:
        assert c.get("/").status_code == 303
    again = Rater(server.url, "carl")
    admin = Rater(server.url, "ada")
    assert admin.post("/admin/users", {"action": "disable", "name": "carl"}).status_code == 303
    assert again.client.get("/").status_code == 303
    assert Rater(server.url, "carl").login_response.status_code == 401
    assert admin.post("/admin/users", {"action": "enable", "name": "carl"}).status_code == 303
    assert Rater(server.url, "carl").login_response.status_code == 303


def test_admin_adds_a_user_who_can_log_in(server):
    admin = Rater(server.url, "ada")
    r = admin.post("/admin/users", {"action": "add", "name": "dora", "password": "dora's long password",
                                    "role": "rater"})
    assert r.status_code == 303
    assert "dora" in admin.client.get("/admin/users").text
    assert Rater(server.url, "dora", password="dora's long password").login_response.status_code == 303
    bad = admin.post("/admin/users", {"action": "add", "name": "dora", "password": "another password"})
    assert bad.status_code == 400 and "already exists" in bad.text
    assert re.search(r"at least 8", admin.post("/admin/users", {"action": "add", "name": "x1", "password": "short"}).text)
