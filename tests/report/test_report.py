"""`assay report` and `assay demo`: a self-contained HTML report that renders in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.cli import main

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def _browser_check(path: Path, shot: Path) -> dict:
    """Open the file offline in Chromium: console errors, plots drawn, a screenshot that is not blank."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        from tests.conftest import IN_CI

        if IN_CI:
            pytest.fail("CI=true but /usr/bin/chromium is missing")
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.resolve().as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        plots = page.locator(".js-plotly-plot").count()
        drawn = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].filter(
            p => p.querySelector('.main-svg') && p.getBoundingClientRect().height > 100).length""")
        marks = page.evaluate("document.querySelectorAll('.js-plotly-plot .point, .js-plotly-plot .hm, "
                              ".js-plotly-plot .box, .js-plotly-plot .bars').length")
        page.screenshot(path=str(shot), full_page=True)
        xss = page.evaluate("window.__xss === undefined")
        browser.close()
    from PIL import Image, ImageStat

    stat = ImageStat.Stat(Image.open(shot).convert("L"))
    return {"errors": errors, "plots": plots, "drawn": drawn, "marks": marks, "stddev": stat.stddev[0],
            "external": [u for u in requests if not u.startswith("file://")], "no_xss": xss}


@pytest.mark.browser
@pytest.mark.slow
def test_demo_builds_the_report_and_it_renders(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSAY_DATABASE_URL", raising=False)
    assert main(["demo", "--rounds", "100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    report = Path(out["report"])
    assert report == Path("assay-demo/report.html") and report.exists()
    # IFEval on GPT-4's published responses, through the verifiers (key 2785's prompt changed: 540 matched)
    assert out["verifiers"]["strict"]["prompts"] == 540
    assert out["verifiers"]["strict"]["prompt_followed"] in (415, 417)
    assert out["agreement"]["pandalm_humans_alpha"]["estimate"] == pytest.approx(0.8642, abs=1e-3)
    assert out["judge_run"] is None
    datasets = {d["dataset"]: d for d in out["summary"]["datasets"]}
    assert datasets["pandalm"]["responses"] == 1998 and datasets["hanna"]["responses"] == 1056
    assert datasets["ifeval"]["items"] == 541
    # red team: JailbreakBench's published ASRs from its own verdicts; XSTest's human labels beside the detector
    rt = out["redteam"]
    asr = {(r["model"].split("@")[0], r["attack"]): r for r in rt["asr"]}
    assert {k[0]: r["asr"] for k, r in asr.items() if k[1] == "PAIR"} == {
        "gpt-3.5-turbo-1106": 0.71, "gpt-4-0125-preview": 0.34, "llama-2-7b-chat-hf": 0.00, "vicuna-13b-v1.5": 0.69}
    assert all(r["asr"] == r["published"] and r["low"] <= r["asr"] <= r["high"] and r["n"] == 100
               for r in rt["asr"]) and len(rt["asr"]) == 6
    c = rt["compare"]
    assert (c["first_asr"], c["second_asr"], c["behaviors"]) == (0.34, 0.71, 100) and c["p_value"] < 1e-5
    over = {r["model"]: r for r in rt["over_refusal"]}
    assert len(over) == 5 and (over["llama2orig@xstest"]["humans"]["k"], over["llama2orig@xstest"]["humans"]["n"]) == (149, 250)
    assert over["gpt4@xstest"]["humans"]["k"] == 21 and all(r["detector"]["n"] == 250 for r in over.values())
    assert rt["detector"]["judged"] == 2250 and rt["kappa"]["n"] == 2250
    assert 0.5 < rt["kappa"]["three_labels"]["estimate"] < rt["kappa"]["refused_or_not"]["estimate"] < 1
    # people and a judge combined: PandaLM's pairs (40 of 107 with people's verdicts kept) and HANNA's prompts
    pand, hanna = out["judge_assisted"]
    win = pand["preferences"][0]
    assert (win["n"], win["N"], win["all_people"]["n"]) == (40, 67, 107) and pand["human_sample"] == 40
    assert win["ci_low"] < win["estimate"] < win["ci_high"] and 0 <= win["lam"] <= 1
    assert {d["dimension"] for d in hanna["dimensions"]} == {"coherence", "complexity", "empathy", "engagement",
                                                            "relevance", "surprise"}
    assert all((d["n"], d["N"], d["all_people"]["n"]) == (30, 66, 96) for d in hanna["dimensions"])
    html = report.read_text()
    assert html.count("People and judge combined (PPI++)") == 2
    assert 'id="redteam"' in html and "149/250" in html
    assert "No LLM judge has been run" not in html  # published verdicts exist (PandaLM, HANNA)
    assert "No LLM judge was run by this demo (no --base-url was given)" in html
    assert "gpt-3.5-turbo" in html
    _demo_names_its_raters_and_says_what_has_no_text(out, html, capsys)
    check = _browser_check(report, tmp_path / "demo.png")
    assert check["errors"] == [] and check["external"] == []
    assert check["plots"] >= 10 and check["drawn"] == check["plots"] and check["marks"] > 20
    assert check["stddev"] > 10  # not a blank page


def _demo_names_its_raters_and_says_what_has_no_text(out: dict, html: str, capsys) -> None:
    """The agreement figure says whom it covers; the report's lowest-scored responses are texts a reader can judge."""
    from assay.cli.core import _print_demo_findings
    from assay.store import Store

    agr = out["agreement"]
    assert agr["raters"] == ["pandalm-annotator1", "pandalm-annotator2", "pandalm-annotator3"]
    assert agr["left_out"] == ["gpt-3.5-turbo"]
    _print_demo_findings(out)
    printed = capsys.readouterr().out
    assert ("agreement of the 3 PandaLM annotators (pandalm-annotator1, pandalm-annotator2, pandalm-annotator3; "
            "gpt-3.5-turbo left out): Krippendorff alpha 0.864") in printed
    assert "Raters: pandalm-annotator1, pandalm-annotator2, pandalm-annotator3 (human); gpt-3.5-turbo (llm)" in html

    store = Store("assay-demo/assay.db")
    # only HANNA's prompts and stories come without their text (ATTRIBUTION.md says why), and say so
    hanna = {i.id for i in store.iter("items", dataset="hanna")}
    assert not [i.id for i in store.iter("items") if i.id not in hanna and
                ("not bundled" in i.prompt or not i.prompt.strip())]
    textless = [r for r in store.iter("responses") if r.metadata.get("text_available") is False]
    assert len(textless) == 1056 and {r.item_id for r in textless} == hanna
    assert all(r.text.startswith("[text not bundled]") for r in textless)
    store.close()
    lowest = html[html.index('<section id="lowest">'):html.index("</section>", html.index('<section id="lowest">'))]
    assert "not bundled" not in lowest
    assert "responses scored here are left out" in lowest  # every HANNA dimension says what it left out
    # the verifiers' dimension lists GPT-4's IFEval responses that failed, with the instructions they missed
    assert "gpt-4@2023-11-07" in lowest and lowest.count("<blockquote>Response: ") >= 5
    assert "not followed:" in lowest


