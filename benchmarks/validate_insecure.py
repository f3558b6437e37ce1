"""Insecure outputs: bandit's findings on the labelled Python samples, njsscan's on the labelled JavaScript and
TypeScript samples (one run of njsscan for the whole set, repeated to time it), and the unsafe-rendering detector's
precision and recall on the labelled outputs (all bundled in assay/data/insecure).

    PYTHONPATH=src python3 benchmarks/validate_insecure.py [--batches 5]

njsscan comes from scripts/install-njsscan (or $ASSAY_NJSSCAN); without it the JavaScript part says so and is skipped.

Code: a finding is right when its CWE id and response line equal a labelled issue (the line is where the labelled
statement is, found by text, not by bandit). Rendering: a response is called unsafe when any rule fires; the
"dev" outputs were written with the rules, the "heldout" ones after them (since then only two parsing fixes, which change no figure).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from importlib import resources

from assay.redteam.code import scan_response, scan_responses
from assay.redteam.njsscan import find_njsscan, njsscan_version
from assay.redteam.rendering import unsafe_rendering_findings
from assay.stats.proportions import wilson_interval


def load(name: str) -> list[dict]:
    text = resources.files("assay.data").joinpath("insecure", name).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _score(rows: list[dict], results: list[dict]) -> tuple[int, int, int, int]:
    tp = fp = fn = clean_flagged = 0
    for s, res in zip(rows, results):
        lines = s["text"].split("\n")
        want = Counter((e["cwe"], next(k + 1 for k, x in enumerate(lines) if e["at"] in x)) for e in s["expected"])
        got = Counter((f.cwe, f.line) for f in res["findings"])
        tp += sum((want & got).values())
        fp += sum((got - want).values())
        fn += sum((want - got).values())
        clean_flagged += (not s["expected"]) and bool(got)
    return tp, fp, fn, clean_flagged


def _print(what: str, rows: list[dict], scored: tuple[int, int, int, int]) -> None:
    tp, fp, fn, clean_flagged = scored
    clean = sum(1 for s in rows if not s["expected"])
    print(f"{what}: {len(rows)} ({len(rows) - clean} with known issues, {clean} clean)")
    print(f"  findings with the right CWE and line: {tp}; extra findings: {fp}; missed issues: {fn}")
    print(f"  clean samples with a finding: {clean_flagged} of {clean}")


def code(batches: int) -> None:
    rows = load("code_samples.jsonl")
    py = [s for s in rows if s.get("analyser") != "njsscan"]
    start = time.perf_counter()
    results = [scan_response(s["text"]) for s in py]
    took = time.perf_counter() - start
    _print("Python code samples (bandit)", py, _score(py, results))
    print(f"  scan time: {1000 * took / len(py):.1f} ms per response (bandit in-process)")

    js = [s for s in rows if s.get("analyser") == "njsscan"]
    exe, why = find_njsscan()
    if exe is None:
        print(f"JavaScript code samples: not scanned ({why})")
        return
    times, results = [], []
    for _ in range(batches):
        start = time.perf_counter()
        results = scan_responses([s["text"] for s in js])
        times.append(time.perf_counter() - start)
    blocks = sum(len(r["blocks"]) for r in results)
    _print(f"JavaScript/TypeScript code samples (njsscan {njsscan_version()}, with bandit on their Python)", js,
           _score(js, results))
    print(f"  one batch = {len(js)} responses, {blocks} blocks, one njsscan run: median {statistics.median(times):.2f} s "
          f"per batch over {batches} (min {min(times):.2f}, max {max(times):.2f})")


def rendering() -> None:
    rows = load("rendering_labelled.jsonl")
    for split in ("dev", "heldout", None):
        part = [r for r in rows if split is None or r["split"] == split]
        tp = fp = fn = tn = 0
        for r in part:
            hit = bool(unsafe_rendering_findings(r["text"]))
            tp += hit and r["unsafe"]
            fp += hit and not r["unsafe"]
            fn += (not hit) and r["unsafe"]
            tn += (not hit) and not r["unsafe"]
        p, rc = wilson_interval(tp, tp + fp), wilson_interval(tp, tp + fn)
        print(f"rendering outputs ({split or 'all'}): {len(part)} ({tp + fn} unsafe, {fp + tn} safe); "
              f"TP {tp} FP {fp} FN {fn} TN {tn}")
        print(f"  precision {p.rate:.3f} (95% Wilson {p.low:.3f}-{p.high:.3f}); recall {rc.rate:.3f} "
              f"({rc.low:.3f}-{rc.high:.3f})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=5, help="njsscan batches to time (the figures use the median)")
    code(ap.parse_args().batches)
    rendering()
