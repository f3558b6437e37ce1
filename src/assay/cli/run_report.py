"""How a command shows a run of the engine: a progress bar fed by its callbacks, its one-line
summary, and its failed units. Shared by `generate`, `judge`, `verify` and the red-team commands."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from assay.cli._app import err_console

if TYPE_CHECKING:
    from assay.cli._runs import RunGuard
    from assay.store import Store

FAILED_FIELDS = ("unit_key", "error_kind", "error", "attempts")


class RunBar:
    """A progress bar fed by the run engine's callbacks (and the guard told when a run starts)."""

    def __init__(self, bar: Any, label: str, guard: RunGuard | None = None) -> None:
        self.bar, self.label, self.guard = bar, label, guard
        self.task = bar.add_task(label, total=None, rate="")
        self.t0 = time.monotonic()
        self.last = 0.0

    def start(self, run_id: str, total: int) -> None:
        if self.guard is not None:
            self.guard.started(run_id, total)
        self.bar.update(self.task, total=total, description=f"{self.label} (run {run_id[:8]})")

    def update(self, p: Any) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and p.completed < p.total:
            return
        self.last = now
        rate = (p.succeeded + p.failed) / max(now - self.t0, 1e-9)
        self.bar.update(self.task, completed=p.completed,
                        rate=f"{rate:,.1f}/s  {p.prompt_tokens + p.completion_tokens:,} tok  {p.cached} cached  {p.failed} failed")


def run_line(run: Any, *, did: str = "answered") -> str:
    """A run in one line: status, units (``did``: what a finished unit is called), failures by kind, tokens, cost."""
    errors = ", ".join(f"{k} {n}" for k, n in sorted(run.errors.items()))
    failed = f"{run.failed:,} failed ({errors})" if run.failed else "0 failed"
    return (f"run {run.id} {run.status}: {run.total:,} units, {run.succeeded:,} {did} ({run.cached:,} from cache), "
            f"{failed}; tokens {run.prompt_tokens:,} in / {run.completion_tokens:,} out; cost ${run.cost_usd:.4f}")


def failed_units(store: Store, run: Any, limit: int | None = 5) -> list[dict[str, Any]]:
    """The first ``limit`` failed units of a run (all with None): key, error kind, error, attempts."""
    from assay.store.ledger import Ledger

    rows = Ledger(store).units(run.id, status="failed", limit=limit) if run.failed else []
    return [{k: u[k] for k in FAILED_FIELDS} for u in rows]


def print_failures(failed: list[dict[str, Any]], run: Any) -> None:
    """The failed units shown, then how many failed and how to retry them (on stderr)."""
    for u in failed:
        err_console.print(f"  failed {u['unit_key']}: {u['error_kind']}: {u['error']}", highlight=False, soft_wrap=True)
    if run.failed:
        err_console.print(f"{run.failed} units failed; run the same command again to retry them "
                          f"(`assay runs --id {run.id[:12]}` lists all)", highlight=False)
