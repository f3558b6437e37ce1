"""The report's curation section: each curation run, what every step removed or changed, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay import records as R

if TYPE_CHECKING:
    from assay.store import Store

EXAMPLES = 3  # reasons shown per step


def curation_section(store: Store, models: Any = None) -> list[dict[str, Any]]:
    """One row per curation run (newest first): source, target, kept of total, and per step the counts
    and the first few reasons from the curation log. ``models`` is ignored: curation acts on items."""
    out = []
    runs = sorted((r for r in store.iter(R.Run) if r.kind == "curate"), key=lambda r: r.started_at, reverse=True)
    for run in runs:
        counts = run.config.get("counts") or {}
        log = store.list(R.CurationLog, run_id=run.id)
        steps = []
        for s in counts.get("steps", []):
            rows = [x for x in log if x.step == s["step"]]
            steps.append({"step": s.get("label") or s["step"], "removed": s.get("removed", 0),
                          "modified": s.get("modified", 0), "examples": [x.reason for x in rows[:EXAMPLES]]})
        out.append({"run": run.id, "source": run.config.get("source"), "target": run.config.get("target"),
                    "total": run.total, "kept": counts.get("kept", run.succeeded), "status": run.status,
                    "carry_responses": bool(run.config.get("carry_responses")), "steps": steps,
                    "finished_at": run.finished_at.isoformat(timespec="seconds") if run.finished_at else None})
    return out
