"""JavaScript and TypeScript in responses scanned by a real njsscan: the labelled samples give their CWE ids at their
lines and the clean ones nothing, from one run of njsscan for the whole set; `assay redteam scan-code` stores the
findings on SQLite and PostgreSQL with one njsscan run per scan (none on a rerun); without njsscan, Python is still
scanned and the JavaScript is reported as not scanned.

njsscan runs from its own virtualenv (scripts/install-njsscan, run by scripts/test; its pins clash with assay's).
Where it is not installed the tests that need it skip, and fail under CI=true.
"""

from __future__ import annotations

import json
import os
import stat
from importlib import resources

import pytest

from assay import records as R
from assay.cli import main
from assay.redteam.code import scan_response, scan_responses
from assay.redteam.njsscan import find_njsscan
from tests.conftest import skip_or_fail


def _samples() -> list[dict]:
    text = resources.files("assay.data").joinpath("insecure", "code_samples.jsonl").read_text()
    return [s for s in map(json.loads, filter(str.strip, text.splitlines())) if s.get("analyser") == "njsscan"]


JS = _samples()
BROKEN = "Try this:\n\n```js\nconst x = ;;; {{{\n```\n"


def expected(sample: dict) -> list[tuple[str, int]]:
    """The sample's known issues as (CWE, line of the response), the line found from the labelled statement."""
    lines = sample["text"].split("\n")
    return sorted((e["cwe"], next(k + 1 for k, line in enumerate(lines) if e["at"] in line)) for e in sample["expected"])


def _njsscan() -> str:
    exe, why = find_njsscan()
    if exe is None:
        skip_or_fail(f"{why} (the JavaScript scanning tests need it)")
    return exe


@pytest.fixture(scope="module")
def scanned():
    """Every labelled JavaScript sample and a block that does not parse, scanned in one run of njsscan."""
    _njsscan()
    return dict(zip([s["id"] for s in JS] + ["broken"], scan_responses([s["text"] for s in JS] + [BROKEN])))


def test_the_labelled_set_is_big_enough():
    assert len([s for s in JS if s["expected"]]) >= 15 and len([s for s in JS if not s["expected"]]) >= 8


def test_labelled_js_samples_give_their_cwe_at_their_line_and_clean_ones_none(scanned):
    wrong = {}
    for s in JS:
        got = sorted((f.cwe, f.line) for f in scanned[s["id"]]["findings"])
        if got != expected(s):
            wrong[s["id"]] = (got, expected(s))
    assert not wrong
    assert all(not r["not_scanned"] and not r["unparsed"] for k, r in scanned.items() if k != "broken")


def test_findings_carry_the_analyser_rule_severity_and_position(scanned):
    (f,) = scanned["js-md5"]["findings"]
    assert (f.analyser, f.rule, f.cwe, f.severity, f.confidence, f.language) == (
        "njsscan", "node_md5", "CWE-327", "medium", None, "javascript")
    assert (f.block, f.block_line, f.line, f.column) == (0, 4, 7, 9)  # `crypto.createHash` starts at column 9
    (e,) = scanned["js-eval-query"]["findings"]
    assert (e.rule, e.severity) == ("eval_nodejs", "high")
    (t,) = scanned["ts-md5"]["findings"]
    assert t.language == "typescript" and scanned["ts-md5"]["blocks"][0]["analyser"] == "njsscan"
    py, js = sorted(scanned["js-and-python"]["findings"], key=lambda x: x.line)
    assert (py.analyser, py.cwe, js.analyser, js.cwe, js.block) == ("bandit", "CWE-78", "njsscan", "CWE-327", 1)
    broken = scanned["broken"]
    assert broken["unparsed"] == [0] and broken["findings"] == [] and "Syntax error" in broken["blocks"][0]["error"]


def _counting(tmp_path, exe: str):
    """An njsscan that logs each run to a file, then runs the real one."""
    log = tmp_path / "runs.log"
    wrapper = tmp_path / "njsscan"
    wrapper.write_text(f'#!/bin/sh\necho run >> "{log}"\nPATH="{os.path.dirname(exe)}:$PATH" exec "{exe}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper, lambda: len(log.read_text().splitlines()) if log.exists() else 0


def _import(store_url, tmp_path, samples):
    rows = [{"id": s["id"], "prompt": f"task {s['id']}", "response": s["text"], "model": "a@1"} for s in samples]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["--db", store_url, "import", str(path), "--dataset", "js"]) == 0


