"""Around a command's runs: the plan shown before the first call (asked about when large), and a Ctrl-C told honestly.

    with RunGuard(store, yes=yes, dry_run=dry_run, json_out=json_out) as guard:
        run = generate(..., on_plan=guard.approve, on_start=guard.started, ...)

``approve`` prints the plan (``assay.runs.plan``) on stderr; with ``--dry-run`` it stops
the command there (exit 0); on a terminal, a plan above ``ASSAY_CONFIRM_CALLS`` calls
(default 1000) or ``ASSAY_CONFIRM_USD`` dollars (default 1) asks first, unless ``--yes``.
Without a terminal (CI, pipes) it never waits. A Ctrl-C inside the guard prints one line,
how many units of the started runs are finished and saved, and exits 130.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from assay.cli._app import emit_json, err_console, progress, wants_json

CONFIRM_CALLS_ENV = "ASSAY_CONFIRM_CALLS"
CONFIRM_USD_ENV = "ASSAY_CONFIRM_USD"


def _threshold(env: str, default: float) -> float:
    from assay.errors import BadInput

    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise BadInput(f"{raw!r} is not a number", field=env) from None


def plan_lines(plan: Any) -> list[str]:
    """The plan in two lines, each starting "plan:": the calls, then the estimated tokens and cost."""
    bound = "at most " if plan.at_most else ""
    models = ", ".join(sorted(plan.models)) or "no model"
    skipped = []
    if plan.done:
        skipped.append(f"{plan.done:,} of {plan.units:,} units already done")
    if plan.cached:
        skipped.append(f"{plan.cached:,} calls answered from the cache")
    first = f"plan: {bound}{plan.calls:,} calls to {models}" + (f" ({'; '.join(skipped)})" if skipped else "")
    cost = plan.cost_usd
    money = "cost unknown" if cost is None else f"about ${cost:,.2f}"
    if plan.unpriced and plan.calls:
        money += f" ({'no price for ' + ', '.join(plan.unpriced)}: give --price-in/--price-out)"
    second = (f"plan: about {plan.prompt_tokens:,} prompt + {bound}{plan.completion_tokens:,} completion tokens "
              f"(prompt characters / 4; completions at max_tokens, else 256 each); {money}")
    return [first, second] if plan.calls else [first]


def too_large(plan: Any) -> bool:
    """Whether a plan is above the thresholds that make a terminal ask first."""
    calls = _threshold(CONFIRM_CALLS_ENV, 1000)
    usd = _threshold(CONFIRM_USD_ENV, 1.0)
    cost = plan.cost_usd
    return plan.calls > calls or (cost is not None and cost > usd)


@contextlib.contextmanager
def on_interrupt(line: Callable[[], str]) -> Iterator[None]:
    """Turn a Ctrl-C inside the block into ``line()`` on stderr and exit code 130."""
    try:
        yield
    except BaseException as e:
        if not is_interrupt(e):
            raise
        err_console.print(line(), highlight=False, soft_wrap=True)
        raise SystemExit(130) from None


def is_interrupt(e: BaseException | None) -> bool:
    """A Ctrl-C, or an error raised because of one (a KeyboardInterrupt inside an import or a
    class body comes out wrapped, e.g. numpy's ``RuntimeError: Error calling __set_name__``)."""
    seen = 0
    while e is not None and seen < 20:
        if isinstance(e, KeyboardInterrupt):
            return True
        if isinstance(e, SystemExit):
            return False
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


class RunGuard:
    """A command's runs: their plan first, a progress bar once they start, what a Ctrl-C left."""

    def __init__(self, store: Any, *, yes: bool = False, dry_run: bool = False, json_out: bool = False,
                 counts_units: bool = True) -> None:
        self.store = store
        self.counts_units = counts_units  # False: the runs do not report their start, a Ctrl-C cannot count them
        self.yes, self.dry_run, self.json_out = yes, dry_run, json_out
        self.runs: dict[str, int] = {}
        self.bar = progress()
        self._shown = False

    def __enter__(self) -> RunGuard:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, *_: Any) -> None:
        self._stop()
        if kind is not None and is_interrupt(error):
            err_console.print(self.interrupted_line(), highlight=False, soft_wrap=True)
            raise SystemExit(130) from None

    def _stop(self) -> None:
        if self._shown:
            self.bar.stop()
            self._shown = False

    # ---- before the first call ---------------------------------------------------------------

    def approve(self, plan: Any) -> None:
        """Show the plan; stop here on --dry-run; on a terminal, ask before a large one (unless --yes)."""
        import click

        for line in plan_lines(plan):
            err_console.print(line, highlight=False, soft_wrap=True)
        if self.dry_run:
            if wants_json(self.json_out):
                emit_json({"plan": plan.as_dict()})
            raise SystemExit(0)
        if self.yes or not plan.calls or not sys.stdin.isatty() or not too_large(plan):
            return
        if not click.confirm("start it?", default=False, err=True):
            err_console.print("not started: nothing was sent", highlight=False)
            raise SystemExit(1)

    # ---- while it runs -------------------------------------------------------------------------

    def started(self, run_id: str, total: int) -> None:
        """A run starts (``on_start``): count it, show the progress bar."""
        self.runs[run_id] = total
        if not self._shown:
            self.bar.start()
            self._shown = True

    def interrupted_line(self) -> str:
        from assay.store.ledger import Ledger

        self._stop()
        if not self.counts_units:
            return "interrupted: the calls that finished are saved; run the same command again to finish the rest"
        if not self.runs:
            return "interrupted before any call was sent; the same command starts again"
        ledger = Ledger(self.store)
        done = sum(len(ledger.done_keys(run_id)) for run_id in self.runs)
        total = sum(self.runs.values())
        return (f"interrupted: {done:,} of {total:,} units are finished and saved; "
                "run the same command again to finish the rest")
