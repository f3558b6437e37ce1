"""The report's bias subsection (red-team section): the figures `bias results` and `bbq-results` give, escaped."""

from __future__ import annotations

from assay import records as R
from assay.analysis.options import Options
from assay.redteam.bbq import bbq_results, import_bbq, run_bbq
from assay.redteam.bias import bias_results, run_bias
from assay.redteam.options import RunOptions
from assay.redteam.detect import refusal
from assay.report import build_report, to_html, to_markdown
from assay.testing import ScriptedServer
from tests.redteam.test_bbq import FILES, answerer
from tests.sessions import session

EVIL = "<script>alert(1)</script>"


def handler(body):
    if body["model"] in ("mixed", "stereotyped"):
        return answerer(body)
    prompt = body["messages"][-1]["content"]
    return "I'm sorry, but I can't help with that." if "woman" in prompt else f"Fine: {EVIL} here you go."


def test_bias_subsection_matches_the_commands_and_escapes_text(store):
    assert build_report(store, options=Options(rounds=10)).get("bias") is None  # absent without data
    import_bbq(store, FILES[0])
    with ScriptedServer(handler=handler) as srv:
        s = session(store, backoff_base=0.01, max_retries=1)
        run_bias(s, R.Model(id="m@1", base_url=srv.base_url), attributes=["gender"],
                 options=RunOptions(judge=refusal()))
        run_bbq(s, R.Model(id="mixed@1", base_url=srv.base_url))
    report = build_report(store, options=Options(rounds=10))
    (cf,) = report["bias"]["counterfactual"]
    want = bias_results(store, "m@1", rater=cf["rater"], dimension=cf["dimension"])
    assert cf["attributes"] == want["attributes"] and cf["kind"] == "program"
    assert any(g["flagged"] for g in cf["attributes"][0]["gaps"])
    (bb,) = report["bias"]["bbq"]
    assert bb["rows"] == bbq_results(store, "mixed@1")["rows"]
    html = to_html(report)
    assert "Bias: counterfactual probes" in html and "Bias: BBQ" in html and 'href="#redteam"' in html
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = to_markdown(report)
    assert "### Bias" in md and "| gender | man | woman |" in md and "BBQ" in md
