"""The rating app's hot path on PostgreSQL: one statement per submission.

A submission writes its idempotency row, its judgments or comparison (and an edge case
when flagged), marks the assignment done, and claims the rater's next unit. Issued as
separate statements that is ten round trips and as many passes through the driver; here
it is one statement of data-modifying CTEs, run in autocommit (a statement is its own
transaction), so each submission costs the server one round trip and the database one
commit. The same SQL serves the library (:func:`record_and_claim`, through the store's
engine) and the server (:class:`AsyncPG`, through an asyncio pool, with no thread hop).

The next assignment's id and shown order are computed in SQL, with the same sha256
recipes (keyed with the store's secret) as :func:`assay.annotate.queue.assignment_id` and
``shown_order``; a test holds the two to each other.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from assay import records as R
from assay.store import tables as T
from assay.store.store import from_row, to_row

if TYPE_CHECKING:
    from assay.store import Store

BIG = 2**31 - 1  # "no cap": gold units, and every unit in calibration mode

# which tables a submission may write records to, by record type
_KIND_OF = {R.Judgment: "judgments", R.Comparison: "comparisons", R.EdgeCase: "edge_cases"}
SubmissionRecord = R.Judgment | R.Comparison | R.EdgeCase

_SEP = "chr(31)"
# keyed with the store's secret (%(key)s, see queue.assignment_id): raters cannot compute either
_ASSIGNMENT_ID = (f"left(encode(sha256(convert_to('assignment' || {_SEP} || %(key)s || {_SEP} || %(cid)s || {_SEP} || "
                  f"p.unit_id || {_SEP} || %(rid)s || {_SEP}, 'UTF8')), 'hex'), 32)")
_SHOWN_ORDER = (f"(SELECT json_agg(r ORDER BY sha256(convert_to('order' || {_SEP} || %(key)s || {_SEP} || %(cid)s || "
                f"{_SEP} || cl.assignment_id || {_SEP} || r || {_SEP}, 'UTF8'))) "
                f"FROM json_array_elements_text(p.response_ids) r)")


# a unit this rater may still be given: room below its cap (gold and calibration: no cap), not had
# before. ``OFFSET 0`` keeps the NOT EXISTS a per-unit index probe: as an anti-join the planner
# reads all of the rater's claims every time.
_OPEN_TO_RATER = """u.campaign_id = %(cid)s AND u.has_room AND (u.is_gold OR u.n_claims < %(cap)s)
    AND NOT EXISTS (SELECT 1 FROM unit_claims m
                    WHERE m.campaign_id = %(cid)s AND m.unit_id = u.unit_id AND m.rater_id = %(rid)s OFFSET 0)"""


def _pick(name: str, gold: str, after: str) -> str:
    """One pool's claim: the first unit in queue order open to this rater, not being claimed by
    someone else right now (SKIP LOCKED), unless the rater has another assignment pending."""
    return f"""{name} AS (
  SELECT u.unit_id, u.response_ids, u.is_gold FROM campaign_units u
  WHERE %(claim)s {after} AND NOT (SELECT pending FROM mine) AND u.is_gold = {gold} AND {_OPEN_TO_RATER}
  ORDER BY u.position LIMIT 1 FOR UPDATE OF u SKIP LOCKED)"""


@functools.cache
def statement(kinds: tuple[str, ...], submitting: bool = True) -> str:
    """The SQL: record a submission writing rows of ``kinds`` (when ``submitting``), then claim.

    Parameters: aid, cid, rid, kind, record_ids, now, one ``rows_<kind>`` JSON array per kind,
    claim (bool), cap (int), calibration (bool), gold_share (float), cur_gold (int: the
    submitted unit is gold). Returns one row: created (0/1), the next assignment's columns
    (NULL when none was claimed), busy (free units exist but all are being claimed) and pending
    (the rater has another assignment pending, so none is claimed).

    At most one pending assignment per rater and campaign: the unique index
    ``ux_assignments_one_pending`` refuses a second (a racing claim fails as a whole, see
    :func:`record_and_claim`); the submitted assignment is marked done before the next is inserted.
    """
    ctes = []
    if submitting:
        ctes.append("""sub AS (
  INSERT INTO submissions (assignment_id, campaign_id, rater_id, kind, record_ids, created_at)
  VALUES (%(aid)s, %(cid)s, %(rid)s, %(kind)s, %(record_ids)s::json, %(now)s)
  ON CONFLICT DO NOTHING RETURNING assignment_id)""")
        for kind in kinds:
            table = T.TABLES[kind].name
            ctes.append(f"""w_{table} AS (
  INSERT INTO {table} SELECT * FROM json_populate_recordset(NULL::{table}, %(rows_{kind})s::json)
  WHERE EXISTS (SELECT 1 FROM sub) ON CONFLICT DO NOTHING)""")
        ctes.append("""fin AS (
  UPDATE assignments SET status = 'done', submitted_at = %(now)s
  WHERE id = %(aid)s AND EXISTS (SELECT 1 FROM sub) RETURNING id)""")
        after = "AND EXISTS (SELECT 1 FROM sub)"
        done = "count(*) FILTER (WHERE status = 'done') + 1"  # this submission is done, not yet in the snapshot
        gold_done = "count(*) FILTER (WHERE status = 'done' AND is_gold) + %(cur_gold)s"
    else:
        after = ""
        done = "count(*) FILTER (WHERE status = 'done')"
        gold_done = "count(*) FILTER (WHERE status = 'done' AND is_gold)"
    ctes.append("""mine AS (
  SELECT EXISTS (SELECT 1 FROM assignments WHERE campaign_id = %(cid)s AND rater_id = %(rid)s
                 AND status = 'pending' AND id <> %(aid)s) AS pending)""")
    # gold first in calibration mode, or while gold is short of its share of the rater's work
    ctes.append(f"""want AS (
  SELECT CASE WHEN %(calibration)s THEN true WHEN %(gold_share)s <= 0 THEN false
    ELSE (SELECT {gold_done} < %(gold_share)s * ({done} + 1) FROM assignments
          WHERE campaign_id = %(cid)s AND rater_id = %(rid)s AND id <> %(aid)s) END AS gold_first)""")
    ctes.append(_pick("pick1", "(SELECT gold_first FROM want)", after))
    ctes.append(_pick("pick2", "NOT (SELECT gold_first FROM want)", after + " AND NOT EXISTS (SELECT 1 FROM pick1)"))
    ctes.append("pick AS (SELECT * FROM pick1 UNION ALL SELECT * FROM pick2 LIMIT 1)")
    ctes.append(f"""cl AS (
  INSERT INTO unit_claims (campaign_id, unit_id, rater_id, assignment_id, created_at)
  SELECT %(cid)s, p.unit_id, %(rid)s, {_ASSIGNMENT_ID}, %(now)s FROM pick p
  ON CONFLICT DO NOTHING RETURNING unit_id, assignment_id)""")
    ctes.append("""bump AS (
  UPDATE campaign_units u SET n_claims = u.n_claims + 1, has_room = u.is_gold OR u.n_claims + 1 < %(cap)s FROM cl
  WHERE u.campaign_id = %(cid)s AND u.unit_id = cl.unit_id)""")
    # data-modifying CTEs run in no set order: reading ``fin`` first makes the submitted assignment
    # done before the next one is inserted, which the one-pending index would otherwise refuse
    done_first = "WHERE (SELECT count(*) FROM fin) >= 0" if submitting else ""
    ctes.append(f"""nxt AS (
  INSERT INTO assignments (id, campaign_id, rater_id, response_ids, shown_order, is_gold, status, created_at)
  SELECT cl.assignment_id, %(cid)s, %(rid)s, p.response_ids, {_SHOWN_ORDER}, p.is_gold, 'pending', %(now)s
  FROM cl JOIN pick p ON p.unit_id = cl.unit_id {done_first}
  ON CONFLICT (id) DO NOTHING RETURNING id, response_ids, shown_order, is_gold, created_at)""")
    created = "(SELECT count(*) FROM sub)" if submitting else "0"
    busy = f"""CASE WHEN %(claim)s {after} AND NOT EXISTS (SELECT 1 FROM pick) AND NOT (SELECT pending FROM mine)
  THEN EXISTS (
    SELECT 1 FROM campaign_units u WHERE {_OPEN_TO_RATER})
  ELSE false END"""
    return ("WITH " + ",\n".join(ctes) + f"\nSELECT {created} AS created, nxt.id, nxt.response_ids, "
            f"nxt.shown_order, nxt.is_gold, nxt.created_at, {busy} AS busy,\n"
            f"CASE WHEN %(claim)s {after} THEN (SELECT pending FROM mine) ELSE false END AS pending\n"
            "FROM (SELECT 1) one LEFT JOIN nxt ON true")


def _json(v: Any) -> str:
    return orjson.dumps(v).decode()  # datetimes as RFC 3339, which PostgreSQL reads back exactly


def params(camp: R.Campaign, asg: R.Assignment | None, rater_id: str, records: Sequence[SubmissionRecord] = (),
           *, kind: str = "", claim: bool, key: str, now: datetime | None = None
           ) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The kinds written and the parameters of :func:`statement` for one submission (or claim)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    ids = []
    for rec in records:
        k = _KIND_OF[type(rec)]
        rows.setdefault(k, []).append(to_row(k, rec))
        if k != "edge_cases":
            ids.append(rec.id)
    p: dict[str, Any] = {
        "aid": asg.id if asg is not None else "", "cid": camp.id, "rid": rater_id, "kind": kind,
        "record_ids": _json(ids), "now": now or R.utcnow(), "claim": claim,
        "cap": BIG if camp.calibration else camp.overlap, "calibration": camp.calibration,
        "gold_share": float(camp.gold_share), "cur_gold": int(bool(asg is not None and asg.is_gold)), "key": key,
    }
    for k, rs in rows.items():
        p[f"rows_{k}"] = _json(rs)
    return tuple(sorted(rows)), p


def result(row: Any, camp: R.Campaign, rater_id: str) -> tuple[bool, R.Assignment | str | None]:
    """(whether the submission was new, then the claimed assignment; "pending" when the rater has
    another assignment pending; "busy"; or None when none is left)."""
    created, aid, response_ids, shown, is_gold, created_at, busy, pending = row
    if aid is None:
        return bool(created), "pending" if pending else "busy" if busy else None
    asg = from_row(R.Assignment, {"id": aid, "campaign_id": camp.id, "rater_id": rater_id,
                                  "response_ids": response_ids, "shown_order": shown, "is_gold": is_gold,
                                  "status": "pending", "created_at": created_at, "submitted_at": None})
    return bool(created), asg


def claim_raced(error: Any) -> bool:
    """Whether a database error is a claim refused because the rater got another pending
    assignment meanwhile (a racing request); the statement then changed nothing."""
    diag = getattr(error, "diag", None)
    return getattr(diag, "constraint_name", None) == "ux_assignments_one_pending"


def _raced(outcome: tuple[bool, R.Assignment | str | None]) -> tuple[bool, R.Assignment | str | None]:
    """The outcome of a statement rerun without its claim after the claim raced: "pending"."""
    return outcome[0], "pending"


def record_and_claim(store: Store, camp: R.Campaign, asg: R.Assignment | None, rater_id: str,
                     records: Sequence[SubmissionRecord] = (), *, kind: str = "", claim: bool,
                     conn: Any = None) -> tuple[bool, R.Assignment | str | None]:
    """Run :func:`statement` through the store's engine (the library's path on PostgreSQL)."""
    from sqlalchemy.exc import IntegrityError

    from assay.store.rating import app_secret

    kinds, p = params(camp, asg, rater_id, records, kind=kind, claim=claim, key=app_secret(store))
    sql = statement(kinds, submitting=asg is not None and bool(records))

    def run(values: dict[str, Any]) -> tuple[bool, R.Assignment | str | None]:
        if conn is not None:
            with conn.begin_nested():  # a savepoint: a raced claim must not abort the caller's transaction
                return result(conn.exec_driver_sql(sql, values).one(), camp, rater_id)
        with store.engine.begin() as c:
            return result(c.exec_driver_sql(sql, values).one(), camp, rater_id)

    try:
        return run(p)
    except IntegrityError as e:
        if not claim_raced(e.orig):
            raise
    # the claim raced another of this rater's requests: store the submission alone
    return _raced(run({**p, "claim": False}))


# ---- the server's asyncio path ----------------------------------------------------------------


def _cols(table: Any, prefix: str, alias: str) -> str:
    return ", ".join(f'{alias}."{c.name}" AS {prefix}{c.name}' for c in table.columns)


READ = (f"""SELECT s.csrf_token, s.expires_at, u.name, u.role, u.rater_id, u.disabled,
  {_cols(T.assignments, "a_", "a")}, {_cols(T.campaigns, "c_", "c")},
  (SELECT r.item_id FROM responses r WHERE r.id = a.response_ids->>0) AS item_id
