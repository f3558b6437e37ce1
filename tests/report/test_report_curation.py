"""The report's curation section: runs, per-step counts and reasons, escaped; absent without runs."""

from __future__ import annotations

from assay import records as R
from assay.curate import curate, parse_step
from assay.analysis.options import Options
from assay.report import build_report, to_html, to_markdown


def _raw(store):
    texts = ["The quick brown fox jumps over the lazy dog near the river bank today.",
             "The quick brown fox jumps over the lazy dog near the river bank today!",
             "   ", "Write to jane.doe@example.com about the <b>plan</b> for tomorrow morning, <script>alert(1)</script>."]
    store.add([R.Dataset(name="raw"), *[R.Item(id=f"i{k}", dataset="raw", external_id=str(k), prompt=t)
                                        for k, t in enumerate(texts)]])


def test_curation_section_lists_each_run_with_its_steps(store):
    assert not build_report(store, options=Options(rounds=10)).get("curation")
    _raw(store)
    curate(store, "raw", "clean <script>alert(2)</script>", [parse_step("empty"), parse_step("near-dup(threshold=0.8)"),
                                         parse_step("pii(mode=mask)")])
    report = build_report(store, options=Options(rounds=10))
    (c,) = report["curation"]
    assert (c["source"], c["target"], c["total"], c["kept"]) == ("raw", "clean <script>alert(2)</script>", 4, 2)
    by_step = {s["step"]: s for s in c["steps"]}
    assert (by_step["empty"]["removed"], by_step["near-dup"]["removed"], by_step["pii"]["modified"]) == (1, 1, 1)
    assert by_step["near-dup"]["examples"] == [x.reason for x in store.list("curation_log", step="near-dup")]
    html = to_html(report)
    assert 'id="curation"' in html and 'href="#curation"' in html
    assert "<script>alert(2)</script>" not in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    md = to_markdown(report)
    assert "### Curation" in md and "| near-dup | 1 | 0 |" in md
    assert c["run"] in html and c["run"] in md