def _timing(m: str, k: int) -> dict:
    """Model a was generated through assay, half of it streamed; model b's answers were imported (no timing)."""
    if m != "a":
        return {}
    return {"latency_ms": 100.0 + 10 * k, "ttft_ms": 20.0 + k if k % 2 == 0 else None,
            "completion_tokens": 50, "cost_usd": 0.001}


def _tiny_store(db: str) -> None:
    from assay import records as R
    from assay.rubrics import get_rubric
    from assay.store import Store

    s = Store(db)
    rub = get_rubric(s, "default")
    evil = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
    s.add([R.Dataset(name="d"), R.Model(id="a@1"), R.Model(id=f"b{evil}@2")])
    s.add([R.Item(id=f"i{k}", dataset="d", prompt=f"{evil} prompt {k}") for k in range(8)])
    resp = [R.Response(id=f"{m}{k}", item_id=f"i{k}", model=model, text=f"{evil} answer {k}", **_timing(m, k))
            for k in range(8) for m, model in (("a", "a@1"), ("b", f"b{evil}@2"))]
    s.add(resp)
    s.add([R.Rater(id=f"human:h{j}", kind="human", name=f"h{j}{evil}") for j in range(2)])
    s.add([R.Judgment(id=f"j{j}{r.id}", response_id=r.id, rater_id=f"human:h{j}", rubric=rub.id,
                      dimension="factuality", value=float(1 + (k + j) % 5), justification=f"{evil} because")
           for j in range(2) for k, r in enumerate(resp)])
    s.add([R.Comparison(id=f"c{j}{k}", item_id=f"i{k}", rater_id=f"human:h{j}", response_ids=[f"a{k}", f"b{k}"],
                        shown_order=[f"a{k}", f"b{k}"], winner=f"a{k}" if (k + j) % 3 else f"b{k}",
                        justification=evil) for j in range(2) for k in range(8)])
    s.close()


