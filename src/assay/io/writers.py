"""Exporting any record kind to JSONL, CSV or Parquet, streamed from the store.

JSONL keeps nested fields as JSON; CSV and Parquet hold them as JSON text, so every
format reads back into the same records with ``assay import --kind KIND``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from assay.errors import BadInput
from assay.store import Store
from assay.store import tables as T

EXPORT_FORMATS = ("jsonl", "csv", "parquet")
_BATCH = 20_000


def _json_default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    raise TypeError(f"cannot write {type(o).__name__} as JSON")


def _json_columns(kind: str) -> set[str]:
    return {c.name for c in T.TABLES[kind].columns if isinstance(c.type, T.JSON)}


def _rows(store: Store, kind: str, filters: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if kind == "rubrics":
        for rub in store.iter("rubrics", **filters):
            yield {"name": rub.name, "version": rub.version, "spec": rub.model_dump(mode="json")}  # type: ignore[attr-defined]
        return
    yield from store.rows(kind, **filters)


def _ts(v: datetime | None) -> datetime | None:
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
    **filters: Any,
) -> int:
    """Write every record of ``kind`` (optionally filtered by column values) to ``out``; return the count."""
    if kind not in T.TABLES:
        raise BadInput(f"unknown record kind {kind!r}; kinds are {', '.join(T.TABLES)}")
    out = Path(out)
    fmt = fmt or out.suffix.lstrip(".").lower()
    if fmt not in EXPORT_FORMATS:
        raise BadInput(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}", file=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    ts_cols = {c.name for c in T.TABLES[kind].columns if isinstance(c.type, type(T.TS))}
    json_cols = _json_columns(kind)
    n = 0
    rows = _rows(store, kind, filters)
    if fmt == "jsonl":
        with open(tmp, "w", encoding="utf-8") as f:
            for row in rows:
                for c in ts_cols:
                    row[c] = _ts(row[c])
                f.write(json.dumps(row, ensure_ascii=False, default=_json_default))
                f.write("\n")
                n += 1
                if on_progress and n % _BATCH == 0:
                    on_progress(n)
    elif fmt == "csv":
        cols = [c.name for c in T.TABLES[kind].columns]
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for row in rows:
                w.writerow([_csv_cell(row[c], c in json_cols, c in ts_cols) for c in cols])
                n += 1
                if on_progress and n % _BATCH == 0:
                    on_progress(n)
    else:
        n = _write_parquet(tmp, kind, rows, json_cols, ts_cols, on_progress)
    tmp.replace(out)
    if on_progress:
        on_progress(n)
    return n


def _csv_cell(v: Any, is_json: bool, is_ts: bool) -> Any:
    if v is None:
        return ""
    if is_json:
        return json.dumps(v, ensure_ascii=False)
    if is_ts:
        return _ts(v).isoformat()  # type: ignore[union-attr]
    return v


def _arrow_schema(kind: str):  # noqa: ANN202
    import pyarrow as pa

    fields = []
    for c in T.TABLES[kind].columns:
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
