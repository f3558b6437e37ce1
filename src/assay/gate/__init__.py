"""A CI gate: conditions on what the store holds (non-inferiority, IFEval, attack success, judge-human kappa).

``run(store, load("gate.yaml"))`` checks every condition and gives one :class:`Outcome`
each; :func:`markdown` is the summary a CI job shows, :func:`junit` the JUnit XML that
GitHub Actions and GitLab read (one testcase per condition). `assay gate` exits 1 when any
condition failed or could not be computed.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from assay.errors import AssayError
from assay.gate.checks import CHECKERS, Outcome
from assay.gate.config import CHECKS, Condition, GateConfig, load
from assay.store import Store

__all__ = ["CHECKS", "Condition", "GateConfig", "Outcome", "junit", "load", "markdown", "run"]


def run(store: Store, config: GateConfig) -> list[Outcome]:
    """Check every condition; a condition that cannot be computed is an error, the others go on."""
    out = []
    for c in config.conditions:
        start = time.perf_counter()
        try:
            ok, summary, rows = CHECKERS[c.check](store, c.args)
            status = "passed" if ok else "failed"
        except AssayError as e:
            status, summary, rows = "error", str(e), []
        out.append(Outcome(c, status, summary, rows, seconds=time.perf_counter() - start))
    return out


_MARK = {"passed": "✅", "failed": "❌", "error": "⚠️"}


def _cell(v: object) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def markdown(outcomes: Sequence[Outcome], *, title: str = "assay gate") -> str:
    """The gate's result as Markdown: a line, a table of the conditions, then each condition's figures."""
    bad = [o for o in outcomes if not o.passed]
    head = f"## {title}: {'passed' if not bad else 'FAILED'}"
    lines = [head, "", f"{len(outcomes) - len(bad)} of {len(outcomes)} conditions met"
             + (f"; {len(bad)} not: {', '.join(o.condition.name for o in bad)}" if bad else "") + ".", "",
             "| | condition | result |", "|---|---|---|"]
    lines += [f"| {_MARK[o.status]} | {_cell(o.condition.name)} | {_cell(o.summary)} |" for o in outcomes]
    for o in outcomes:
        if not o.rows:
            continue
        cols = list(o.rows[0])
        lines += ["", f"<details><summary>{_MARK[o.status]} {_cell(o.condition.name)}</summary>", "",
                  "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(_cell(r.get(c, "")) for c in cols) + " |" for r in o.rows]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def junit(outcomes: Sequence[Outcome], *, name: str = "assay gate") -> bytes:
    """JUnit XML: one testsuite, one testcase per condition (a failure or an error where it did not pass)."""
    failures = sum(o.status == "failed" for o in outcomes)
    errors = sum(o.status == "error" for o in outcomes)
    total = f"{sum(o.seconds for o in outcomes):.3f}"
    counts = {"tests": str(len(outcomes)), "failures": str(failures), "errors": str(errors), "time": total}
    root = ET.Element("testsuites", name=name, **counts)
    suite = ET.SubElement(root, "testsuite", name=name, skipped="0", **counts)
    for o in outcomes:
        case = ET.SubElement(suite, "testcase", classname=f"assay.gate.{o.condition.check}", name=o.condition.name,
                             time=f"{o.seconds:.3f}")
        if o.status != "passed":
            el = ET.SubElement(case, "failure" if o.status == "failed" else "error", message=o.summary,
                               type=o.condition.check)
            el.text = "\n".join([o.summary, *("; ".join(f"{k}: {v}" for k, v in r.items()) for r in o.rows)])
        else:
            ET.SubElement(case, "system-out").text = o.summary
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
