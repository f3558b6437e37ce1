"""`assay report` over a store where some statistics have no interval or no value at all.

The store is built the way a user builds it: responses imported, a judge panel and a judge
asked three times per answer (`--samples 3`) run through `assay judge` against a real local
model server, and one human rater on one dimension only. The panel agrees perfectly on
factuality, so several ICCs have an estimate of 1 and no interval (their F-based bounds
divide by zero); every judge gives the same coherence grade, so alpha, kappa and the ICCs
are undefined there; safety has a single rater, so it has no agreement at all.
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from assay.cli import main
from assay.testing import ScriptedServer
from tests.judges.scripted_judges import nonce_of
from tests.sessions import session


def _judge(body: dict) -> str:
    """A grader: 5 for an answer naming Paris, else 1, on factuality; always 4 on coherence."""
    text = next(m["content"] for m in body["messages"] if m["role"] == "user")
    nonce = nonce_of(body)
    answer = text.split(f"<<<ANSWER {nonce}>>>\n")[1].split(f"\n<<<END ANSWER {nonce}>>>")[0]
    return (f"Checked.\nVERDICT {nonce} factuality: {5 if 'Paris' in answer else 1}\n"
            f"VERDICT {nonce} coherence: 4")


def _build(db: str, tmp_path: Path) -> None:
    from assay import records as R
    from assay.store import Store

    rows = [{"id": str(i), "prompt": f"Capital of France? ({i})", "response": r, "model": m}
            for i in range(6) for m, r in (("good@1", "Paris."), ("bad@1", "Lyon."))]
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["--db", db, "import", str(path), "--model-field", "model", "--dataset", "qa"]) == 0
    with ScriptedServer(handler=_judge, models=["j1", "j2", "k"]) as srv:
        common = ["--rubric", "default", "--base-url", srv.base_url, "--dimensions", "factuality,coherence"]
        assert main(["--db", db, "judge", "--panel", "j1@1,j2@1", *common]) == 0
        assert main(["--db", db, "judge", "--judge", "k@1", "--samples", "3", *common]) == 0
        assert len(srv.chat_requests) == 12 * 2 + 12 * 3  # two panel members once each, k three times
    store = Store(db)
    responses = sorted(store.list("responses"), key=lambda r: r.id)[:4]
    store.add([R.Rater(id="human:ann", kind="human", name="ann")])
    store.add([R.Judgment(id=f"ann-{r.id}", response_id=r.id, rater_id="human:ann", rubric="default@1",
                          dimension="safety", value=5.0 if "Paris" in r.text else 2.0) for r in responses])
    store.close()


def _row(html: str, coefficient: str, section: str) -> str:
    """The table row of one coefficient in one agreement section of the HTML report."""
    part = html.split(f"<h3>default@1 · {section}")[1].split("<h3>")[0]
    return re.search(rf"<tr><td>{re.escape(coefficient)}</td>(.*?)</tr>", part, re.S).group(1)


@pytest.mark.browser
def test_report_draws_what_exists_and_says_no_interval(tmp_path, capsys, store_url):
    _build(store_url, tmp_path)
    out = tmp_path / "r.json"
    assert main(["--db", store_url, "report", "--out", str(out), "--rounds", "50"]) == 0
    data = json.loads(out.read_text())
    sections = {s["dimension"]: s for s in data["agreement"]}
    coef = {c["coefficient"]: c for c in sections["factuality"]["coefficients"]}
    # the premise: ICCs with an estimate and no interval, and coefficients with no estimate
    no_interval = [n for n, c in coef.items() if c["estimate"] is not None and c["low"] is None]
    assert coef["ICC1"]["estimate"] == pytest.approx(1.0) and "ICC1" in no_interval
    assert coef["Krippendorff alpha (ordinal)"]["low"] is not None
    undefined = {c["coefficient"]: c["error"] for c in sections["coherence"]["coefficients"] if c["estimate"] is None}
    assert "Krippendorff alpha (ordinal)" in undefined and "ICC2" in undefined
    assert sections["safety"]["error"] == "no unit was rated by two raters" and sections["safety"]["raters"] == 1
    assert sections["factuality"]["rater_names"] == "j1@1, j2@1, k@1, panel(j1@1+j2@1) (llm)"

    html_path = tmp_path / "r.html"
    assert main(["--db", store_url, "report", "--out", str(html_path), "--rounds", "50"]) == 0
    html = html_path.read_text()
    for name in no_interval:
        assert re.fullmatch(r'\s*<td class="num">1\.000</td><td class="num">no interval</td>.*', _row(html, name,
                            "factuality"), re.S), name
    assert "[1.000, 1.000]" in _row(html, "Krippendorff alpha (ordinal)", "factuality")
    for name, reason in undefined.items():
        assert f"undefined: {reason}" in unescape(_row(html, name, "coherence"))
    assert "no unit was rated by two raters" in html.split("<h3>default@1 · safety")[1].split("</section>")[0]
    assert "Raters: j1@1, j2@1, k@1, panel(j1@1+j2@1) (llm)" in html

    md_path = tmp_path / "r.md"
    assert main(["--db", store_url, "report", "--out", str(md_path), "--rounds", "50"]) == 0
    md = md_path.read_text()
    assert "| default@1 · coherence | 12 | 4: j1@1, j2@1, k@1, panel(j1@1+j2@1) (llm) | — | undefined: " \
           f"{undefined['Krippendorff alpha (ordinal)']} |" in md
    assert "| default@1 · safety | 0 | 1 | — | no unit was rated by two raters |" in md

    from tests.report.test_report import _browser_check

    check = _browser_check(html_path, tmp_path / "r.png")
    assert check["errors"] == [] and check["drawn"] == check["plots"] >= 3


@pytest.mark.browser
def test_the_agreement_figure_marks_the_points_without_an_interval(tmp_path, capsys):
    """In Chromium, the agreement plot writes "no interval" beside each ICC that has none."""
    from playwright.sync_api import sync_playwright

    from tests.report.test_report import ARGS, CHROMIUM

    db = str(tmp_path / "a.db")
    _build(db, tmp_path)
    html_path = tmp_path / "r.html"
    assert main(["--db", db, "report", "--out", str(html_path), "--rounds", "50"]) == 0
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(html_path.resolve().as_uri())
        page.wait_for_function("document.querySelectorAll('#agreement .js-plotly-plot .main-svg').length > 0")
        labels = page.evaluate("""() => [...document.querySelectorAll('#agreement .js-plotly-plot .textpoint')]
            .map(t => t.textContent).filter(t => t)""")
        ticks = page.evaluate("""() => [...document.querySelectorAll('#agreement .js-plotly-plot .ytick')]
            .map(t => t.textContent)""")
        browser.close()
    # ICC1, ICC2, ICC3 and ICC2k of the perfectly agreeing panel; coherence's undefined ones are not drawn
    assert labels == ["no interval"] * 4
    assert "default@1 · factuality · ICC1" in ticks and "default@1 · coherence · ICC1" not in ticks
    assert "default@1 · coherence · percent agreement" in ticks


BOUNDS = {"low", "high", "ci_low", "ci_high", "lower", "upper"}


def _strip(obj, counter: list[int]):
    """Every interval bound gone; every other agreement estimate not a number (as a NaN estimate arrives)."""
    if isinstance(obj, dict):
        out = {k: (None if k in BOUNDS else _strip(v, counter)) for k, v in obj.items()}
        if "coefficient" in out and out.get("estimate") is not None:
            counter[0] += 1
            if counter[0] % 2 == 0:
                out["estimate"] = float("nan")
        return out
    if isinstance(obj, list):
        return [_strip(v, counter) for v in obj]
    return obj


@pytest.mark.browser
def test_every_section_renders_with_no_interval_anywhere(tmp_path, capsys, store_url):
    """Agreement, leaderboards, A/B test, red team and failure library, all with their intervals removed."""
    from assay.library import add_entry, edit_entry
    from assay.redteam import detect_refusals, import_jailbreakbench, import_xstest
    from assay.analysis.options import Options
    from assay.report import build_report, to_html, to_markdown
    from assay.store import Store
    from tests.redteam._data import JBB, completions
    from tests.report.test_report import _browser_check

    _build(store_url, tmp_path)
    store = Store(store_url)
    import_jailbreakbench(store, JBB / "PAIR-gpt-4-0125-preview.json")
    import_xstest(store, completions("gpt4"))
    detect_refusals(session(store), dataset="xstest")
    add_entry(store, "Echoes markup", entry="echoes", severity="high")
    edit_entry(store, "echoes", status="confirmed",
               evidence={"last_check": {"model": "good@1", "n": 20, "failures": 5, "rate": 0.25}})
    report = build_report(store, options=Options(rounds=20))
    store.close()
    assert report["redteam"]["tables"] and report["refusals"]["raters"] and report["abtest"].get("data")
    stripped = _strip(report, [0])

    html = to_html(stripped)
    sections = dict(re.findall(r'<section id="(\w+)">(.*?)</section>', html, re.S))
    for name in ("agreement", "leaderboard", "abtest", "redteam", "library"):
        assert "no interval" in sections[name], name
    assert "undefined: the estimate is not a number" in sections["agreement"]
    md = to_markdown(stripped)
    assert "no interval" in md and "undefined: the estimate is not a number" in md
    (tmp_path / "s.html").write_text(html)
    check = _browser_check(tmp_path / "s.html", tmp_path / "s.png")
    assert check["errors"] == [] and check["drawn"] == check["plots"] >= 5
