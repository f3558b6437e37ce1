"""Insecure outputs: bandit's findings on the labelled code samples, and the unsafe-rendering detector's precision
and recall on the labelled outputs (both bundled in assay/data/insecure).

    PYTHONPATH=src python3 benchmarks/validate_insecure.py

Code: a finding is right when its CWE id and response line equal a labelled issue (the line is where the labelled
statement is, found by text, not by bandit). Rendering: a response is called unsafe when any rule fires; the
"dev" outputs were written with the rules, the "heldout" ones after them (since then only two parsing fixes, which change no figure).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from importlib import resources

from assay.redteam.code import scan_response
from assay.redteam.rendering import unsafe_rendering_findings
from assay.stats.proportions import wilson_interval


def load(name: str) -> list[dict]:
    text = resources.files("assay.data").joinpath("insecure", name).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def code() -> None:
    rows = load("code_samples.jsonl")
    tp = fp = fn = 0
    clean_flagged = 0
    start = time.perf_counter()
    for s in rows:
        lines = s["text"].split("\n")
        want = Counter((e["cwe"], next(k + 1 for k, x in enumerate(lines) if e["at"] in x)) for e in s["expected"])
        got = Counter((f.cwe, f.line) for f in scan_response(s["text"])["findings"])
        tp += sum((want & got).values())
        fp += sum((got - want).values())
        fn += sum((want - got).values())
        clean_flagged += (not s["expected"]) and bool(got)
    took = time.perf_counter() - start
    clean = sum(1 for s in rows if not s["expected"])
    print(f"code samples: {len(rows)} ({len(rows) - clean} with known issues, {clean} clean)")
    print(f"  findings with the right CWE and line: {tp}; extra findings: {fp}; missed issues: {fn}")
    print(f"  clean samples with a finding: {clean_flagged} of {clean}")
    print(f"  scan time: {1000 * took / len(rows):.1f} ms per response (bandit in-process)")


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
    code()
    rendering()
