"""Reading back what ``assay export`` wrote: one kind from a file, or a whole store from a folder.

Every row is checked before anything is written: fields and types (the record's own
validation), values no store may hold (:mod:`assay.io.guard`), references to other rows
and scores against their rubric's scale (:mod:`assay.io.integrity`). The import is one
transaction; with ``OnInvalid(skip=True)`` bad rows are written to a rejects file instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from sqlalchemy import Connection

from assay import records as R
from assay.errors import BadInput
from assay.io import guard, integrity, spreadsheet
from assay.io.importer import ImportSummary, OnInvalid, _Rejects, rejects_writer
from assay.io.manifest import IMPORTABLE, read_manifest
from assay.io.readers import Row, Where, detect_format, read_rows
from assay.store import Store, to_row
from assay.store import tables as T
from assay.store.kinds import REFERENCES, dependency_order, table_of



# ---- one row --------------------------------------------------------------------------


@cache
def _row_model(kind: str) -> type[BaseModel]:
    """A pydantic model of a bookkeeping table's row (users, run_units...), from its columns."""
    fields: dict[str, Any] = {}
    for c in table_of(kind).columns:
        t = c.type
        py: Any = (dict | list if isinstance(t, T.JSON) else datetime if isinstance(t, type(T.TS))
                   else bool if isinstance(t, T.Boolean) else int if isinstance(t, T.Integer)
                   else float if isinstance(t, T.Float) else str)
        fields[c.name] = (py | None, None) if c.nullable else (py, ...)
    return create_model(f"{kind}_row", __config__=ConfigDict(extra="forbid"), **fields)


def _typed(kind: str, row: Row, from_csv: bool = False) -> dict[str, Any]:
    """A file's row as a table row, validated: CSV cells read by the column's type, JSON text decoded."""
    table = table_of(kind)
    fixed: dict[str, Any] = {}
    for k, v in row.items():
        col = table.c.get(k)
        if from_csv:
            v = spreadsheet.unguard(v)
        if col is not None and isinstance(col.type, T.JSON) and isinstance(v, str):
            v = guard.loads(v, path=(k,))
        elif v is None and col is not None and not col.nullable and isinstance(col.type, T.String):
            v = ""  # CSV cannot tell an empty text from a missing one
        elif isinstance(v, str) and col is not None:
            if isinstance(col.type, T.Boolean):
                v = {"true": True, "1": True, "false": False, "0": False}.get(v.lower(), v)
            elif isinstance(col.type, T.Integer) and v.lstrip("-").isdigit():
                v = int(v)
        fixed[k] = v
    if kind == "rubrics":
        out = to_row(kind, R.Rubric.model_validate(fixed.get("spec", fixed)))
    elif kind in R.KINDS:
        out = to_row(kind, R.KINDS[kind].model_validate(fixed))
    else:
        out = _row_model(kind).model_validate(fixed).model_dump()
    guard.check_row(out)  # "nan" or "inf" in a CSV cell becomes a float only here
    return out


def _field_of(e: ValidationError) -> tuple[str | None, str]:
    err = e.errors()[0]
    return ".".join(str(p) for p in err["loc"]) or None, err["msg"]


# ---- one kind -------------------------------------------------------------------------


def _import_kind(store: Store, conn: Connection, path: Path, kind: str, fmt: str | None,
                 rejects: _Rejects | None, summary: ImportSummary) -> None:
    """Read, check and write one file of one kind inside ``conn``'s transaction."""
    name = str(path)
    good: list[tuple[Where, Row, dict[str, Any]]] = []
    from_csv = (fmt or detect_format(path)) == "csv"  # assay's CSV exports quote formula-like cells
    for where, raw in read_rows(path, fmt=fmt, on_error=rejects.on_error if rejects else None):
        summary.rows += 1
        try:
            good.append((where, raw, _typed(kind, raw, from_csv)))
        except (ValidationError, json.JSONDecodeError, guard.Unsafe) as e:
            if isinstance(e, ValidationError):
                fieldname, reason = _field_of(e)
            elif isinstance(e, guard.Unsafe):
                fieldname, reason = e.path, e.reason
            else:
                fieldname, reason = None, f"invalid JSON in a cell: {e.msg}"
            if rejects is None:
                raise BadInput(reason, file=name, field=fieldname, **{where[0]: where[1]}) from None
            rejects.add(where, fieldname, reason, raw)
    self_refs = any(r.kind == kind for r in REFERENCES.get(kind, ()))
    while True:
        found = integrity.problems(conn, kind, [g[2] for g in good])
        if not found:
            break
        if rejects is None:
            p = found[0]
            where = good[p.index][0]
            raise BadInput(p.reason, file=name, field=p.field, **{where[0]: where[1]})
        bad = {p.index for p in found}
        for p in found:
            rejects.add(good[p.index][0], p.field, p.reason, good[p.index][1])
        good = [g for i, g in enumerate(good) if i not in bad]
        if not self_refs:
            break  # only a row of the same kind can lose its target by a rejection
    summary.records_added += store.add_rows(kind, [g[2] for g in good], conn)


