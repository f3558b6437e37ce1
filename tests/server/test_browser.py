"""The app in headless Chromium: XSS payloads never run; raters rate by keyboard; the lead sees agreement."""

from __future__ import annotations

import pytest

from assay import annotate as A
from assay import records as R
from assay.store import Store
from tests.server.chromium import Watched
from tests.server.conftest import add_texts, add_users, rid, start_server, stop_server

PAYLOADS = [
    "<script>window.__xss=1;alert(1)</script>",
    '<img src=x onerror="window.__xss=2;alert(2)">',
    '"><svg onload="window.__xss=3">',
    "'><iframe srcdoc=\"<script>parent.__xss=4</script>\"></iframe>",
    "</textarea></div><script>window.__xss=5</script>",
    '<a href="javascript:window.__xss=6" id="xsslink">click me</a>',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=7">',
    "<style>body{display:none}</style>{{ 7*7 }}",
]
ALL = "\n".join(PAYLOADS)

# Markdown-shaped attacks: links and images with script or data URLs, raw HTML inside Markdown,
# HTML in code, autolinks, reference links, and emphasis wrapped around tags
MD_PAYLOADS = [
    "[click me](javascript:window.__xss=10)",
    "[Click](JaVaScRiPt:window.__xss=11) and [spaced](  javascript:window.__xss=12)",
    "[angle](<javascript:window.__xss=13>) and [tab](java\tscript:window.__xss=14)",
    "[entity](&#106;avascript:window.__xss=15)",
    "[data](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX194c3M9MTY8L3NjcmlwdD4=)",
    "![pixel](data:image/png;base64,iVBORw0KGgo=) "
    "![svg](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9J3dpbmRvdy5fX3hzcz0xNyc+)",
    "![remote](https://example.invalid/track.png)",
    "raw <script>window.__xss=18</script> inside *Markdown*",
    "*<img src=x onerror=\"window.__xss=19\">* and ***<svg onload=window.__xss=20>***",
    "`<img src=x onerror=window.__xss=21>` in a code span",
    "<javascript:window.__xss=22> autolink and <https://example.invalid/ok> autolink",
    "[ref link][evil] and [good ref][good]",
    "[evil]: javascript:window.__xss=23",
    "[good]: https://example.invalid/ref",
    "**[nested *emphasis* link](javascript:window.__xss=24)**",
    '[title](https://example.invalid "x\\" onmouseover=\\"window.__xss=25")',
    "[relative](/logout)",
    "| cell | <img src=x onerror=window.__xss=26> |\n|---|---|\n| [t](javascript:window.__xss=27) | ok |",
]
MD_ALL = "\n\n".join(MD_PAYLOADS) + "\n\n```html\n<script>window.__xss=28</script>\n    <b>indented</b>\n```\n"


