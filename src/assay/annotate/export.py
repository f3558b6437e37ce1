"""A campaign's answers as CSV or JSONL, streamed: a million judgments never sit in memory at once.

The rows are those of :func:`assay.annotate.dashboard.export_rows` (each judgment or comparison
as its record's JSON form, with the models unblinded), read from the store in key order a chunk
at a time, as the driver gives them (no record object per row).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
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


def _ts_sql(col: str, pg: bool) -> str:
    """SQL giving a stored time in its record's JSON form (ISO 8601, UTC as Z, microseconds only
    when not zero), so the rows need no datetime in Python. SQLite keeps naive UTC text with
    microseconds ("2026-12-01 10:00:00.000000", as SQLAlchemy and the bulk path write it)."""
    if pg:
        utc = f"({col} AT TIME ZONE 'UTC')"
        return (f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN extract(microseconds FROM {col})::bigint "
                f"%% 1000000 = 0 THEN 'Z' ELSE to_char({utc}, '.US') || 'Z' END")
    return (f"CASE WHEN substr({col}, 20) = '.000000' THEN substr({col}, 1, 10) || 'T' || substr({col}, 12, 8) || 'Z' "
            f"ELSE substr({col}, 1, 10) || 'T' || substr({col}, 12) || 'Z' END")


def _parsed(v: Any) -> Any:
    return orjson.loads(v) if isinstance(v, str) else v


def _chunks(store: Store, camp: R.Campaign) -> Iterator[tuple[list[str], list[int], list[Any]]]:
    """(the fields, the positions of JSON fields, rows) a chunk at a time, in id order: each row the
    record's fields, times already in their JSON form and JSON fields as their text, then the models
    (``model``; or ``models`` and ``winner_model``)."""
    rate = camp.kind == "rate"
    table = T.judgments if rate else T.comparisons
    fields = list((R.Judgment if rate else R.Comparison).model_fields)
    jsons = [i for i, f in enumerate(fields) if isinstance(table.c[f].type, T.JSON)]
    pg = store.backend == "postgresql"
    sel = []
    for f in fields:
        col = f't."{f}"'
        kind = table.c[f].type
        sel.append(_ts_sql(col, pg) if isinstance(kind, type(T.TS)) else f"{col}::text" if pg and isinstance(
            kind, T.JSON) else col)
    names = fields + (["model"] if rate else ["models", "winner_model"])
    # the (campaign_id, id) index gives the order; the driver's own cursor, which SQLAlchemy's rows would only wrap
    sql = (f"SELECT {', '.join(sel)} FROM \"{table.name}\" t WHERE t.campaign_id = {'%s' if pg else '?'} "
           "ORDER BY t.id")
    models: dict[str, str] = {}
    ids_at = fields.index("response_id" if rate else "response_ids")
    win_at = fields.index("winner") if not rate else 0

    def look_up(wanted: set[str]) -> None:  # the models of responses not seen yet (cheaper than a join per row)
        w = sorted(wanted - models.keys())
        if not w:
            return
        if pg:
            look.execute("SELECT id, model FROM responses WHERE id = ANY(%s)", (w,))
        else:
            look.execute(f"SELECT id, model FROM responses WHERE id IN ({', '.join('?' * len(w))})", w)
        models.update(look.fetchall())

    with store.engine.connect() as c:
        raw = c.connection.dbapi_connection
        cur = raw.cursor(name="assay_export") if pg else raw.cursor()  # PostgreSQL: a server-side cursor
        if pg:
            cur.itersize = CHUNK
        look = raw.cursor()
        try:
            cur.execute(sql, (camp.id,))
            while rows := cur.fetchmany(CHUNK):
                get = models.get
                if rate:
                    look_up({r[ids_at] for r in rows})
                    rows = [(*r, get(r[ids_at])) for r in rows]
                else:
                    rows = [list(r) for r in rows]
                    ids = [orjson.loads(r[ids_at]) for r in rows]
                    look_up({x for i in ids for x in i})
                    for r, i in zip(rows, ids):
                        r.append([get(x) for x in i])
                        r.append(get(r[win_at]) if r[win_at] else None)
                yield names, jsons, rows
        finally:
            cur.close()
            look.close()


def export_records(store: Store, camp: R.Campaign) -> Iterator[dict[str, Any]]:
    """Every judgment (rating campaigns) or comparison of a campaign, in id order, as the dict
    ``record.model_dump(mode="json")`` gives plus ``model`` (or ``models`` and ``winner_model``)."""
    for names, jsons, rows in _chunks(store, camp):
        for row in rows:
            r = list(row)
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
            keys = [names[i] for i in jsons]
            out = []
            for r in rows:
                d = dict(zip(names, r))
                for k in keys:  # JSON text as stored goes out as it is, without a parse
                    if d[k] is not None:
                        d[k] = orjson.Fragment(d[k])
                out.append(orjson.dumps(d))
            piece = b"\n".join(out).decode() + "\n"
        else:
            lists = jsons if camp.kind == "rate" else [*jsons, len(names) - 2]  # and the comparisons' models
            if camp.kind != "rate" or not all(r[i] in _EMPTY for r in rows for i in jsons):
                rows = [list(r) for r in rows]
                for r in rows:
                    for i in lists:
                        r[i] = _json_cell(r[i], ascii_json)
            piece = _csv(rows, names if header else None, guard=False)
            # a cell a spreadsheet would run starts a line or follows a comma (or a quote): only a chunk
            # where that may be so is written again cell by cell
            if formula_guard and (_MAY_RUN.search(piece) or piece[:1] in _GUARDED or piece[1:2] in _GUARDED):
                piece = _csv(rows, names if header else None, guard=True)
            header = False
        counts["rows"] += len(rows)
        yield piece


_EMPTY = frozenset({"[]", "{}", None})
_MAY_RUN = re.compile("[,\n]\"?[" + re.escape("".join(_GUARDED)) + "]")


def _csv(rows: list[Any], header: list[str] | None, *, guard: bool) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # csv.DictWriter's dialect: excel
    if header:
        w.writerow(header)
    if guard:
        w.writerows([QUOTE + v if v.__class__ is str and v[:1] in _GUARDED else v for v in r] for r in rows)
    else:
        w.writerows(rows)
    return buf.getvalue()


def _json_cell(v: Any, ascii_json: bool) -> Any:
    """A JSON field as a CSV cell: a list or an object as JSON text (as ``json.dumps`` writes it)."""
    if v is None or v == "[]" or v == "{}":
        return v
    if isinstance(v, str):
        v = orjson.loads(v)
    return json.dumps(v, ensure_ascii=ascii_json) if isinstance(v, (list, dict)) else v
