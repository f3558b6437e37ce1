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

from assay import records as R
from assay.io.spreadsheet import QUOTE, TRIGGERS
from assay.store import Store
from assay.store import tables as T

CHUNK = 5000
"""Rows read, converted and written at a time."""
FORMATS = ("csv", "jsonl")
_GUARDED = (*TRIGGERS, QUOTE)


def _ts(v: Any) -> str | None:
    """A stored time as its record's JSON form (ISO 8601, UTC as Z). SQLite keeps naive UTC text
    with microseconds ("2026-12-01 10:00:00.000000"), cut and joined here without a datetime."""
    if v is None:
        return None
    if isinstance(v, str):
        if len(v) == 26 and v[10] == " ":
            return f"{v[:10]}T{v[11:19]}Z" if v.endswith(".000000") else f"{v[:10]}T{v[11:]}Z"
        v = datetime.fromisoformat(v)
    v = v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    return v.isoformat().replace("+00:00", "Z")


def _parsed(v: Any) -> Any:
    return orjson.loads(v) if isinstance(v, str) else v


def _chunks(store: Store, camp: R.Campaign) -> Iterator[tuple[list[str], list[int], list[list[Any]]]]:
    """(the fields, the positions of JSON fields, rows) a chunk at a time, in id order: each row the
    record's fields as the driver gives them, times already in their JSON form, then the models
    (``model``; or ``models`` and ``winner_model``). JSON fields are left as stored: text on SQLite."""
    rate = camp.kind == "rate"
    table = T.judgments if rate else T.comparisons
    fields = list((R.Judgment if rate else R.Comparison).model_fields)
    times = [i for i, f in enumerate(fields) if isinstance(table.c[f].type, type(T.TS))]
    jsons = [i for i, f in enumerate(fields) if isinstance(table.c[f].type, T.JSON)]
    pg = store.backend == "postgresql"
    mark = "%s" if pg else "?"
    cols = ", ".join(f'"{f}"' for f in fields)
    # the (campaign_id, id) index gives the order; the driver's own cursor, which SQLAlchemy's rows would only wrap
    sql = f'SELECT {cols} FROM "{table.name}" WHERE campaign_id = {mark} ORDER BY id'
    models: dict[str, str] = {}
    rid = fields.index("response_id" if rate else "response_ids")
    win_at = 0 if rate else fields.index("winner")
    with store.engine.connect() as c:
        raw = c.connection.dbapi_connection
        cur = raw.cursor(name="assay_export") if pg else raw.cursor()  # PostgreSQL: a server-side cursor
        if pg:
            cur.itersize = CHUNK
        look = raw.cursor()
        try:
            cur.execute(sql, (camp.id,))
            while rows := cur.fetchmany(CHUNK):
                rows = [list(r) for r in rows]
                for r in rows:
                    for i in times:
                        r[i] = _ts(r[i])
                    if not rate:
                        r[rid] = _parsed(r[rid])
                wanted = ({r[rid] for r in rows} if rate else {x for r in rows for x in r[rid]}) - models.keys()
                if wanted:
                    w = sorted(wanted)
                    if pg:
                        look.execute("SELECT id, model FROM responses WHERE id = ANY(%s)", (w,))
                    else:
                        look.execute(f"SELECT id, model FROM responses WHERE id IN ({', '.join('?' * len(w))})", w)
                    models.update(look.fetchall())
                get = models.get
                if rate:
                    for r in rows:
                        r.append(get(r[rid]))
                else:
                    for r in rows:
                        r.append([get(x) for x in r[rid]])
                        r.append(get(r[win_at]) if r[win_at] else None)
                yield fields + (["model"] if rate else ["models", "winner_model"]), jsons, rows
        finally:
            cur.close()
            look.close()


def export_records(store: Store, camp: R.Campaign) -> Iterator[dict[str, Any]]:
    """Every judgment (rating campaigns) or comparison of a campaign, in id order, as the dict
    ``record.model_dump(mode="json")`` gives plus ``model`` (or ``models`` and ``winner_model``)."""
    for names, jsons, rows in _chunks(store, camp):
        for r in rows:
            for i in jsons:
                r[i] = _parsed(r[i])
            yield dict(zip(names, r))


def export_text(store: Store, camp: R.Campaign, fmt: str, *, formula_guard: bool = True,
                ascii_json: bool = False, counts: dict[str, int] | None = None) -> Iterator[str]:
    """A campaign's export as text, in pieces of about :data:`CHUNK` rows.

    ``fmt``: "jsonl" (one JSON object a line) or "csv" (a header of the fields, list and dict cells as
    JSON, ASCII-escaped with ``ascii_json``; a cell a spreadsheet would run as a formula quoted by
    :func:`assay.io.spreadsheet.guard` unless ``formula_guard`` is False). No rows: nothing for CSV.
    ``counts["rows"]``, when given, is kept at the number of rows written so far.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format is one of {FORMATS}, not {fmt!r}")
    counts = {} if counts is None else counts
    counts["rows"] = 0
    header = True
    for names, jsons, rows in _chunks(store, camp):
        if fmt == "jsonl":
            for r in rows:
                for i in jsons:  # JSON text as stored goes out as it is, without a parse
                    if isinstance(r[i], str):
                        r[i] = orjson.Fragment(r[i])
            piece = b"".join(orjson.dumps(dict(zip(names, r))) + b"\n" for r in rows).decode()
        else:
            lists = jsons if camp.kind == "rate" else [*jsons, len(names) - 2]  # and the comparisons' models
            for r in rows:
                for i in lists:
                    r[i] = _json_cell(r[i], ascii_json)
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n")  # csv.DictWriter's dialect: excel
            if header:
                w.writerow(names)
                header = False
            if formula_guard:
                w.writerows([QUOTE + v if v.__class__ is str and v[:1] in _GUARDED else v for v in r] for r in rows)
            else:
                w.writerows(rows)
            piece = buf.getvalue()
        counts["rows"] += len(rows)
        yield piece


def _json_cell(v: Any, ascii_json: bool) -> Any:
    """A JSON field as a CSV cell: a list or an object as JSON text (as ``json.dumps`` writes it)."""
    if v is None or v == "[]" or v == "{}":
        return v
    if isinstance(v, str):
        v = orjson.loads(v)
    return json.dumps(v, ensure_ascii=ascii_json) if isinstance(v, (list, dict)) else v
