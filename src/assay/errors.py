"""The few exceptions assay raises, each turned into a one-line message at the CLI or HTTP boundary."""

from __future__ import annotations

import importlib
from types import ModuleType


class AssayError(Exception):
    """Base class: a problem the user can act on, shown as one line."""

    exit_code = 1
    """The CLI's exit code for it: 2 when the user can fix it (input, environment), else 1."""


class BadInput(AssayError):
    """Input that cannot be accepted: names the file, the line (or row) and the field at fault.

    ``param`` names the library parameter at fault instead of a field (``dimensions``, never a
    CLI flag); the CLI shows the flag that sets it. The CLI exits with code 2 on it.
    """

    exit_code = 2

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        row: int | None = None,
        field: str | None = None,
        param: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.row = row
        self.field = field
        self.param = param
        super().__init__(self.message)

    def naming_flag(self, flag: str) -> BadInput:
        """The same error with the CLI flag that sets its parameter in place of the parameter."""
        return BadInput(self.reason, file=self.file, line=self.line, row=self.row, field=flag)

    @property
    def message(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.line is not None:
            where.append(f"line {self.line}")
        elif self.row is not None:
            where.append(f"row {self.row}")
        prefix = ":".join(where[:1]) + (f", {where[1]}" if len(where) > 1 else "")
        field = f"field '{self.field}': " if self.field else f"parameter '{self.param}': " if self.param else ""
        return f"{prefix}: {field}{self.reason}" if prefix else f"{field}{self.reason}"


class NotFound(AssayError):
    """A named record (dataset, model, rubric, run...) does not exist in the store."""


class MissingExtra(AssayError, ImportError):
    """An optional dependency is not installed: names the extra of assay that brings it.

    An ImportError too, so callers that already catch ImportError keep working.
    """

    exit_code = 2

    def __init__(self, extra: str, needed_for: str, cause: BaseException | None = None) -> None:
        self.extra = extra
        self.needed_for = needed_for
        why = f" ({str(cause).splitlines()[0]})" if cause is not None and str(cause) else ""
        super().__init__(f"install the '{extra}' extra of assay for {needed_for}: pip install 'assay[{extra}]'{why}")


def require_extra(extra: str, needed_for: str, *modules: str) -> list[ModuleType]:
    """Import ``modules``, packages of an optional extra; MissingExtra naming ``extra`` when one is missing.

    ``needed_for`` says what needs them ("the Ray executor").
    """
    try:
        return [importlib.import_module(m) for m in modules]
    except ImportError as e:
        raise MissingExtra(extra, needed_for, e) from e


class StoreUnavailable(AssayError):
    """The store cannot be opened: a bad URL, an unreachable server, a missing folder, not a database.

    The message names the store (never its password) and what to check. The CLI exits with code 2.
    """

    exit_code = 2