FROM app_sessions s JOIN users u ON u.name = s.user_name
LEFT JOIN assignments a ON a.id = %(aid)s
LEFT JOIN campaigns c ON c.id = a.campaign_id
WHERE s.token_hash = %(th)s""")


# what the page of an assignment shows beyond READ: its responses, its item, the rater's queue
PAGE = f"""SELECT
  (SELECT json_object_agg(r.id, json_build_object('model', r.model, 'text', r.text)) FROM responses r
   WHERE r.id IN (SELECT json_array_elements_text(%(ids)s::json))) AS responses,
  (SELECT json_build_object('prompt', i.prompt, 'messages', i.messages,
                            'goal', CASE WHEN i.metadata->>'attack' IS NOT NULL THEN i.metadata->>'goal' END)
   FROM items i WHERE i.id = %(item)s) AS item,
  n.done, n.gold_done, n.pending, n.skipped,
  CASE WHEN %(open)s THEN (SELECT count(*) FROM (
    SELECT 1 FROM campaign_units u WHERE {_OPEN_TO_RATER}
    LIMIT %(limit)s) x) ELSE 0 END AS available
FROM (SELECT count(*) FILTER (WHERE status = 'done') AS done,
             count(*) FILTER (WHERE status = 'done' AND is_gold) AS gold_done,
             count(*) FILTER (WHERE status = 'pending') AS pending,
             count(*) FILTER (WHERE status = 'skipped') AS skipped
      FROM assignments WHERE campaign_id = %(cid)s AND rater_id = %(rid)s) n"""


def split_read(row: dict[str, Any]) -> tuple[dict[str, Any], R.Assignment | None, R.Campaign | None, str | None]:
    """The session part, the assignment and campaign (None when the id is unknown), the unit's item."""
    session = {k: row[k] for k in ("csrf_token", "expires_at", "name", "role", "rater_id", "disabled")}
    if row["a_id"] is None or row["c_id"] is None:
        return session, None, None, None
    asg = from_row(R.Assignment, {k[2:]: v for k, v in row.items() if k.startswith("a_")})
    camp = from_row(R.Campaign, {k[2:]: v for k, v in row.items() if k.startswith("c_")})
    return session, asg, camp, row["item_id"]