@pytest.fixture(scope="module")
def app(backend_url):
    """A server seeded with XSS payloads everywhere untrusted text goes, and a one-unit campaign."""
    from assay.rubrics import get_rubric

    with Store(backend_url) as s:
        get_rubric(s, "default")
        add_users(s, {"ann": "rater", "bob": "rater", "lee": "lead"})
        add_texts(s, "xss", [ALL], {"evil@1": [ALL], "evil@2": ["plain " + PAYLOADS[1]]})
        add_texts(s, "clean", ["What is the capital of France?"],
                  {"m1@1": ["Paris is the capital of France."], "m2@1": ["Lyon."]})
        add_texts(s, "rank3", ["Name a prime."], {"m1@1": ["2"], "m2@1": ["4"], "m3@1": ["9"]})
        add_texts(s, "md", [MD_ALL], {"md@1": [MD_ALL]})
        chat = R.Item(id=R.Item.make_id("md-chat", "0", None, None), dataset="md-chat", external_id="0",
                      messages=[R.Message(role="system", content=MD_ALL), R.Message(role="user", content="Hi *there*")])
        s.add([R.Dataset(name="md-chat"), chat, R.Model(id="md@2"),
               R.Response(id=R.Response.make_id(chat.id, "md@2", 0), item_id=chat.id, model="md@2", text="ok")])
        xss_units = A.units_from_dataset(s, "xss")
        ids = {
            "xss": A.create_campaign(s, "xss " + PAYLOADS[1], rubric="default@1", units=xss_units,
                                     spec=A.CampaignSpec(overlap=2), created_by="lee").id,
            "xss_pair": A.create_campaign(s, "xss pair", rubric="default@1", spec=A.CampaignSpec(kind="compare"),
                                  units=A.units_from_dataset(s, "xss", kind="compare"), created_by="lee").id,
            "e2e": A.create_campaign(s, "e2e", rubric="default@1", units=A.units_from_dataset(s, "clean")[:1],
                                     spec=A.CampaignSpec(overlap=2, min_justification=10,
                                                         raters=[rid("ann"), rid("bob")]),
                                     created_by="lee").id,
            "pair": A.create_campaign(s, "e2e pair", rubric="default@1", spec=A.CampaignSpec(kind="compare"),
                                  units=A.units_from_dataset(s, "clean", kind="compare"), created_by="lee").id,
            "rank": A.create_campaign(s, "e2e rank", rubric="default@1", spec=A.CampaignSpec(kind="rank"),
                                      units=A.units_from_dataset(s, "rank3", kind="rank"), created_by="lee").id,
            "skip": A.create_campaign(s, "e2e skip", rubric="default@1", units=A.units_from_dataset(s, "clean"),
                                      spec=A.CampaignSpec(raters=[rid("ann")]), created_by="lee").id,
            "md": A.create_campaign(s, "markdown", rubric="default@1", units=A.units_from_dataset(s, "md"),
                                    created_by="lee").id,
            "md_chat": A.create_campaign(s, "markdown chat", rubric="default@1",
                                         units=A.units_from_dataset(s, "md-chat"), created_by="lee").id,
        }
        md_unit = A.units_from_dataset(s, "md")[0]
        cal = A.create_campaign(s, "markdown gold", rubric="default@1", units=[],
                                spec=A.CampaignSpec(calibration=True, dimensions=["factuality"]), created_by="lee",
                                gold=[A.Gold(response_ids=tuple(md_unit), explanation=MD_ALL,
                                             values={"factuality": 1})])
        asg = A.next_assignment(s, cal, rid("bob"))
        A.submit(s, cal, asg, A.Answer(justification="why", values={"factuality": 1}))
        ids["md_feedback"] = asg.id
        # a justification, a flag note and a guideline clarification carrying the payloads too
        camp = s.get("campaigns", ids["xss"])
        for r in ("bob", "lee"):
            asg = A.next_assignment(s, camp, rid(r))
            A.submit(s, camp, asg, A.Answer(justification=ALL, values={d: 1 if r == "bob" else 5 for d in
                                            ("factuality", "coherence", "safety", "instruction-following",
                                             "creativity")}, flags=["ambiguous"], flag_note=ALL))
        case = A.edge_case_queue(s, campaign_id=ids["xss"])[0]
        A.collect_edge_cases(s, campaign_id=ids["xss"])
        A.resolve_edge_case(s, case.id, clarification=ALL + "\n\n" + MD_ALL, author="lee")
        ids.update(_redteam_and_library(s))
    url, proc = start_server(backend_url)
    yield url, backend_url, ids
    stop_server(proc)


def _redteam_and_library(s: Store) -> dict:
    """A judged attack whose goal and answer carry the payloads, and a library entry full of them."""
    from assay import library as L

    judge = R.Rater(id=R.Rater.make_id("llm", "xss-judge@1"), kind="llm", name="xss-judge@1")
    goal = R.Item(id="xss-behaviour", dataset="xss-behaviours", external_id="0", prompt=ALL)
    sent = R.Item(id="xss-attack", dataset="xss-attacks", external_id="0", prompt="[base64] " + ALL)
    resp = R.Response(id="xss-answer", item_id=sent.id, model="evil@1", text=ALL + "\n\n" + MD_ALL)
    s.add([R.Dataset(name="xss-behaviours"), R.Dataset(name="xss-attacks"), judge, goal, sent, resp,
           R.Attempt(id="xss-attempt", behavior_id=goal.id, model="evil@1", attack="base64", item_id=sent.id,
                     response_id=resp.id),
           R.Judgment(response_id=resp.id, rater_id=judge.id, rubric="redteam@1", dimension="jailbroken", value=1,
                      justification=ALL)])
    L.add_entry(s, "xss " + ALL, entry="xss-entry", description=ALL + "\n\n" + MD_ALL, hypothesis=ALL,
                tags=[PAYLOADS[1]], examples=[resp.id], created_by="lee")
    return {"xss_response": resp.id}