def _finish(summary: ImportSummary, rejects: _Rejects | None, before: tuple[int, int]) -> None:
    """Count what this kind's file rejected (rows the reader could not read are rows too)."""
    if rejects is not None:
        summary.rows += rejects.unreadable - before[1]
        summary.rejected = rejects.count - before[0]
    summary.duplicates = summary.rows - summary.rejected - summary.records_added


def import_records(store: Store, path: str | Path, kind: str, *, fmt: str | None = None,
                   on_invalid: OnInvalid = OnInvalid()) -> ImportSummary:
    """Import records of one kind written by ``assay export`` (any format), as one transaction.

    Every reference (rater, response, rubric...) must name a stored row or one of this
    file; scores must lie on their dimension's scale. Otherwise :class:`BadInput` names the
    line and field and nothing is written, or with ``on_invalid=OnInvalid(skip=True)`` the row is rejected.
    """
    if kind not in IMPORTABLE:
        raise BadInput(f"unknown record kind {kind!r}; kinds are {', '.join(IMPORTABLE)}")
    path = Path(path)
    summary = ImportSummary(file=str(path), dataset="")
    rejects = rejects_writer(on_invalid, path.with_name(path.name + ".rejects.jsonl"))
    try:
        with store.transaction() as conn:
            _import_kind(store, conn, path, kind, fmt, rejects, summary)
    finally:
        if rejects is not None:
            rejects.close()
    _finish(summary, rejects, (0, 0))
    summary.rejects_file = str(rejects.path) if rejects and rejects.count else None
    return summary


# ---- a whole store ----------------------------------------------------------------------

@dataclass
class StoreImport:
    """What ``import_store`` read and added, kind by kind."""

    folder: str
    kinds: dict[str, ImportSummary] = field(default_factory=dict)
    rejects_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "rejects_file": self.rejects_file,
                "kinds": {k: {x: v for x, v in s.as_dict().items() if x in ("rows", "records_added", "duplicates",
                                                                            "rejected")}
                          for k, s in self.kinds.items()}}


def import_store(store: Store, folder: str | Path, *, on_invalid: OnInvalid = OnInvalid()) -> StoreImport:
    """Import a folder written by ``export_store`` into ``store``, kinds in dependency order, as one transaction.

    Each file must hold as many rows as the manifest says (a partial copy is refused).
    With ``on_invalid=OnInvalid(skip=True)`` one rejects file (``FOLDER/rejects.jsonl`` unless given) names the
    file, line, field and reason of each rejected row; rows referring to a rejected row are
    rejected in turn.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    out = StoreImport(folder=str(folder))
    rejects = rejects_writer(on_invalid, folder / "rejects.jsonl")
    order = dependency_order(manifest["files"])
    try:
        with store.transaction() as conn:
            for kind in order:
                path = folder / manifest["files"][kind]
                if not path.is_file():
                    raise BadInput("missing: the manifest lists it", file=str(path))
                summary = out.kinds[kind] = ImportSummary(file=str(path), dataset="")
                before = (rejects.count, rejects.unreadable) if rejects else (0, 0)
                if rejects is not None:
                    rejects.file = path.name
                expected = manifest["counts"].get(kind)
                if expected or path.stat().st_size:  # an empty kind is an empty file, which readers refuse
                    _import_kind(store, conn, path, kind, "jsonl", rejects, summary)
                _finish(summary, rejects, before)
                if expected is not None and summary.rows != expected:
                    raise BadInput(f"{summary.rows} rows, but the manifest says {expected}: the export is "
                                   "incomplete or was edited", file=str(path))
    finally:
        if rejects is not None:
            rejects.close()
    out.rejects_file = str(rejects.path) if rejects and rejects.count else None
    return out