def conninfo(url: str) -> tuple[str, dict[str, Any]]:
    """A libpq connection string and connect options from a store URL (``?schema=`` as search_path)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    schema = u.query.get("schema")
    u = u.difference_update_query(["schema"]).set(drivername="postgresql")
    kw: dict[str, Any] = {"autocommit": True}
    if schema:
        kw["options"] = f"-csearch_path={schema}"
    return u.render_as_string(hide_password=False), kw


class AsyncPG:
    """An asyncio connection pool for the submission path of one server process."""

    def __init__(self, url: str, size: int = 8) -> None:
        from psycopg_pool import AsyncConnectionPool

        info, kw = conninfo(url)
        self.pool = AsyncConnectionPool(info, kwargs=kw, min_size=min(2, size), max_size=size, open=False)

    async def open(self) -> None:
        await self.pool.open()

    async def close(self) -> None:
        await self.pool.close()

    async def read(self, token_hash: str, assignment_id: str) -> dict[str, Any] | None:
        """The session, its user, the assignment with its campaign and item, in one query."""
        from psycopg.rows import dict_row

        async with self.pool.connection() as c:
            cur = c.cursor(row_factory=dict_row)
            await cur.execute(READ, {"th": token_hash, "aid": assignment_id})
            return await cur.fetchone()

    async def page(self, camp: R.Campaign, asg: R.Assignment, item_id: str | None, *, is_open: bool,
                   limit: int) -> dict[str, Any]:
        """Responses (id -> model, text), the item (prompt, messages) and the rater's queue counts
        (``available`` counted up to ``limit``) for the page of an assignment."""
        from psycopg.rows import dict_row

        p = {"ids": _json(asg.response_ids), "item": item_id, "cid": camp.id, "rid": asg.rater_id,
             "open": is_open, "cap": BIG if camp.calibration else camp.overlap, "limit": limit}
        async with self.pool.connection() as c:
            cur = c.cursor(row_factory=dict_row)
            await cur.execute(PAGE, p)
            row = await cur.fetchone()
        if row is None:  # the statement aggregates over the unit, so it always answers one row
            raise RuntimeError("the page statement answered no row")
        return row

    async def record_and_claim(self, camp: R.Campaign, asg: R.Assignment, records: Sequence[SubmissionRecord], *,
                               kind: str, claim: bool, key: str) -> tuple[bool, R.Assignment | str | None]:
        """``key``: the store's secret (``store.rating.app_secret``), which keys the next assignment's id and order."""
        from psycopg import errors

        kinds, p = params(camp, asg, asg.rater_id, records, kind=kind, claim=claim, key=key)
        async with self.pool.connection() as c:
            try:
                cur = await c.execute(statement(kinds), p)
                return result(await cur.fetchone(), camp, asg.rater_id)
            except errors.UniqueViolation as e:
                if not claim_raced(e):
                    raise
            # the claim raced another of this rater's requests: store the submission alone
            cur = await c.execute(statement(kinds), {**p, "claim": False})
            return _raced(result(await cur.fetchone(), camp, asg.rater_id))
