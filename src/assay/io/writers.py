"""Exporting any record kind to JSONL, CSV or Parquet, streamed from the store.

JSONL keeps nested fields as JSON; CSV and Parquet hold them as JSON text, so every
format reads back into the same records with ``assay import --kind KIND``. ``export_store``
writes every kind into one folder with a manifest, for ``assay import FOLDER``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, overload

from assay import records as R
from assay.errors import AssayError, BadInput
from assay.io import spreadsheet
from assay.io.manifest import EXPORTED, IMPORTABLE, LEFT_OUT, MANIFEST, is_store_export, write_manifest
from assay.store import Store
from assay.store import tables as T
from assay.store.kinds import table_of

EXPORT_FORMATS = ("jsonl", "csv", "parquet")
_BATCH = 20_000


def _json_default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    raise TypeError(f"cannot write {type(o).__name__} as JSON")


def _json_columns(kind: str) -> set[str]:
    return {c.name for c in table_of(kind).columns if isinstance(c.type, T.JSON)}


def _rows(store: Store, kind: str, filters: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if kind == "rubrics":
        for rub in store.iter(R.Rubric, **filters):
            yield {"name": rub.name, "version": rub.version, "spec": rub.model_dump(mode="json")}
        return
    yield from store.rows(kind, **filters)


@overload
def _ts(v: datetime) -> datetime: ...
@overload
def _ts(v: None) -> None: ...
def _ts(v: datetime | None) -> datetime | None:
    """``v`` with UTC as its time zone when it has none (SQLite gives naive UTC times back)."""
    from datetime import timezone

    if v is not None and v.tzinfo is None:
        return v.replace(tzinfo=timezone.utc)
    return v


def export(
    store: Store,
    kind: str,
    out: str | Path,
    *,
    fmt: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    formula_guard: bool = True,
    **filters: Any,
) -> int:
    """Write every record of ``kind`` (optionally filtered by column values) to ``out``; return the count.

    In CSV, a text cell a spreadsheet would run as a formula is quoted (``io.spreadsheet``)
    unless ``formula_guard`` is False; assay's own import undoes it.
    """
    if kind not in IMPORTABLE:
        raise BadInput(f"unknown record kind {kind!r}; kinds are {', '.join(IMPORTABLE)}")
    out = Path(out)
    fmt = fmt or out.suffix.lstrip(".").lower()
    if fmt not in EXPORT_FORMATS:
        raise BadInput(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}", file=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    ts_cols = {c.name for c in table_of(kind).columns if isinstance(c.type, type(T.TS))}
    json_cols = _json_columns(kind)
    n = 0
    rows = _rows(store, kind, filters)
    if fmt == "jsonl":
        with open(tmp, "w", encoding="utf-8") as f:
            for row in rows:
                for c in ts_cols:
                    row[c] = _ts(row[c])
                f.write(_json_line(kind, row))
                f.write("\n")
                n += 1
                if on_progress and n % _BATCH == 0:
                    on_progress(n)
    elif fmt == "csv":
        cols = [c.name for c in table_of(kind).columns]
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for row in rows:
                w.writerow([_csv_cell(row[c], c in json_cols, c in ts_cols, formula_guard) for c in cols])
                n += 1
                if on_progress and n % _BATCH == 0:
                    on_progress(n)
    else:
        n = _write_parquet(tmp, kind, rows, json_cols, ts_cols, on_progress)
    tmp.replace(out)
    if on_progress:
        on_progress(n)
    return n


def _json_line(kind: str, row: dict[str, Any]) -> str:
    try:
        return json.dumps(row, ensure_ascii=False, default=_json_default, allow_nan=False)
    except ValueError:  # PostgreSQL floats can hold NaN; JSON cannot, and import would refuse it
        key = ", ".join(f"{c.name}={row[c.name]!r}" for c in table_of(kind).primary_key.columns)
        raise AssayError(f"{kind} {key}: a number is NaN or infinite, which JSON cannot hold; "
                         "correct it in the store before exporting") from None


def export_store(store: Store, folder: str | Path, *, cache: bool = False,
                 on_kind: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Write every kind of record in ``store`` to ``folder`` (one JSONL file per kind) and a manifest.

    The manifest lists the kinds in the order ``import_store`` writes them back, their counts,
    the schema version and migration, and what was left out and why (``cache`` adds the
    request cache). Returns the manifest.
    """
    from assay.store.engine import current_revision

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise BadInput("exists and is not a folder", file=str(folder))
    if folder.is_dir() and any(folder.iterdir()) and not is_store_export(folder):
        raise BadInput(f"is not empty and holds no {MANIFEST}: export into a new folder", file=str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    kinds = [k for k in EXPORTED] + (["request_cache"] if cache else [])
    files, counts = {}, {}
    for kind in kinds:
        files[kind] = f"{kind}.jsonl"
        counts[kind] = export(store, kind, folder / files[kind], fmt="jsonl")
        if on_kind:
            on_kind(kind, counts[kind])
    left_out = {k: v for k, v in LEFT_OUT.items() if k not in kinds}
    return write_manifest(folder, counts=counts, files=files, migration=current_revision(store.engine),
                          store=store.describe(), left_out=left_out)


def _csv_cell(v: Any, is_json: bool, is_ts: bool, formula_guard: bool = True) -> Any:
    if v is None:
        return ""
    if is_json:
        v = json.dumps(v, ensure_ascii=False)
    elif is_ts:
        return _ts(v).isoformat()
    return spreadsheet.guard(v) if formula_guard else v


def _arrow_schema(kind: str):  # noqa: ANN202
    import pyarrow as pa

    fields = []
    for c in table_of(kind).columns:
        t = c.type
        if isinstance(t, T.JSON):
            at = pa.string()
        elif isinstance(t, type(T.TS)):
            at = pa.timestamp("us", tz="UTC")
        elif isinstance(t, T.Boolean):
            at = pa.bool_()
        elif isinstance(t, T.Integer):
            at = pa.int64()
        elif isinstance(t, T.Float):
            at = pa.float64()
        else:
            at = pa.string()
        fields.append(pa.field(c.name, at, nullable=True))
    return pa.schema(fields)


def _write_parquet(tmp: Path, kind: str, rows: Iterator[dict[str, Any]], json_cols: set[str], ts_cols: set[str],
                   on_progress: Callable[[int], None] | None) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema(kind)
    names = schema.names
    n = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        cols: dict[str, list[Any]] = {c: [] for c in names}

        def flush() -> None:
            if cols[names[0]]:
                writer.write_table(pa.table(cols, schema=schema))
                for v in cols.values():
                    v.clear()

        for row in rows:
            for c in names:
                v = row[c]
                if c in json_cols and v is not None:
                    v = json.dumps(v, ensure_ascii=False)
                elif c in ts_cols:
                    v = _ts(v)
                cols[c].append(v)
            n += 1
            if n % _BATCH == 0:
                flush()
                if on_progress:
                    on_progress(n)
        flush()
    return n