@pytest.mark.browser
def test_report_escapes_untrusted_text_and_says_when_no_judge_ran(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    _tiny_store(db)
    assert main(["--db", db, "report", "--out", str(tmp_path / "r.html"), "--rounds", "50"]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "<script>window.__xss" not in html and 'onerror="window' not in html
    assert "No LLM judge has been run on this store" in html
    check = _browser_check(tmp_path / "r.html", tmp_path / "r.png")
    assert check["no_xss"] and check["errors"] == [] and check["drawn"] == check["plots"] >= 4


def test_markdown_and_json_formats(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    _tiny_store(db)
    assert main(["--db", db, "report", "--out", str(tmp_path / "r.md"), "--rounds", "50"]) == 0
    md = (tmp_path / "r.md").read_text()
    assert md.startswith("## assay report") and "### Agreement" in md and "### Leaderboard" in md
    assert "<script>" not in md and "No LLM judge has been run" in md
    assert main(["--db", db, "report", "--out", str(tmp_path / "r.json"), "--rounds", "50"]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert {"agreement", "leaderboards", "abtest", "scores", "lowest", "judges"} <= set(data)
    assert data["abtest"]["model_a"] == "a@1"
    low = data["lowest"][0]["responses"][0]
    assert low["mean"] == min(r["mean"] for r in data["lowest"][0]["responses"])
    assert main(["--db", db, "report", "--out", str(tmp_path / "r.txt"), "--format", "pdf"]) == 2


def test_speed_and_cost_per_model(tmp_path, capsys):
    import numpy as np

    db = str(tmp_path / "r.db")
    _tiny_store(db)
    assert main(["--db", db, "report", "--out", str(tmp_path / "r.json"), "--rounds", "20"]) == 0
    (a,) = json.loads((tmp_path / "r.json").read_text())["speed"]  # b's imported answers carry no timing
    lat = np.array([100.0 + 10 * k for k in range(8)])
    ttft = np.array([20.0 + k for k in range(0, 8, 2)])
    assert (a["model"], a["responses"], a["timed"], a["streamed"]) == ("a@1", 8, 8, 4)
    assert a["latency_p50"] == pytest.approx(np.percentile(lat, 50))
    assert a["latency_p95"] == pytest.approx(np.percentile(lat, 95))
    assert (a["ttft_p50"], a["ttft_p95"]) == (pytest.approx(np.percentile(ttft, 50)), pytest.approx(np.percentile(ttft, 95)))
    assert a["tokens_per_s"] == pytest.approx(np.median(50 / (lat / 1000)))
    assert a["cost_usd"] == pytest.approx(0.008)
    assert main(["--db", db, "report", "--out", str(tmp_path / "r.md"), "--rounds", "20"]) == 0
    assert "### Speed and cost" in (tmp_path / "r.md").read_text()
    assert main(["--db", db, "report", "--out", str(tmp_path / "r.html"), "--rounds", "20"]) == 0
    html = (tmp_path / "r.html").read_text()
    assert 'id="speed"' in html and f"{np.percentile(lat, 50):.0f} ms" in html


def test_demo_with_a_judge_endpoint_runs_the_judge(tmp_path, monkeypatch, capsys):
    """`assay demo --base-url --judge` grades GPT-4's IFEval responses through the provider layer."""
    from assay.testing import ScriptedServer
    from tests.judges.scripted_judges import nonce_of

    dims = ["factuality", "coherence", "safety", "instruction-following", "creativity"]

    def judge(body):
        nonce = nonce_of(body)
        return "\n".join(f"Looks fine.\nVERDICT {nonce} {d}: 4" for d in dims)

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSAY_DATABASE_URL", raising=False)
    with ScriptedServer(handler=judge, models=["judge"]) as srv:
        code = main(["demo", "--rounds", "30", "--json", "--base-url", srv.base_url, "--judge", "judge@1"])
        out = json.loads(capsys.readouterr().out)
        assert code == 0
        run = out["judge_run"]
        assert (run["total"], run["succeeded"], run["failed"]) == (540, 540, 0)
        assert len(srv.chat_requests) == 540
    html = Path(out["report"]).read_text()
    assert "LLM judge run by this demo" in html and "No LLM judge was run" not in html