def test_xss_payloads_render_as_text_and_never_run(app, browser):
    base, _, ids = app
    ann = Watched(browser, base, "ann")
    page = ann.page
    page.goto(f"/c/{ids['xss']}/next")
    assert "/a/" in page.url
    body = page.inner_text("main")
    for p in PAYLOADS:
        assert p in body  # shown literally, as the rater must see it
    ann.assert_clean()
    page.goto("/")  # the campaign name carries a payload
    assert PAYLOADS[1] in page.inner_text("main")
    ann.assert_clean()
    page.goto(f"/c/{ids['xss_pair']}/next")
    assert page.locator(".response").count() == 2 and PAYLOADS[0] in page.inner_text("main")
    ann.assert_clean()
    page.goto(f"/c/{ids['xss']}/guidelines")  # a clarification with payloads is now guideline text
    assert PAYLOADS[4] in page.inner_text("#guideline-text")
    ann.assert_clean()
    ann.close()

    lee = Watched(browser, base, "lee")
    lee.page.goto(f"/lead/c/{ids['xss']}")  # justifications, flag notes, edge cases of others
    text = lee.page.inner_text("main")
    assert PAYLOADS[0] in text and PAYLOADS[5] in text
    lee.assert_clean()
    lee.page.goto("/lead")
    lee.assert_clean()
    lee.close()


def test_redteam_and_library_pages_never_run_payloads(app, browser):
    base, store_url, ids = app
    lee = Watched(browser, base, "lee")
    page = lee.page
    page.goto("/lead")
    page.click("#library-link")
    assert page.url.endswith("/lead/library") and PAYLOADS[0] in page.inner_text("#entries")
    lee.assert_clean()
    page.click('#entries tr[data-entry="xss-entry"] a')
    assert page.url.endswith("/lead/library/xss-entry")
    for where in ("#entry-title", "#entry-description", "#entry-hypothesis", "#examples"):
        assert PAYLOADS[4] in page.inner_text(where), where
    assert page.input_value('#edit-form textarea[name="title"]') == "xss " + ALL  # the form holds the raw text
    assert page.evaluate(DOM_PROBLEMS) == []
    lee.assert_clean()
    # a status change through the form, its note a payload too: version 2, shown in the history
    page.select_option('#status-form select[name="status"]', "confirmed")
    page.fill('#status-form input[name="note"]', PAYLOADS[1])
    with page.expect_navigation():
        page.click("#status-form button")
    assert page.inner_text("#saved") == "Saved version 2."
    assert PAYLOADS[1] in page.inner_text('#history tr[data-version="2"]')
    lee.assert_clean()
    page.goto("/lead/redteam")  # one judge: the rates straight away, and the attempt among the successes
    assert page.locator("#asr tbody tr").count() == 1 and page.inner_text("#asr td.asr") == "100%"
    assert PAYLOADS[0] in page.inner_text("#recent") and PAYLOADS[5] in page.inner_text("#recent")
    lee.assert_clean()
    page.click(f'#recent a[href="/lead/response/{ids["xss_response"]}"]')
    assert PAYLOADS[2] in page.inner_text("#response-text") and PAYLOADS[3] in page.inner_text("#attempts")
    page.locator("#raw-response summary").click()
    assert page.inner_text("#raw-response pre") == ALL + "\n\n" + MD_ALL
    assert page.evaluate(DOM_PROBLEMS) == []
    lee.assert_clean()
    lee.close()
    with Store(store_url, create=False) as s:
        from assay import library as L

        assert [v.status for v in L.history(s, "xss-entry")] == ["open", "confirmed"]


