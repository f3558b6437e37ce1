"""The command's boundary: whatever escapes a command becomes one line on stderr and an exit code.

Usage errors come from click, which typer (from 0.26) vendors as ``typer._click`` and older
typer imports as ``click``: both are recognised, so every typer the dependency range allows
prints click's usual usage error and exits 2.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assay.errors import BadInput

INTERRUPTED = "interrupted: finished work is saved; run the same command again to resume"

# A library error names the parameter at fault (``BadInput.param``); the CLI shows the flag that
# sets it: this one, unless the command says otherwise (``flags_for``).
PARAM_FLAGS = {
    "attacks": "--attack", "base_url": "--base-url", "by": "--by", "dataset": "--dataset",
    "dimension": "--dimension", "dimensions": "--dimensions", "distance_threshold": "--distance",
    "judge": "--judge", "label_map": "--label-map", "limit": "--limit", "min_size": "--min-size", "mitigated_below": "--mitigated-below",
    "model": "--model", "on": "--on", "per": "--per", "rater": "--rater", "rubric": "--rubric",
    "scorer": "--scorer", "streams": "--streams", "threshold": "--threshold", "turns": "--turns",
}


def as_flag(e: BadInput, flags: dict[str, str] | None = None) -> BadInput:
    """``e`` naming the CLI flag of the parameter it names (``flags`` first, then ``PARAM_FLAGS``)."""
    if e.param is None:
        return e
    flag = (flags or {}).get(e.param) or PARAM_FLAGS.get(e.param)
    return e.naming_flag(flag) if flag else e


@contextmanager
def flags_for(**flags: str) -> Iterator[None]:
    """Within: a library error naming one of these parameters names the flag given for it here
    (where a command sets the parameter with another flag than ``PARAM_FLAGS`` says)."""
    from assay.errors import BadInput

    try:
        yield
    except BadInput as e:
        shown = as_flag(e, flags)
        if shown is e:
            raise
        raise shown from None


@cache
def click_classes(name: str) -> tuple[type, ...]:
    """click's exception class ``name`` (ClickException, Exit, Abort) in each click in use."""
    found: list[type] = []
    for module in ("typer._click.exceptions", "typer.exceptions", "click.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:  # typer before 0.26 has no vendored click; click itself may be absent
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


def debugging() -> bool:
    """ASSAY_DEBUG=1: unexpected errors show their traceback."""
    return os.environ.get("ASSAY_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def _first_line(text: str) -> str:
    return " ".join((text.strip().splitlines() or [""])[0].split())


def _values(params: object) -> set[str]:
    """Every parameter value of a statement, as text (executemany's are rows of rows)."""
    if isinstance(params, dict):
        params = list(params.values())
    if isinstance(params, (list, tuple)):
        return set().union(*map(_values, params)) if params else set()
    return {str(params)} if isinstance(params, str | int | float) else set()


def store_error_line(e: BaseException, integrity: bool) -> tuple[str, int]:
    """One line for a database error that escaped (SQLAlchemy's DBAPIError): no SQL, no parameters.

    The driver's first line (which names a constraint, not values) is kept, with any parameter
    value it quotes masked, since those are the user's data.
    """
    orig = getattr(e, "orig", None)
    reason = _first_line(str(orig)) if orig is not None else type(e).__name__
    for v in sorted((v for v in _values(getattr(e, "params", None)) if len(v) >= 3), key=len, reverse=True):
        reason = reason.replace(v, "…")
    if not integrity:
        return f"store error: {type(orig or e).__name__}: {reason} (run with ASSAY_DEBUG=1 for the traceback)", 1
    low = reason.lower()
    if "foreign key" in low:
        hint = "a record refers to one the store does not have (an item, response, model or rater): add that first"
    elif "unique" in low or "duplicate" in low:
        hint = "a record with the same key is already in the store"
    elif "null" in low:
        hint = "a required field is empty"
    else:
        hint = "the data breaks one of the store's rules"
    return f"the store refused the data: {reason}; {hint}", 2


def exit_code(e: BaseException, err_console) -> int:  # noqa: ANN001 - a rich Console
    """Shows ``e`` as a line (or click's usage error) on ``err_console``; the exit code. Re-raises under ASSAY_DEBUG."""
    from rich.markup import escape

    from assay.errors import AssayError, BadInput

    def say(text: str, label: str = "") -> None:
        err_console.print(f"[red]{label}[/red] {escape(text)}" if label else escape(text), highlight=False,
                          soft_wrap=True)

    if isinstance(e, AssayError):
        say(str(as_flag(e) if isinstance(e, BadInput) else e), "error:")
        return e.exit_code
    if isinstance(e, click_classes("ClickException")):
        e.show()  # click's usage error: "Usage: ...", "Try 'assay -h' for help.", "Error: ... Did you mean ...?"
        return e.exit_code
    if isinstance(e, click_classes("Exit")):
        return e.exit_code
    if isinstance(e, click_classes("Abort")):  # a prompt turns Ctrl-C and end of input into Abort
        if not isinstance(e.__context__, KeyboardInterrupt):
            say("aborted")
            return 1
        e = KeyboardInterrupt()
    from assay.cli._runs import is_interrupt

    if is_interrupt(e):  # a Ctrl-C, or an error it caused (inside an import, a class body)
        say(INTERRUPTED)
        return 130
    if isinstance(e, SystemExit):
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        say(str(e.code))
        return 1
    if debugging():
        raise e
    exc_module = sys.modules.get("sqlalchemy.exc")
    if exc_module is not None and isinstance(e, exc_module.DBAPIError):
        line, code = store_error_line(e, integrity=isinstance(e, exc_module.IntegrityError))
        say(line, "error:")
        return code
    if not isinstance(e, Exception):
        raise e
    say(f"{type(e).__name__}: {_first_line(str(e))} (run with ASSAY_DEBUG=1 for the traceback; please report it)",
        "internal error:")
    return 1