def test_scan_code_runs_njsscan_once_and_stores_findings(store, store_url, tmp_path, capsys, monkeypatch):
    wrapper, runs = _counting(tmp_path, _njsscan())
    monkeypatch.setenv("ASSAY_NJSSCAN", str(wrapper))
    samples = [s for s in JS if s["id"] in {"js-md5", "js-exec-concat", "js-and-python", "ts-md5", "js-clean-sha256",
                                            "js-unfenced-sha1", "js-clean-textcontent"}]
    _import(store_url, tmp_path, samples)
    capsys.readouterr()
    assert main(["--db", store_url, "redteam", "scan-code", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert runs() - 1 == 1  # `--version` for the rater's version, then one scan for every block of every response
    assert out["status"] == "done" and out["failed"] == 0 and out["not_scanned"] == []
    assert out["labels"] == {"clean": 2, "insecure": 5}
    rater = store.get(R.Rater, out["rater"])
    assert rater.program_version.endswith("+njsscan1.0.2")
    js = store.list(R.Judgment, rater_id=rater.id, dimension="code_finding")
    by_text = {r.id: r.text for r in store.iter(R.Response, model="a@1")}
    assert sorted((by_text[j.response_id], j.label, j.detail["line"]) for j in js) == sorted(
        (s["text"], cwe, line) for s in samples for cwe, line in expected(s))
    j = next(j for j in js if j.detail["rule"] == "node_md5")
    assert j.value == 2.0 and j.justification.startswith("njsscan node_md5 (medium severity) at line")
    # a rerun is the same run: nothing left to judge, so njsscan does not run again
    before = store.count("judgments")
    assert main(["--db", store_url, "redteam", "scan-code", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == out["run"] and store.count("judgments") == before
    assert runs() == 2
    assert main(["--db", store_url, "redteam", "insecure", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["hits"] == 5 and row["n"] == 7 and {t["id"] for t in row["top"]} >= {"CWE-327", "CWE-78"}


def test_without_njsscan_python_is_scanned_and_javascript_reported(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ASSAY_NJSSCAN", raising=False)
    monkeypatch.setenv("ASSAY_NJSSCAN_VENV", str(tmp_path / "no-venv"))
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                                if p and not os.path.exists(os.path.join(p, "njsscan"))))
    res = scan_response(next(s for s in JS if s["id"] == "js-and-python")["text"])
    assert [(f.analyser, f.cwe) for f in res["findings"]] == [("bandit", "CWE-78")]
    assert res["not_scanned"] == [1]
    assert res["blocks"][1]["not_scanned"] == "njsscan not installed: run scripts/install-njsscan"
    db = f"sqlite:///{tmp_path / 'a.db'}"
    _import(db, tmp_path, [s for s in JS if s["id"] in {"js-and-python", "js-md5", "js-clean-sha256"}])
    capsys.readouterr()
    assert main(["--db", db, "redteam", "scan-code"]) == 0
    text = capsys.readouterr().out
    assert "3 JavaScript/TypeScript block(s) not scanned (njsscan not installed: run scripts/install-njsscan)" in text
    assert "1 findings" in text
    monkeypatch.setenv("ASSAY_NJSSCAN", str(tmp_path / "missing"))
    res = scan_response("```js\nconst a = Math.random();\n```")
    assert res["not_scanned"] == [0] and "ASSAY_NJSSCAN=" in res["blocks"][0]["not_scanned"]


def test_verify_insecure_code_runs_njsscan_once_for_all_responses(store, store_url, tmp_path, capsys, monkeypatch):
    """`assay verify --verifier insecure_code` scans the JavaScript of every pending response in one njsscan run
    (about 6 s each otherwise), with the same verdicts as scanning them one by one; a rerun scans nothing."""
    wrapper, runs = _counting(tmp_path, _njsscan())
    monkeypatch.setenv("ASSAY_NJSSCAN", str(wrapper))
    samples = [s for s in JS if s["id"] in {"js-md5", "js-exec-concat", "ts-md5", "js-clean-sha256",
                                            "js-clean-textcontent"}]
    _import(store_url, tmp_path, samples)
    capsys.readouterr()
    assert main(["--db", store_url, "verify", "--verifier", "insecure_code", "--models", "a@1"]) == 0
    capsys.readouterr()
    assert runs() - 1 == 1  # `--version` for the rater's version, then one scan for the five responses
    by_text = {r.id: r.text for r in store.iter(R.Response, model="a@1")}
    js = [j for j in store.list(R.Judgment) if j.rubric != "insecure-output@1"]
    failed = sorted(by_text[j.response_id] for j in js if j.value == 0)
    assert len(js) == 5 and failed == sorted(s["text"] for s in samples if s["expected"])
    assert main(["--db", store_url, "verify", "--verifier", "insecure_code", "--models", "a@1"]) == 0
    assert runs() == 2 and len([j for j in store.list(R.Judgment) if j.rubric != "insecure-output@1"]) == 5
