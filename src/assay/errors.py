"""The few exceptions assay raises, each turned into a one-line message at the CLI or HTTP boundary."""

from __future__ import annotations


class AssayError(Exception):
    """Base class: a problem the user can act on, shown as one line."""


class BadInput(AssayError):
    """Input that cannot be accepted: names the file, the line (or row) and the field at fault.

    The CLI exits with code 2 on it.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.row = row
        self.field = field
        super().__init__(self.message)

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
        field = f"field '{self.field}': " if self.field else ""
        return f"{prefix}: {field}{self.reason}" if prefix else f"{field}{self.reason}"


class NotFound(AssayError):
    """A named record (dataset, model, rubric, run...) does not exist in the store."""
