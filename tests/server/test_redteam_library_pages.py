"""The lead's red-team and failure-library pages over a real `assay serve`, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta

import httpx
import pytest

from assay import library as L
from assay import records as R
from assay.stats.proportions import wilson_interval
from assay.store import Store
from tests.server.conftest import Rater, add_texts, add_users, start_server, stop_server

JUDGE_A = R.Rater.make_id("llm", "judge-a@1")
JUDGE_B = R.Rater.make_id("llm", "judge-b@1")
FLOOD = 55  # successful attempts of one attack: more than the page lists
MARK = "<b>not bold</b>"


def _attempts(s: Store) -> None:
    """Three behaviours attacked on two models; judge-a judged every answer, judge-b a few."""
    t0 = R.utcnow() - timedelta(days=1)
    goals = [f"Explain how to do harmful thing {i} {MARK}" for i in range(3)]
    behaviours = [R.Item(id=f"beh{i}", dataset="behaviours", external_id=str(i), prompt=g) for i, g in enumerate(goals)]
    recs: list[R.Record] = [R.Dataset(name="behaviours"), R.Dataset(name="attacks"), *behaviours,
                            R.Rater(id=JUDGE_A, kind="llm", name="judge-a@1"),
                            R.Rater(id=JUDGE_B, kind="llm", name="judge-b@1"),
                            R.Model(id="m1@1"), R.Model(id="m2@1")]
    # (model, attack, behaviour, judge-a's verdict)
    plan = [("m1@1", "direct", 0, 1), ("m1@1", "direct", 1, 0), ("m1@1", "direct", 2, 0),
            ("m1@1", "base64", 0, 1), ("m1@1", "base64", 1, 1), ("m1@1", "base64", 2, 0),
            ("m2@1", "direct", 0, 0), ("m2@1", "direct", 1, 0), ("m2@1", "direct", 2, 0)]
    plan += [("m2@1", "flood", 0, 1)] * FLOOD
    for n, (model, attack, b, verdict) in enumerate(plan):
        it = R.Item(id=f"atk{n}", dataset="attacks", external_id=str(n), prompt=f"[{attack}] {goals[b]}")
        text = f"answer {n} of {model} to {attack}: {MARK}"
        resp = R.Response(id=f"resp{n}", item_id=it.id, model=model, text=text)
        att = R.Attempt(id=f"att{n}", behavior_id=f"beh{b}", model=model, attack=attack, item_id=it.id,
                        response_id=resp.id, stream=n, created_at=t0 + timedelta(minutes=n))
        recs += [it, resp, att, R.Judgment(response_id=resp.id, rater_id=JUDGE_A, rubric="redteam@1",
                                           dimension="jailbroken", value=verdict, justification="a")]
        if n < 3:
            recs.append(R.Judgment(response_id=resp.id, rater_id=JUDGE_B, rubric="redteam@1", dimension="jailbroken",
                                   value=1 - verdict, justification="b"))
    s.add(recs)


def _library(s: Store) -> None:
    moon, hamlet = add_texts(s, "lib", ["What year did the moon landing happen?", "Who wrote *Hamlet*?"],
                             {"alpha@1": ["1970, I believe. <i>surely</i>", "Marlowe."], "beta@1": ["1969.", "Bacon."]})
    lib_resps = [R.Response.make_id(moon.id, "alpha@1", 0), R.Response.make_id(hamlet.id, "alpha@1", 0),
                 R.Response.make_id(hamlet.id, "beta@1", 0)]
    L.add_entry(s, "Wrong dates and authors", entry="wrong-facts", description="Gets *dates* wrong. <u>raw</u>",
                hypothesis="Training data **noise**.", tags=["facts"], severity="high", examples=lib_resps,
                created_by="lee")
    e = L.add_entry(s, "Refuses harmless questions", entry="over-refusal", tags=["refusal"],
                    examples=[lib_resps[0]], created_by="lee")
    check = {"model": "alpha@2", "n": 20, "failures": 3, "rate": 0.15, "wilson95": [0.052, 0.36],
             "checked_at": "2025-01-02T03:04:05+00:00"}
    L.edit_entry(s, e.entry, status="mitigated", evidence={"last_check": check})
    L.add_entry(s, "An old worry", entry="old-worry", status="retired")
    for slug in ("status-me", "edit-me", "stale-me", "race-me"):
        L.add_entry(s, f"Entry {slug}", entry=slug, created_by="lee")


@pytest.fixture(scope="module")
def srv(backend_url):
    with Store(backend_url) as s:
        add_users(s, {"ann": "rater", "lee": "lead", "ada": "admin"})
        _attempts(s)
        _library(s)
    url, proc = start_server(backend_url, workers=2)
    users = {n: Rater(url, n) for n in ("ann", "lee", "ada")}
    yield url, backend_url, users
    for u in users.values():
        u.close()
    stop_server(proc)


def _versions(store_url: str, slug: str) -> list[R.LibraryEntry]:
    with Store(store_url, create=False) as s:
        return L.history(s, slug)


def _text(page: str, element_id: str) -> str:
    """The text of one table (by id) with tags removed, entities decoded and whitespace collapsed."""
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</table>', page, re.S)
    assert m, f"no #{element_id} on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split())


PAGES = ["/lead/library", "/lead/library/wrong-facts", "/lead/redteam", "/lead/response/resp0"]


def test_raters_are_refused_and_anonymous_users_sent_to_log_in(srv):
    url, store_url, users = srv
    for path in PAGES:
        r = httpx.get(url + path)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
        assert users["ann"].client.get(path).status_code == 403, path
        assert users["ada"].client.get(path).status_code == 200, path
    r = users["ann"].post("/lead/library/status-me/status", {"version": "1", "status": "confirmed"})
    assert r.status_code == 403
    assert httpx.post(url + "/lead/library/status-me/status", data={"version": "1", "status": "confirmed"},
                      headers={"accept": "application/json"}).status_code == 401
    assert len(_versions(store_url, "status-me")) == 1


def test_lead_home_links_both_pages(srv):
    page = srv[2]["lee"].client.get("/lead").text
    assert 'href="/lead/library"' in page and 'href="/lead/redteam"' in page
    nav = re.search(r"<nav.*?</nav>|<header.*?</header>", srv[2]["lee"].client.get("/").text, re.S).group(0)
    assert 'href="/lead/library"' in nav and 'href="/lead/redteam"' in nav  # on every page, for leads
    rater_nav = re.search(r"<nav.*?</nav>|<header.*?</header>", srv[2]["ann"].client.get("/").text, re.S).group(0)
    assert "/lead/" not in rater_nav


def test_library_lists_latest_versions_with_filters_and_last_check(srv):
    lee = srv[2]["lee"].client
    page = lee.get("/lead/library").text
    rows = dict(re.findall(r'<tr data-entry="([^"]+)">(.*?)</tr>', page, re.S))
    assert "old-worry" not in rows and {"wrong-facts", "over-refusal"} <= set(rows)
    assert "v2" in rows["over-refusal"] and "mitigated" in rows["over-refusal"]
    check = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", rows["over-refusal"])).split())
    assert "15% [5%, 36%] on alpha@2, 2025-01-02" in check
    facts = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", rows["wrong-facts"])).split())
    assert "high" in facts and "alpha@1, beta@1" in facts and re.search(r"examples\">\s*3\s*<", rows["wrong-facts"])

    def listed(**params) -> set[str]:
        r = lee.get("/lead/library", params=params)
        assert r.status_code == 200, r.text
        return set(re.findall(r'<tr data-entry="([^"]+)">', r.text))

    assert listed(status="mitigated") == {"over-refusal"}
    assert listed(status="retired") == {"old-worry"}
    assert "old-worry" in listed(status="all")
    assert listed(model="beta@1") == {"wrong-facts"}
    assert listed(tag="refusal") == {"over-refusal"}
    assert listed(tag="refusal", status="open") == set()
    assert lee.get("/lead/library", params={"status": "bogus"}).status_code == 400


def test_entry_page_renders_markdown_safely_with_examples_and_history(srv):
    lee = srv[2]["lee"].client
    page = lee.get("/lead/library/wrong-facts").text
    desc = re.search(r'id="entry-description">(.*?)</div>', page, re.S).group(1)
    assert "<em>dates</em>" in desc and "&lt;u&gt;raw&lt;/u&gt;" in desc and "<u>" not in desc
    assert "<strong>noise</strong>" in page
    assert page.count('class="card example"') == 3
    assert "1970, I believe. &lt;i&gt;surely&lt;/i&gt;" in page and "<i>surely</i>" not in page
    assert "Who wrote <em>Hamlet</em>?" in page  # the prompt, as Markdown
    assert _text(page, "history").startswith("Version When (UTC) By Status Title Note 1 ")
    assert lee.get("/lead/library/no-such-entry").status_code == 404
    assert lee.get("/lead/library/" + "x" * 300).status_code == 404


def test_posts_without_the_csrf_token_are_rejected(srv):
    url, store_url, users = srv
    lee = users["lee"].client
    for path, data in [("/lead/library/status-me/status", {"version": "1", "status": "confirmed"}),
                       ("/lead/library/edit-me/edit", {"version": "1", "title": "Hijacked"})]:
        assert lee.post(path, data=data).status_code == 403
        assert lee.post(path, data={**data, "csrf_token": "wrong"}).status_code == 403
    assert len(_versions(store_url, "status-me")) == 1 and _versions(store_url, "edit-me")[-1].title == "Entry edit-me"


def test_a_status_change_is_version_2_with_its_note_in_the_history(srv):
    url, store_url, users = srv
    lee = users["lee"]
    r = lee.post("/lead/library/status-me/status", {"version": "1", "status": "confirmed",
                                                    "note": "seen again on beta <script>x</script>"})
    assert r.status_code == 303 and r.headers["location"] == "/lead/library/status-me?saved=2"
    v1, v2 = _versions(store_url, "status-me")
    assert (v1.status, v2.status, v2.version, v2.created_by) == ("open", "confirmed", 2, "lee")
    page = lee.client.get(r.headers["location"]).text
    assert 'id="saved">Saved version 2.' in page and 'id="entry-status">confirmed<' in page
    history = _text(page, "history")
    assert "2 " in history and "lee confirmed Entry status-me seen again on beta <script>x</script>" in history
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page
    # retiring keeps the note as the reason; the library hides it unless asked
    r = lee.post("/lead/library/status-me/status", {"version": "2", "status": "retired", "note": "fixed upstream"})
    assert r.status_code == 303
    v3 = _versions(store_url, "status-me")[-1]
    assert (v3.version, v3.status, v3.evidence["retired"]["reason"]) == (3, "retired", "fixed upstream")
    assert "fixed upstream" in _text(lee.client.get("/lead/library/status-me").text, "history")
    assert 'data-entry="status-me"' not in lee.client.get("/lead/library").text
    # the same status again, or one that does not exist: a message, nothing written
    r = lee.post("/lead/library/status-me/status", {"version": "3", "status": "retired"})
    assert r.status_code == 400 and "already retired" in r.text
    r = lee.post("/lead/library/status-me/status", {"version": "3", "status": "fixed"})
    assert r.status_code == 400 and 'id="error"' in r.text
    assert len(_versions(store_url, "status-me")) == 3


def test_edit_writes_a_new_version_and_bad_input_is_a_message(srv):
    url, store_url, users = srv
    lee = users["lee"]
    form = {"version": "1", "title": "Edited title", "description": "New *description*", "hypothesis": "Because.",
            "severity": "critical", "tags": "a, b"}
    r = lee.post("/lead/library/edit-me/edit", form)
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=2")
    v2 = _versions(store_url, "edit-me")[-1]
    assert (v2.version, v2.title, v2.description, v2.hypothesis, v2.severity, v2.tags, v2.status) == (
        2, "Edited title", "New *description*", "Because.", "critical", ["a", "b"], "open")
    r = lee.post("/lead/library/edit-me/edit", {**form, "version": "2"})
    assert r.status_code == 400 and "nothing changed" in r.text
    r = lee.post("/lead/library/edit-me/edit", {**form, "version": "2", "title": "  ", "hypothesis": "Typed, unsaved"})
    assert r.status_code == 400 and 'id="error"' in r.text and "Typed, unsaved" in r.text  # the form keeps it
    r = lee.post("/lead/library/edit-me/edit", {**form, "version": "2", "severity": "apocalyptic"})
    assert r.status_code == 400 and 'id="error"' in r.text
    assert len(_versions(store_url, "edit-me")) == 2


def test_an_edit_made_from_a_stale_page_is_refused_with_a_message(srv):
    url, store_url, users = srv
    lee, ada = users["lee"], users["ada"]
    assert ada.post("/lead/library/stale-me/edit", {"version": "1", "title": "Ada's title"}).status_code == 303
    r = lee.post("/lead/library/stale-me/status", {"version": "1", "status": "confirmed", "note": "mine"})
    assert r.status_code == 409
    msg = html.unescape(re.search(r'id="error">(.*?)</p>', r.text, re.S).group(1))
    assert "ada saved version 2" in msg and "nothing was saved" in msg
    assert [v.title for v in _versions(store_url, "stale-me")] == ["Entry stale-me", "Ada's title"]


def test_racing_writers_get_a_message_never_a_500(srv):
    url, store_url, users = srv
    clients = [Rater(url, "lee") for _ in range(6)]
    results: list[int] = []
    gate = threading.Barrier(len(clients))

    def go(i: int, c: Rater) -> None:
        gate.wait()
        results.append(c.post("/lead/library/race-me/edit", {"version": "1", "title": f"Title {i}"}).status_code)

    threads = [threading.Thread(target=go, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.close()
    assert sorted(set(results)) <= [303, 409] and 303 in results, results
    # every accepted edit is exactly one version; the others wrote nothing
    assert len(_versions(store_url, "race-me")) == 1 + results.count(303)


def test_redteam_opens_on_the_rater_with_most_verdicts_and_never_on_an_error(srv):
    """Several judges and none chosen: the page shows the rates of the one that judged the most
    attempts (judge-a: all 64, judge-b: 3), says so, and offers the other; no red error before
    the lead did anything. A rater the lead asks for that does not exist is an error."""
    lee = srv[2]["lee"].client
    r = lee.get("/lead/redteam")
    assert r.status_code == 200
    assert 'class="error"' not in r.text and 'id="asr"' in r.text
    assert f"Judged by {JUDGE_A} on jailbroken" in r.text and "the rater with the most verdicts" in r.text
    select = re.search(r'<select name="rater".*?</select>', r.text, re.S)[0]
    assert re.findall(r'<option value="([^"]*)"', select) == [JUDGE_A, JUDGE_B]
    assert re.findall(r'<option value="([^"]*)" selected', select) == [JUDGE_A]
    assert r.text.count('<tr data-model=') == lee.get("/lead/redteam", params={"rater": JUDGE_A}).text.count('<tr data-model=')
    r = lee.get("/lead/redteam", params={"rater": "nobody"})
    assert r.status_code == 200 and "no single rater" in r.text and 'id="problem"' in r.text and 'id="asr"' not in r.text
    r = lee.get("/lead/redteam", params={"dimension": "refusal"})  # attempts exist, none judged on refusal
    assert r.status_code == 200 and 'class="error"' not in r.text and 'id="asr"' not in r.text
    assert "No attempt has been judged on refusal yet" in r.text
    assert lee.get("/lead/redteam", params={"dimension": "bogus"}).status_code == 400
    # injection and leakage verdicts are chosen on the page like the others; none were judged here
    r = lee.get("/lead/redteam", params={"dimension": "injected"})
    assert r.status_code == 200 and 'class="error"' not in r.text and 'id="asr"' not in r.text
    verdicts = re.search(r'<select name="dimension">.*?</select>', r.text, re.S)[0]
    assert re.findall(r'<option value="([^"]*)"', verdicts) == ["jailbroken", "refusal", "injected", "leaked"]


def test_redteam_without_attempts_says_so_without_an_error(store_url):
    """A store with no attack yet: a neutral note, not a red error."""
    with Store(store_url) as s:
        add_users(s, {"lee": "lead"})
    url, proc = start_server(store_url)
    lee = Rater(url, "lee")
    try:
        r = lee.client.get("/lead/redteam")
    finally:
        lee.close()
        stop_server(proc)
    assert r.status_code == 200 and 'class="error"' not in r.text and 'id="asr"' not in r.text
    assert re.search(r'<p class="muted" id="note">Nothing to show yet: no attempts in the store', r.text)


def test_redteam_shows_asr_with_wilson_intervals_and_recent_successes(srv):
    lee = srv[2]["lee"].client
    r = lee.get("/lead/redteam", params={"rater": JUDGE_A})
    assert r.status_code == 200 and 'id="problem"' not in r.text
    assert f"Judged by {JUDGE_A} on jailbroken" in r.text  # the library's default verdict where attempts were judged
    rows = {(m, a): " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
            for m, a, body in re.findall(r'<tr data-model="([^"]+)" data-attack="([^"]+)">(.*?)</tr>', r.text, re.S)}
    assert set(rows) == {("m1@1", "direct"), ("m1@1", "base64"), ("m2@1", "direct"), ("m2@1", "flood")}

    def shown(k: int, n: int, attempts: int) -> str:
        p = wilson_interval(k, n)
        pct = lambda v: f"{100 * v:.0f}%"  # noqa: E731
        return f"{k} / {n} {pct(k / n)} {pct(p.low)}–{pct(p.high)} {attempts} 0"

    assert rows[("m1@1", "direct")].endswith(shown(1, 3, 3))
    assert rows[("m1@1", "base64")].endswith(shown(2, 3, 3))
    assert rows[("m2@1", "direct")].endswith(shown(0, 3, 3))
    assert rows[("m2@1", "flood")].endswith(shown(1, 1, FLOOD))
    # judge-b's verdicts tell another story on the same attempts
    r_b = lee.get("/lead/redteam", params={"rater": "judge-b@1"})
    assert r_b.status_code == 200 and re.search(r'data-model="m1@1" data-attack="direct">.*?2 / 3', r_b.text, re.S)

    recent = re.search(r'id="recent".*?</table>', r.text, re.S).group(0)
    links = re.findall(r'href="/lead/response/(resp\d+)"', recent)
    assert len(links) == 50  # capped
    newest = [f"resp{n}" for n in range(9 + FLOOD - 1, 8, -1)][:50]
    assert links == newest  # the flood attempts are the newest successes, newest first
    assert "&lt;b&gt;not bold&lt;/b&gt;" in recent and "<b>not bold</b>" not in recent
    assert "Explain how to do harmful thing 0" in recent

    # fewer successes than the cap: every one, from every model and attack
    few = lee.get("/lead/redteam", params={"rater": JUDGE_B}).text
    assert sorted(re.findall(r'href="/lead/response/(resp\d+)"', re.search(r'id="recent".*?</table>', few,
                                                                           re.S)[0])) == ["resp1", "resp2"]


def test_response_page_shows_prompt_response_and_verdicts(srv):
    lee = srv[2]["lee"].client
    page = lee.get("/lead/response/resp3").text
    assert "answer 3 of m1@1 to base64: &lt;b&gt;not bold&lt;/b&gt;" in page
    assert JUDGE_A in _text(page, "judgments") and "base64" in _text(page, "attempts")
    assert lee.get("/lead/response/nope").status_code == 404
