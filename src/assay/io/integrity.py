"""Checks of imported rows against the store: every reference resolves, every score fits its scale.

Run inside the import's transaction before a kind's rows are written, so "in the store"
includes what the same import wrote earlier (a directory import writes referenced kinds
first). A row may also name another row of its own kind from the same file (a judgment
that supersedes another), in any order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection

from assay import records as R
from assay.store.kinds import REFERENCES, RUBRIC, Ref, existing, key_of, rubric_specs

NOUNS = {"datasets": "dataset", "items": "item", "models": "model", "responses": "response", "rubrics": "rubric",
         "raters": "rater", "judgments": "judgment", "comparisons": "comparison", "campaigns": "campaign",
         "assignments": "assignment", "runs": "run", "edge_cases": "edge case", "attempts": "attempt",
         "users": "user"}


class Problem(NamedTuple):
    """Row ``index`` of the rows checked is wrong in ``field``, for ``reason``."""

    index: int
    field: str
    reason: str


def _values(row: dict[str, Any], ref: Ref) -> list[tuple[str, str]]:
    """(field path, referenced key) pairs of one row for one reference."""
    v = row.get(ref.field)
    if v is None:
        return []
    if ref.many:
        return [(f"{ref.field}[{i}]", str(x)) for i, x in enumerate(v) if x is not None]
    return [(ref.field, str(v))]


def _reference_problems(conn: Connection, kind: str, rows: Sequence[dict[str, Any]]) -> list[Problem]:
    out: list[Problem] = []
    own = {key_of(kind, r) for r in rows}
    for ref in REFERENCES.get(kind, ()):
        wanted = {v for r in rows for _, v in _values(r, ref)}
        if ref.kind == kind:
            wanted -= own
        if not wanted:
            continue
        known = existing(conn, ref.kind, ref.column, wanted)
        if ref.kind == kind:
            known |= own
        for i, r in enumerate(rows):
            for path, v in _values(r, ref):
                if v not in known:
                    noun = NOUNS.get(ref.kind, ref.kind)
                    out.append(Problem(i, path, f"no {noun} {v!r} in the store or earlier in this import"))
    return out


def _scale_problem(dim: R.Dimension, value: float | None, label: str | None) -> str | None:
    """Why a verdict lies outside its dimension's scale, or None.

    Ranges, not points: aggregated verdicts (a panel's mean, HANNA's mean of three LLM
    ratings) fall between the levels of an ordinal scale, and an undecided verifier stores
    no value at all.
    """
    s = dim.scale
    if value is not None and not math.isfinite(value):
        return f"{value} is not a finite number"
    if s.kind == "categorical":
        names = [c.name for c in s.categories]
        if label is not None and label not in names:
            return f"label {label!r} is not one of {names} on dimension {dim.name!r}"
        return None
    if value is None:
        return None
    lo, hi = s.bounds()
    if not lo <= value <= hi:
        return f"value {value:g} is outside the {s.kind} scale of {dim.name!r} ({lo:g} to {hi:g})"
    return None


def _rubric_problems(conn: Connection, kind: str, rows: Sequence[dict[str, Any]]) -> list[Problem]:
    """Dimensions exist in their rubric; judgments' values and labels fit the dimension's scale."""
    if kind not in ("judgments", "comparisons", "campaigns"):
        return []
    rubrics = {k: R.Rubric.model_validate(v)
               for k, v in rubric_specs(conn, {r["rubric"] for r in rows if r.get("rubric")}).items()}
    out: list[Problem] = []
    for i, r in enumerate(rows):
        rub = rubrics.get(r.get("rubric") or "")
        if rub is None:
            continue  # a missing rubric is a reference problem, reported as such
        dims = {d.name: d for d in rub.dimensions}
        names = r["dimensions"] if kind == "campaigns" else [r["dimension"]] if r.get("dimension") else []
        for j, name in enumerate(names):
            if name not in dims:
                path = f"dimensions[{j}]" if kind == "campaigns" else "dimension"
                out.append(Problem(i, path, f"rubric {rub.id} has no dimension {name!r}; it has {list(dims)}"))
        if kind == "judgments" and r["dimension"] in dims:
            why = _scale_problem(dims[r["dimension"]], r.get("value"), r.get("label"))
            if why:
                out.append(Problem(i, "label" if "label " in why else "value", why))
    return out


def problems(conn: Connection, kind: str, rows: Sequence[dict[str, Any]]) -> list[Problem]:
    """Everything wrong with ``rows`` of ``kind`` (table rows) against the store seen through ``conn``.

    Sorted by row, at most one problem per row (the first found).
    """
    found = _reference_problems(conn, kind, rows) + _rubric_problems(conn, kind, rows)
    first: dict[int, Problem] = {}
    for p in found:
        first.setdefault(p.index, p)
    return [first[i] for i in sorted(first)]


__all__ = ["NOUNS", "RUBRIC", "Problem", "problems"]
