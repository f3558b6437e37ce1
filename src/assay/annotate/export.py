"""A campaign's answers as CSV or JSONL, streamed: a million judgments never sit in memory at once.

The rows are those of :func:`assay.annotate.dashboard.export_rows` (each judgment or comparison
as its record's JSON form, with the models unblinded), read from the store in key order a chunk
at a time, as the driver gives them (no record object per row).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, select, text

from assay import records as R
from assay.io.spreadsheet import QUOTE, TRIGGERS
from assay.store import Store
from assay.store import tables as T

CHUNK = 5000
"""Rows read, converted and written at a time."""
FORMATS = ("csv", "jsonl")
_GUARDED = (*TRIGGERS, QUOTE)


def _ts(v: Any) -> str | None:
    """A stored time as its record's JSON form (ISO 8601, UTC as Z): SQLite keeps naive UTC text."""
    if v is None:
        return None
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    if v.tzinfo is None:
        v = v.replace(tzinfo=UTC)
    else:
        v = v.astimezone(UTC)
    return v.isoformat().replace("+00:00", "Z")


def _json(v: Any) -> Any:
    return orjson.loads(v) if isinstance(v, str) else v


def export_records(store: Store, camp: R.Campaign) -> Iterator[dict[str, Any]]:
    """Every judgment (rating campaigns) or comparison of a campaign, in id order, as the dict
    ``record.model_dump(mode="json")`` gives plus ``model`` (or ``models`` and ``winner_model``)."""
    rate = camp.kind == "rate"
    record = R.Judgment if rate else R.Comparison
    table = T.judgments if rate else T.comparisons
    fields = list(record.model_fields)
    convert = []
    for i, name in enumerate(fields):
        col = table.c[name]
        if isinstance(col.type, type(T.TS)):
            convert.append((i, _ts))
        elif isinstance(col.type, T.JSON):
            convert.append((i, _json))
    cols = ", ".join(f'"{f}"' for f in fields)
    # raw driver values (text() applies no type processing); the (campaign_id, id) index gives the order
    sql = text(f'SELECT {cols} FROM "{table.name}" WHERE campaign_id = :cid ORDER BY id')
    lookup = select(T.responses.c.id, T.responses.c.model).where(T.responses.c.id.in_(bindparam("ids",
                                                                                            expanding=True)))
    models: dict[str, str] = {}
    with store.engine.connect() as c:
        result = c.execution_options(stream_results=True, yield_per=CHUNK).execute(sql, {"cid": camp.id})
        while rows := result.fetchmany(CHUNK):
            out = []
            for row in rows:
                vals = list(row)
                for i, f in convert:
                    vals[i] = f(vals[i])
                out.append(dict(zip(fields, vals)))
            wanted = ({d["response_id"] for d in out} if rate else {x for d in out for x in d["response_ids"]}) - set(
                models)
            if wanted:
                with store.engine.connect() as c2:
                    for rid, model in c2.execute(lookup, {"ids": sorted(wanted)}):
                        models[rid] = model
            for d in out:
                if rate:
                    d["model"] = models.get(d["response_id"])
                else:
                    d["models"] = [models.get(x) for x in d["response_ids"]]
                    d["winner_model"] = models.get(d["winner"]) if d.get("winner") else None
                yield d


def export_text(store: Store, camp: R.Campaign, fmt: str, *, formula_guard: bool = True,
                ascii_json: bool = False, counts: dict[str, int] | None = None) -> Iterator[str]:
    """A campaign's export as text, in pieces of about :data:`CHUNK` rows.

    ``fmt``: "jsonl" (one JSON object a line) or "csv" (a header of the fields, list and dict cells as
    JSON, ASCII-escaped with ``ascii_json``; a cell a spreadsheet would run as a formula quoted by
    :func:`assay.io.spreadsheet.guard` unless ``formula_guard`` is False). No rows: nothing for CSV.
    ``counts["rows"]``, when given, is kept at the number of rows written so far.
    """
    counts = {} if counts is None else counts
    counts["rows"] = 0
    if fmt not in FORMATS:
        raise ValueError(f"format is one of {FORMATS}, not {fmt!r}")
    rows = export_records(store, camp)
    if fmt == "jsonl":
        batch: list[dict[str, Any]] = []
        for d in rows:
            batch.append(d)
            if len(batch) == CHUNK:
                counts["rows"] += len(batch)
                yield _jsonl(batch)
                batch = []
        if batch:
            counts["rows"] += len(batch)
            yield _jsonl(batch)
        return
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # csv.DictWriter's dialect: excel
    n = 0
    for d in rows:
        if not n:
            w.writerow(list(d))
        w.writerow([_cell(v, formula_guard, ascii_json) for v in d.values()])
        n += 1
        counts["rows"] = n
        if n % CHUNK == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


def _jsonl(batch: list[dict[str, Any]]) -> str:
    return b"".join(orjson.dumps(d) + b"\n" for d in batch).decode()


def _cell(v: Any, guard: bool, ascii_json: bool) -> Any:
    if isinstance(v, (list, dict)):
        v = json.dumps(v, ensure_ascii=ascii_json)
    if guard and isinstance(v, str) and v[:1] in _GUARDED:
        return QUOTE + v
    return v