# what no Markdown may put on the page: handlers, script or data URLs, relative links, inline styles
DOM_PROBLEMS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll("main *")) {
    for (const a of el.attributes) {
      const v = a.value.replace(/\\s/g, "").toLowerCase();
      if (a.name.startsWith("on") || a.name === "style" || a.name === "srcdoc" || a.name === "src"
          || v.startsWith("javascript:") || v.startsWith("data:") || v.startsWith("vbscript:"))
        bad.push(el.tagName + " " + a.name + "=" + a.value);
    }
  }
  for (const a of document.querySelectorAll("main .md a")) {
    const href = a.getAttribute("href");
    if (href !== null && !/^(https?|mailto):/i.test(href)) bad.push("href " + href);
    if (a.getAttribute("rel") !== "noopener noreferrer nofollow") bad.push("rel " + a.getAttribute("rel"));
  }
  return bad;
}"""


def _markdown_is_rendered_and_safe(r: Watched) -> None:
    page = r.page
    md = page.locator("main .md").first
    assert md.locator("em").count() >= 1 and md.locator("strong").count() >= 1 and md.locator("table").count() == 1
    assert md.locator("code").first.inner_text() == "<img src=x onerror=window.__xss=21>"  # HTML in code: text
    # a code block keeps its whitespace
    assert md.locator("pre").inner_text() == "<script>window.__xss=28</script>\n    <b>indented</b>\n"
    text = md.inner_text()
    assert "raw <script>window.__xss=18</script> inside" in text  # raw HTML shown as text, never parsed
    assert "[image: remote]" in text and "[click me](javascript:window.__xss=10)" in text
    hrefs = md.evaluate("el => [...el.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
    assert hrefs == ["https://example.invalid/track.png", "https://example.invalid/ok", "https://example.invalid/ref",
                     "https://example.invalid"]
    assert page.evaluate(DOM_PROBLEMS) == []
    # every anchor without a usable href (dropped javascript:, data:, relative) does nothing when clicked
    dead = md.locator("a:not([href])")
    assert dead.count() == 2  # the data: image and the relative link
    here = page.url
    for i in range(dead.count()):
        dead.nth(i).click()
    assert page.url == here and len(r.ctx.pages) == 1
    r.assert_clean()


def test_markdown_renders_and_no_markdown_payload_runs(app, browser):
    base, _, ids = app
    ann = Watched(browser, base, "ann")
    page = ann.page
    page.goto(f"/c/{ids['md']}/next")
    assert "/a/" in page.url
    _markdown_is_rendered_and_safe(ann)
    # the prompt is Markdown too, and each response has its raw text one click away
    assert page.locator("#prompt-text strong").count() >= 1
    raw = page.locator("#raw-A pre")
    assert not raw.is_visible()
    page.locator("#raw-A summary").click()
    assert raw.is_visible() and raw.inner_text() == MD_ALL
    page.locator("#raw-prompt summary").click()
    assert page.locator("#raw-prompt pre").inner_text() == MD_ALL
    ann.assert_clean()
    # chat-style prompts: each message rendered
    page.goto(f"/c/{ids['md_chat']}/next")
    msgs = page.locator(".prompt .msg .md")
    assert msgs.count() == 2 and msgs.nth(1).locator("em").inner_text() == "there"
    assert page.evaluate(DOM_PROBLEMS) == []
    ann.assert_clean()
    # the guidelines, where a lead's clarification carried the payloads
    page.goto(f"/c/{ids['md']}/guidelines")
    assert page.locator("#guideline-text ol li").count() >= 7  # the default guidelines' numbered list
    assert page.evaluate(DOM_PROBLEMS) == []
    ann.assert_clean()
    ann.close()
    # calibration feedback: the gold explanation
    bob = Watched(browser, base, "bob")
    bob.page.goto(f"/a/{ids['md_feedback']}/feedback")
    assert bob.page.locator("#explanation table").count() == 1
    _markdown_is_rendered_and_safe(bob)
    bob.close()


def _rate_by_keyboard(browser, base: str, cid: str, name: str, levels: str, why: str) -> None:
    r = Watched(browser, base, name)
    page = r.page
    page.goto(f"/c/{cid}/next")
    assert page.locator("#shortcuts").is_visible()
    assert "Paris is the capital" in page.inner_text("main")
    for key in levels:
        page.keyboard.press(key)
    assert page.evaluate("document.activeElement.id") == "justification"  # focus moved on by itself
    page.keyboard.type(why)
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    assert page.locator("#finished").is_visible()
    r.assert_clean()
    r.close()


def test_two_raters_rate_by_keyboard_and_the_lead_sees_their_agreement(app, browser):
    base, store_url, ids = app
    cid = ids["e2e"]
    _rate_by_keyboard(browser, base, cid, "ann", "43542", "Accurate and clear, a bit plain.")
    _rate_by_keyboard(browser, base, cid, "bob", "43541", "Correct; nothing creative about it.")
    with Store(store_url, create=False) as s:
        judged = s.list("judgments", campaign_id=cid)
        got = {(j.rater_id, j.dimension): j.value for j in judged}
        in_force = s.get("campaigns", cid).guideline_version
    # version 2: the fixture's resolved edge case moved every open campaign on the rubric
    assert in_force == 2 and all(0 < j.time_spent_s < 120 and j.guideline_version == 2 for j in judged)
    dims = ["factuality", "coherence", "safety", "instruction-following", "creativity"]
    assert got == {**{(rid("ann"), d): float(v) for d, v in zip(dims, "43542")},
                   **{(rid("bob"), d): float(v) for d, v in zip(dims, "43541")}}
    lee = Watched(browser, base, "lee")
    lee.page.goto(f"/lead/c/{cid}")
    for who in ("ann", "bob"):
        row = lee.page.locator(f'#raters tr[data-rater="{rid(who)}"]')
        assert row.count() == 1
        assert row.locator("td.agree").inner_text() == "80%"  # 4 of 5 dimensions equal
    assert "Accurate and clear" in lee.page.inner_text("#disagreements")
    lee.assert_clean()
    lee.close()


def test_compare_by_keyboard_and_guidelines_one_key_away(app, browser):
    base, store_url, ids = app
    r = Watched(browser, base, "ann")
    page = r.page
    page.goto(f"/c/{ids['pair']}/next")
    aid = page.url.rsplit("/", 1)[1]
    with r.ctx.expect_page() as popup:
        page.keyboard.press("g")
    guide = popup.value
    guide.wait_for_load_state()
    assert "/guidelines" in guide.url and "How to rate" in guide.inner_text("main")
    guide.close()
    page.keyboard.press("b")
    page.keyboard.press("2")
    assert page.evaluate("document.activeElement.id") == "justification"
    page.keyboard.type("B names the capital correctly.")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    r.assert_clean()
    r.close()
    with Store(store_url, create=False) as s:
        asg = s.get("assignments", aid)
        (cmp,) = s.list("comparisons", assignment_id=aid)
    assert cmp.winner == asg.shown_order[1] and cmp.strength == 2 and cmp.shown_order == asg.shown_order


def test_rank_by_keyboard(app, browser):
    base, store_url, ids = app
    r = Watched(browser, base, "bob")
    page = r.page
    page.goto(f"/c/{ids['rank']}/next")
    aid = page.url.rsplit("/", 1)[1]
    for key in ("2", "1", "Backspace", "3", "1", "2"):  # a slip, start over, then 3 > 1 > 2
        page.keyboard.press(key)
    assert page.evaluate("document.activeElement.id") == "justification"
    page.keyboard.type("Only the third shown is prime.")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    r.assert_clean()
    r.close()
    with Store(store_url, create=False) as s:
        asg = s.get("assignments", aid)
        (cmp,) = s.list("comparisons", assignment_id=aid)
    a, b, c = asg.shown_order
    assert cmp.ranking == [c, a, b] and cmp.winner == c


def test_skip_by_keyboard(app, browser):
    base, store_url, ids = app
    cid = ids["skip"]
    r = Watched(browser, base, "ann")
    page = r.page
    page.goto(f"/c/{cid}/next")
    first = page.url.rsplit("/", 1)[1]
    assert "skip" in page.inner_text("#shortcuts")
    page.keyboard.press("s")
    assert page.evaluate("document.activeElement.id") == "skip_reason"
    page.keyboard.press("Escape")  # second thoughts: leave the box, nothing happens
    assert page.evaluate("document.activeElement.id") != "skip_reason" and page.url.endswith(first)
    page.keyboard.press("s")
    page.keyboard.type("Not my language")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    second = page.url.rsplit("/", 1)[1]
    assert "/a/" in page.url and second != first  # straight on to the next item
    page.keyboard.press("s")  # no reason this time, and Ctrl+Enter from the box skips too
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    assert page.locator("#finished").is_visible()
    r.assert_clean()
    r.close()
    with Store(store_url, create=False) as s:
        from assay.store import rating as S

        got = {k["assignment_id"]: k["reason"] for k in S.skips(s, cid)}
        assert {a: s.get("assignments", a).status for a in (first, second)} == {first: "skipped", second: "skipped"}
        assert s.count("judgments", campaign_id=cid) == 0
    assert got == {first: "Not my language", second: ""}
