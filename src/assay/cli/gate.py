"""`assay gate CONFIG.yaml`: check a list of conditions on the store; exit 1 when any is not met (for CI)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from assay.cli._app import G, JsonOpt, app, emit_json, err_console, wants_json


@app.command("gate")
def gate(
    config: Annotated[Path, typer.Argument(help="YAML file with 'conditions:': non-inferiority, ifeval, "
                                                "attack-success, judge-kappa checks.")],
    junit: Annotated[Path | None, typer.Option("--junit", help="Also write JUnit XML here, one testcase per "
                                                               "condition.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check every condition of CONFIG; print a Markdown summary (and append it to $GITHUB_STEP_SUMMARY when set).

    Exits 0 when all are met, 1 when any fails or cannot be computed, 2 for a bad CONFIG.
    """
    from assay.gate import junit as to_junit
    from assay.gate import load, markdown, run

    conf = load(config)  # a bad file stops here, before the store is opened
    outcomes = run(G.store(), conf)
    summary = markdown(outcomes)
    if junit is not None:
        junit.write_bytes(to_junit(outcomes))
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as f:
            f.write(summary)
    if wants_json(json_out):
        emit_json({"passed": all(o.passed for o in outcomes),
                   "conditions": [{"name": o.condition.name, "check": o.condition.check, "status": o.status,
                                   "summary": o.summary, "rows": o.rows, "line": o.condition.line}
                                  for o in outcomes]})
    else:
        sys.stdout.write(summary)
        sys.stdout.flush()
    bad = [o for o in outcomes if not o.passed]
    if bad:
        err_console.print(f"gate failed: {len(bad)} of {len(outcomes)} conditions not met", highlight=False)
        raise typer.Exit(1)
