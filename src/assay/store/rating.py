"""SQL for the rating app: accounts, sessions, login attempts, the campaign queue and submissions.

Kept beside the store so that `annotate/` and `server/` never write SQL themselves. Every
function takes the :class:`~assay.store.Store` first; timestamps are UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from assay import records as R
from assay.store import tables as T
from assay.store.store import Store, from_row


def _insert_ignore(store: Store, table):
    """INSERT ... ON CONFLICT DO NOTHING on either backend."""
    dialect = postgresql if store.backend == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def _inserted(store: Store, c: Connection, table, row: dict[str, Any]) -> bool:
    """Insert one row unless its key exists; True when it was inserted.

    Uses RETURNING rather than rowcount, which drivers do not all report for ON CONFLICT.
    """
    key = next(iter(table.primary_key.columns))
    return c.execute(_insert_ignore(store, table).returning(key), row).first() is not None


_READERS: dict[int, Engine] = {}
_STMTS: dict[str, Any] = {}


def _stmt(name: str, build: Callable[[], Any]) -> Any:
    """A statement built once per process: the hot paths of the app skip SQLAlchemy's construction."""
    st = _STMTS.get(name)
    if st is None:
        st = _STMTS[name] = build()
    return st


def _reader(store: Store) -> Engine:
    """An engine for single reads. A server's PostgreSQL store has a second, autocommit pool for
    them (no BEGIN / ROLLBACK round trips); otherwise the store's own engine."""
    return _READERS.get(id(store.engine), store.engine)


def campaign(store: Store, campaign_id: str) -> R.Campaign | None:
    with _reader(store).connect() as c:
        row = c.execute(select(T.campaigns).where(T.campaigns.c.id == campaign_id)).mappings().first()
    return from_row(R.Campaign, dict(row)) if row else None


def server_engine(url: str | None, *, pool_size: int = 8):
    """An engine for a long-running server process: PostgreSQL without a ping before every checkout
    (one round trip fewer per query; connections are recycled instead), SQLite as usual."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from assay.store.engine import make_engine, resolve_url

    url = resolve_url(url)
    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        return make_engine(url)
    schema = u.query.get("schema")
    kw: dict[str, Any] = {"pool_size": pool_size, "max_overflow": pool_size, "pool_recycle": 600}
    if schema:
        u = u.difference_update_query(["schema"])
        kw["connect_args"] = {"options": f"-csearch_path={schema}"}
    engine = create_engine(u, **kw)
    if schema:
        with engine.begin() as c:
            c.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    _READERS[id(engine)] = create_engine(u, isolation_level="AUTOCOMMIT", **kw)
    return engine


def assignment_and_campaign(store: Store, assignment_id: str) -> tuple[R.Assignment, R.Campaign] | None:
    """An assignment and its campaign in one query."""
    a, cp = T.assignments, T.campaigns

    def build():
        cols = [c.label(f"a_{c.name}") for c in a.columns] + [c.label(f"c_{c.name}") for c in cp.columns]
        return select(*cols).join_from(a, cp, cp.c.id == a.c.campaign_id).where(a.c.id == bindparam("aid"))

    with _reader(store).connect() as c:
        row = c.execute(_stmt("assignment_and_campaign", build), {"aid": assignment_id}).mappings().first()
    if row is None:
        return None
    asg = {k[2:]: v for k, v in row.items() if k.startswith("a_")}
    camp = {k[2:]: v for k, v in row.items() if k.startswith("c_")}
    return from_row(R.Assignment, asg), from_row(R.Campaign, camp)


# ---- users ------------------------------------------------------------------------------


def insert_user(store: Store, row: dict[str, Any], conn: Connection | None = None) -> bool:
    """Add an account; False when the name is taken."""
    with store._conn(conn) as c:
        return _inserted(store, c, T.users, row)


def get_user(store: Store, name: str) -> dict[str, Any] | None:
    with _reader(store).connect() as c:
        row = c.execute(select(T.users).where(T.users.c.name == name)).mappings().first()
    return dict(row) if row else None


def list_users(store: Store) -> list[dict[str, Any]]:
    with _reader(store).connect() as c:
        return [dict(r) for r in c.execute(select(T.users).order_by(T.users.c.name)).mappings()]


def set_user(store: Store, name: str, **values: Any) -> bool:
    with store.engine.begin() as c:
        n = c.execute(update(T.users).where(T.users.c.name == name).values(**values)).rowcount
        if values.get("disabled") or "password_hash" in values:
            # a disabled account or a new password ends every open session
            c.execute(delete(T.app_sessions).where(T.app_sessions.c.user_name == name))
    return n == 1


def demote_user(store: Store, name: str, **values: Any) -> Literal["done", "missing", "last admin"]:
    """Change a user in a way that may take admin rights away (another role, disabled), unless they
    are the last enabled admin. One conditional UPDATE, which SQLite's write lock serialises; on
    PostgreSQL the enabled admins' rows are locked first, so two admins demoting each other at
    once cannot both succeed."""
    u, o = T.users, T.users.alias("other")
    admin = (u.c.role == "admin") & u.c.disabled.is_(False)
    another = exists(select(o.c.name).where(o.c.role == "admin", o.c.disabled.is_(False), o.c.name != name))
    with store.engine.begin() as c:
        if store.backend == "postgresql":
            c.execute(select(u.c.name).where(admin).with_for_update())
        if c.execute(update(u).where(u.c.name == name, ~admin | another).values(**values)).rowcount == 1:
            if values.get("disabled"):
                c.execute(delete(T.app_sessions).where(T.app_sessions.c.user_name == name))
            return "done"
        found = c.execute(select(u.c.name).where(u.c.name == name)).first() is not None
    return "last admin" if found else "missing"


# ---- sessions and login attempts ---------------------------------------------------------


def insert_session(store: Store, row: dict[str, Any]) -> None:
    with store.engine.begin() as c:
        c.execute(insert(T.app_sessions), row)


def session_user(store: Store, token_hash: str) -> dict[str, Any] | None:
    """The session and its user (see ``accounts.user_of_session`` for expiry and disabled users)."""
    s, u = T.app_sessions, T.users
    stmt = _stmt("session_user", lambda: select(s.c.csrf_token, s.c.expires_at, u.c.name, u.c.role, u.c.rater_id,
                                                u.c.disabled).join(u, u.c.name == s.c.user_name)
                 .where(s.c.token_hash == bindparam("token_hash")))
    with _reader(store).connect() as c:
        row = c.execute(stmt, {"token_hash": token_hash}).mappings().first()
    return dict(row) if row is not None else None


def delete_session(store: Store, token_hash: str) -> None:
    with store.engine.begin() as c:
        c.execute(delete(T.app_sessions).where(T.app_sessions.c.token_hash == token_hash))


def record_login_attempt(store: Store, keys: Iterable[str], ok: bool, at: datetime) -> None:
    """Log a password check (one row per key, kept a day), and drop login counters idle for a day."""
    rows = [{"id": R.new_id(), "key": k[:200], "ok": ok, "at": at} for k in keys]
    with store.engine.begin() as c:
        c.execute(insert(T.login_attempts), rows)
        # keep the tables small: attempts older than a day no longer matter
        c.execute(delete(T.login_attempts).where(T.login_attempts.c.at < at - timedelta(days=1)))
    # a separate transaction: it must not hold a counter's row lock while waiting for another's
    with store.engine.begin() as c:
        c.execute(delete(T.login_limits).where(T.login_limits.c.window_end < at.timestamp() - 86400))


class _Full(Exception):
    def __init__(self, key: str, window_end: float) -> None:
        self.key, self.window_end = key, window_end


def reserve_login_check(store: Store, limits: Sequence[tuple[str, int, float, float]],
                        now: float) -> tuple[str, float] | None:
    """Count one password check against every key's limit, atomically, before the check runs.

    ``limits``: (key, most checks per window, first window in seconds, longest window in seconds).
    A key's window starts at its first check; a window that ended full makes the next one twice
    as long (up to the longest), one that did not brings it back to the first. Returns None when
    every key had room (the check is counted under all of them), else (the full key, when its
    window ends) with nothing counted. One upsert per key, in a fixed key order, in one
    transaction: concurrent checks, in any number of server processes, each get their own count.
    """
    t = T.login_limits
    dialect = postgresql if store.backend == "postgresql" else sqlite
    try:
        with store.engine.begin() as c:
            for key, limit, first, longest in limits:
                ended = t.c.window_end <= now
                span = case((t.c.n < limit, first), (t.c.span * 2 > longest, longest), else_=t.c.span * 2)
                stmt = dialect.insert(t).values(key=key, n=1, window_end=now + first, span=first)
                stmt = stmt.on_conflict_do_update(index_elements=[t.c.key], set_={
                    "n": case((ended, 1), else_=t.c.n + 1),
                    "span": case((ended, span), else_=t.c.span),
                    "window_end": case((ended, now + span), else_=t.c.window_end),
                }).returning(t.c.n, t.c.window_end)
                n, end = c.execute(stmt).one()
                if n > limit:
                    raise _Full(key, end)  # rolls back every count of this check
    except _Full as full:
        return full.key, full.window_end
    return None


def login_succeeded(store: Store, reset: Sequence[str], give_back: Sequence[str]) -> None:
    """After a right password: the ``reset`` keys start afresh, the ``give_back`` keys count one check fewer."""
    t = T.login_limits
    with store.engine.begin() as c:
        for key in give_back:
            c.execute(update(t).where(t.c.key == key, t.c.n > 0).values(n=t.c.n - 1))
        for key in reset:  # one at a time, in the order checks lock them
            c.execute(delete(t).where(t.c.key == key))


# ---- secrets --------------------------------------------------------------------------------


def app_secret(store: Store, name: str = "blind") -> str:
    """A random secret of the store (64 hex characters), made on first use and the same ever after
    for every worker and process on the store; remembered on the store handle.

    Two first uses racing both insert-or-ignore, then read back the one that won.
    """
    cache = store.__dict__.setdefault("_assay_app_secrets", {})
    if name not in cache:
        import secrets

        k = T.app_secrets
        with store.engine.begin() as c:
            c.execute(_insert_ignore(store, k),
                      {"name": name, "value": secrets.token_hex(32), "created_at": R.utcnow()})
            cache[name] = c.execute(select(k.c.value).where(k.c.name == name)).scalar_one()
    return cache[name]


# ---- campaigns: units, members, gold -----------------------------------------------------


def add_units(store: Store, rows: Sequence[dict[str, Any]], conn: Connection) -> None:
    if rows:
        conn.execute(insert(T.campaign_units), list(rows))


def add_frame(store: Store, rows: Sequence[dict[str, Any]], conn: Connection) -> None:
    """A sampled campaign's frame: every item that could be drawn, its probability, whether it was."""
    if rows:
        conn.execute(insert(T.campaign_frame), list(rows))


def campaign_frame(store: Store, campaign_id: str) -> dict[str, tuple[float, bool]]:
    """A sampled campaign's frame: item id -> (inclusion probability, drawn); empty for a campaign of all units."""
    t = T.campaign_frame
    with _reader(store).connect() as c:
        rows = c.execute(select(t.c.item_id, t.c.probability, t.c.selected).where(t.c.campaign_id == campaign_id))
        return {item: (float(p), bool(chosen)) for item, p, chosen in rows}


def add_members(store: Store, campaign_id: str, rater_ids: Iterable[str], conn: Connection | None = None) -> None:
    rows = [{"campaign_id": campaign_id, "rater_id": r} for r in rater_ids]
    if rows:
        with store._conn(conn) as c:
            c.execute(_insert_ignore(store, T.campaign_members), rows)


def members(store: Store, campaign_id: str) -> list[str]:
    m = T.campaign_members
    with _reader(store).connect() as c:
        return list(c.execute(select(m.c.rater_id).where(m.c.campaign_id == campaign_id).order_by(m.c.rater_id))
                    .scalars())


def is_member(store: Store, campaign_id: str, rater_id: str) -> bool:
    """Whether a rater may work on a campaign: listed, or the campaign lists nobody (open to all)."""
    m = T.campaign_members
    listed = select(m.c.rater_id).where(m.c.campaign_id == bindparam("cid"))
    stmt = _stmt("is_member", lambda: select(exists(listed), exists(listed.where(m.c.rater_id == bindparam("rid")))))
    with _reader(store).connect() as c:
        any_listed, this_one = c.execute(stmt, {"cid": campaign_id, "rid": rater_id}).one()
    return bool(this_one) or not any_listed


def refresh_queue_stats(store: Store) -> None:
    """PostgreSQL: fresh planner statistics on the queue tables after a campaign's units are added,
    so that claims walk the queue index in order instead of sorting the whole campaign."""
    if store.backend == "postgresql":
        with store.engine.connect() as c:
            c.exec_driver_sql("ANALYZE campaign_units, unit_claims")
            c.commit()


def add_gold(store: Store, rows: Sequence[dict[str, Any]], conn: Connection) -> None:
    if rows:
        conn.execute(insert(T.gold_answers), list(rows))


def gold_answers(store: Store, campaign_id: str | None, unit_id: str | None = None) -> list[dict[str, Any]]:
    """Gold answer rows of a campaign (of every campaign when ``campaign_id`` is None; then in
    campaign order), of one unit when ``unit_id`` is given, by unit and dimension."""
    g = T.gold_answers
    stmt = select(g)
    if campaign_id is not None:
        stmt = stmt.where(g.c.campaign_id == campaign_id)
    if unit_id is not None:
        stmt = stmt.where(g.c.unit_id == unit_id)
    with _reader(store).connect() as c:
        return [dict(r) for r in c.execute(stmt.order_by(g.c.campaign_id, g.c.unit_id, g.c.dimension)).mappings()]


def response_gold(store: Store, campaign_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Gold answers of a campaign's single-response units by (response id, dimension): value, label, explanation."""
    g, u = T.gold_answers, T.campaign_units
    stmt = (select(u.c.response_ids, g.c.dimension, g.c.value, g.c.label, g.c.explanation)
            .join(u, (u.c.campaign_id == g.c.campaign_id) & (u.c.unit_id == g.c.unit_id))
            .where(g.c.campaign_id == campaign_id))
    with _reader(store).connect() as c:
        rows = c.execute(stmt).all()
    return {(ids[0], dim): {"value": v, "label": lab, "explanation": ex} for ids, dim, v, lab, ex in rows
            if len(ids) == 1}


def units(store: Store, campaign_id: str) -> list[dict[str, Any]]:
    u = T.campaign_units
    with _reader(store).connect() as c:
        return [dict(r) for r in c.execute(select(u).where(u.c.campaign_id == campaign_id)
                                           .order_by(u.c.position)).mappings()]


def shows_response(store: Store, campaign_ids: Iterable[str], response: R.Response) -> bool:
    """Whether any of these campaigns has a unit with the response (looked up by its item)."""
    u = T.campaign_units
    ids = list(campaign_ids)
    if not ids:
        return False
    stmt = select(u.c.response_ids).where(u.c.campaign_id.in_(ids), u.c.item_id == response.item_id)
    with _reader(store).connect() as c:
        return any(response.id in rids for rids in c.execute(stmt).scalars())


def unit_of_assignment(store: Store, assignment_id: str) -> dict[str, Any] | None:
    cl = T.unit_claims
    with _reader(store).connect() as c:
        row = c.execute(select(cl).where(cl.c.assignment_id == assignment_id)).mappings().first()
    return dict(row) if row else None


# ---- the queue ---------------------------------------------------------------------------


def pending_assignment(store: Store, campaign_id: str, rater_id: str) -> R.Assignment | None:
    a = T.assignments
    stmt = (select(a).where(a.c.campaign_id == campaign_id, a.c.rater_id == rater_id, a.c.status == "pending")
            .order_by(a.c.created_at, a.c.id).limit(1))
    with _reader(store).connect() as c:
        row = c.execute(stmt).mappings().first()
    return from_row(R.Assignment, dict(row)) if row else None


def rater_counts(store: Store, campaign_id: str, rater_id: str) -> dict[str, int]:
    """How many assignments a rater has in a campaign: done, gold done, pending, skipped."""
    a = T.assignments
    stmt = (select(a.c.status, a.c.is_gold, func.count()).where(a.c.campaign_id == campaign_id,
                                                                a.c.rater_id == rater_id)
            .group_by(a.c.status, a.c.is_gold))
    out = {"done": 0, "gold_done": 0, "pending": 0, "skipped": 0}
    with _reader(store).connect() as c:
        for status, gold, n in c.execute(stmt):
            out[status] = out.get(status, 0) + n
            if gold and status == "done":
                out["gold_done"] += n
    return out


def candidate_units(store: Store, campaign_id: str, rater_id: str, *, gold: bool, cap: int | None,
                    limit: int = 40) -> list[dict[str, Any]]:
    """Units a rater has not claimed yet, still below the cap, in queue order."""
    u, cl = T.campaign_units, T.unit_claims
    mine = select(cl.c.unit_id).where(cl.c.campaign_id == campaign_id, cl.c.rater_id == rater_id)
    stmt = select(u.c.unit_id, u.c.item_id, u.c.response_ids, u.c.is_gold, u.c.n_claims).where(
        u.c.campaign_id == campaign_id, u.c.is_gold.is_(gold), u.c.unit_id.not_in(mine))
    if cap is not None:
        stmt = stmt.where(u.c.n_claims < cap)
    stmt = stmt.order_by(u.c.position).limit(limit)
    with _reader(store).connect() as c:
        return [dict(r) for r in c.execute(stmt).mappings()]


def count_available(store: Store, campaign_id: str, rater_id: str, *, cap: int | None,
                    limit: int | None = None) -> int:
    """Units this rater could still be given (regular units below the cap, plus gold units),
    counted up to ``limit`` when given (the count then reads no more of the queue than that)."""
    u, cl = T.campaign_units, T.unit_claims
    mine = (select(cl.c.unit_id).where(cl.c.campaign_id == campaign_id, cl.c.rater_id == rater_id,
                                       cl.c.unit_id == u.c.unit_id))
    cond = [u.c.campaign_id == campaign_id, u.c.has_room.is_(True), ~exists(mine)]
    if cap is not None:
        cond.append((u.c.is_gold.is_(True)) | (u.c.n_claims < cap))
    units = select(u.c.unit_id).where(*cond)
    if limit is not None:
        units = units.limit(limit)
    with _reader(store).connect() as c:
        return c.execute(select(func.count()).select_from(units.subquery())).scalar_one()


class _Lost(Exception):
    pass


def claim(store: Store, unit: dict[str, Any], assignment: R.Assignment,
          cap: int | None) -> Literal["claimed", "taken", "pending"]:
    """Give a unit to a rater as a new assignment, atomically.

    The counter update refuses a unit that already has ``cap`` raters ("taken"), the claim's key
    (campaign, unit, rater) a second copy for the same rater ("taken"), and the index
    ``ux_assignments_one_pending`` a second pending assignment of the rater in the campaign
    ("pending": another of their requests claimed meanwhile), on both backends and across
    server processes; a refused claim changes nothing.
    """
    u, cl = T.campaign_units, T.unit_claims
    try:
        with store.engine.begin() as c:
            cond = [u.c.campaign_id == assignment.campaign_id, u.c.unit_id == unit["unit_id"]]
            if cap is not None:
                cond.append(u.c.n_claims < cap)
            room = u.c.is_gold | (u.c.n_claims + 1 < cap) if cap is not None else True
            if c.execute(update(u).where(*cond).values(n_claims=u.c.n_claims + 1, has_room=room)).rowcount != 1:
                raise _Lost("taken")
            row = {"campaign_id": assignment.campaign_id, "unit_id": unit["unit_id"],
                   "rater_id": assignment.rater_id, "assignment_id": assignment.id, "created_at": R.utcnow()}
            if not _inserted(store, c, cl, row):
                raise _Lost("taken")
            # the id is new (its claim row just was): nothing inserted means another pending assignment
            if store.add([assignment], conn=c) != 1:
                raise _Lost("pending")
    except _Lost as lost:
        return lost.args[0]
    return "claimed"


# ---- submissions -------------------------------------------------------------------------


def submission(store: Store, assignment_id: str) -> dict[str, Any] | None:
    s = T.submissions
    with _reader(store).connect() as c:
        row = c.execute(select(s).where(s.c.assignment_id == assignment_id)).mappings().first()
    return dict(row) if row else None


def record_submission(store: Store, assignment: R.Assignment, kind: str, records: Sequence[R.Judgment | R.Comparison],
                      extra: Sequence[R.Record] = ()) -> tuple[bool, None]:
    """Write a submission's records once: the first call writes them all, any repeat writes nothing.

    The submission row is the idempotency key; it is inserted first, in the same transaction
    as the records, so two racing requests for one assignment cannot both write. (PostgreSQL
    stores use the single statement of ``rating_pg`` instead, which also claims the next unit.)
    """
    now = R.utcnow()
    row = {"assignment_id": assignment.id, "campaign_id": assignment.campaign_id, "rater_id": assignment.rater_id,
           "kind": kind, "record_ids": [r.id for r in records], "created_at": now}
    with store.engine.begin() as c:
        if not _inserted(store, c, T.submissions, row):
            return False, None
        store.add([*records, *extra], conn=c)
        c.execute(update(T.assignments).where(T.assignments.c.id == assignment.id)
                  .values(status="done", submitted_at=now))
    return True, None


# ---- progress ----------------------------------------------------------------------------


def campaign_progress(store: Store, campaign_id: str) -> dict[str, Any]:
    """Units, gold units and assignments by status, and per rater."""
    u, a = T.campaign_units, T.assignments
    with _reader(store).connect() as c:
        unit_counts = {bool(g): n for g, n in c.execute(
            select(u.c.is_gold, func.count()).where(u.c.campaign_id == campaign_id).group_by(u.c.is_gold))}
        per_rater: dict[str, dict[str, int]] = {}
        for rater, status, gold, n in c.execute(
                select(a.c.rater_id, a.c.status, a.c.is_gold, func.count()).where(a.c.campaign_id == campaign_id)
                .group_by(a.c.rater_id, a.c.status, a.c.is_gold)):
            d = per_rater.setdefault(rater, {"done": 0, "pending": 0, "gold_done": 0})
            d[status] = d.get(status, 0) + n
            if gold and status == "done":
                d["gold_done"] += n
    return {"units": unit_counts.get(False, 0), "gold_units": unit_counts.get(True, 0), "raters": per_rater}


def guideline_lines(store: Store, rubric: str) -> dict[int, tuple[str | None, str | None]]:
    """A rubric's guideline versions, each with the line it belongs to: (campaign, its lead) of the
    edge case that made it, or (None, None) for the rubric's shared line. One query, so the
    versions are a consistent snapshot."""
    g, e, cp = T.guidelines, T.edge_cases, T.campaigns
    stmt = (select(g.c.version, e.c.campaign_id, cp.c.created_by)
            .select_from(g.outerjoin(e, e.c.id == g.c.edge_case_id).outerjoin(cp, cp.c.id == e.c.campaign_id))
            .where(g.c.rubric == rubric))
    with store.engine.connect() as c:
        return {v: (cid, by if cid is not None else None) for v, cid, by in c.execute(stmt)}


def start_guideline_version(store: Store, rubric: str, lead: str | None) -> int:
    """The guideline version a new campaign of ``lead`` starts from: the latest of the lead's own
    line on the rubric, else the rubric's latest shared version (1 when it has none)."""
    lines = guideline_lines(store, rubric)
    own = [v for v, (cid, by) in lines.items() if cid is not None and by == lead]
    shared = [v for v, (cid, _) in lines.items() if cid is None]
    return max(own or shared or [1])


def move_guidelines(store: Store, camp: R.Campaign, from_version: int, to_version: int, conn: Connection) -> bool:
    """Move a campaign, and its lead's open campaigns on the same rubric at the same version, to a
    new guideline version; False (nothing moved) when the campaign is no longer at ``from_version``."""
    cp = T.campaigns
    same_line = ((cp.c.rubric == camp.rubric) & (cp.c.status == "open")
                 & cp.c.created_by.is_not_distinct_from(camp.created_by))
    moved = conn.execute(update(cp).where((cp.c.id == camp.id) | same_line, cp.c.guideline_version == from_version)
                         .values(guideline_version=to_version).returning(cp.c.id)).scalars().all()
    return camp.id in moved


# ---- skips -------------------------------------------------------------------------------


def record_skip(store: Store, assignment: R.Assignment, unit_id: str, reason: str) -> bool:
    """Close a pending assignment as skipped, once; True when this call did it.

    In one transaction: a submissions row (kind "skip", no records), which is what makes an
    assignment close once, so a later or racing answer to it writes nothing; the status, only
    from pending; the skip with its reason; and the unit's claim count down by one, which
    returns the slot to the queue. The rater's own claim row stays, so they are not given
    the unit again. False, with nothing changed, when it was answered or skipped already.
    """
    now = R.utcnow()
    a, u = T.assignments, T.campaign_units
    sub = {"assignment_id": assignment.id, "campaign_id": assignment.campaign_id, "rater_id": assignment.rater_id,
           "kind": "skip", "record_ids": [], "created_at": now}
    try:
        with store.engine.begin() as c:
            if not _inserted(store, c, T.submissions, sub):
                return False
            if c.execute(update(a).where(a.c.id == assignment.id, a.c.status == "pending")
                         .values(status="skipped")).rowcount != 1:
                raise _Lost
            c.execute(insert(T.skips), {"assignment_id": assignment.id, "campaign_id": assignment.campaign_id,
                                        "rater_id": assignment.rater_id, "unit_id": unit_id, "reason": reason,
                                        "created_at": now})
            # one claim fewer always leaves room, so the unit is back in the queue's partial index
            c.execute(update(u).where(u.c.campaign_id == assignment.campaign_id, u.c.unit_id == unit_id,
                                      u.c.n_claims > 0).values(n_claims=u.c.n_claims - 1, has_room=True))
    except _Lost:
        return False
    return True


def skips(store: Store, campaign_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """A campaign's skips, latest first: assignment, rater, unit, reason, time."""
    k = T.skips
    stmt = select(k).where(k.c.campaign_id == campaign_id).order_by(k.c.created_at.desc(), k.c.assignment_id)
    with _reader(store).connect() as c:
        rows = [dict(r) for r in c.execute(stmt.limit(limit) if limit else stmt).mappings()]
    for r in rows:  # SQLite gives naive UTC times back
        if r["created_at"].tzinfo is None:
            r["created_at"] = r["created_at"].replace(tzinfo=R.utcnow().tzinfo)
    return rows


# ---- answers made in another annotation tool -----------------------------------------------


def record_imported(store: Store, raters: Sequence[R.Rater],
                    batch: Sequence[tuple[str, R.Assignment, Sequence[R.Judgment | R.Comparison],
                                          Sequence[R.Record]]],
                    ) -> tuple[int, int, int, int]:
    """Write answers made outside the app as the app's own submissions, all in one transaction.

    ``batch``: (the unit id, a done assignment of it, its records, the edge cases it opens). Each is written like a
    claim followed by a submission: the assignment (or, when the rater already holds it pending
    in the app, that one marked done), the unit's claim and count, the submission row and the
    records. An assignment already submitted is left as it was. Returns (submissions added,
    already stored, records added, edge cases added).
    """
    u, a = T.campaign_units, T.assignments
    added = dups = n_records = n_edges = 0
    with store.engine.begin() as c:
        store.add(raters, conn=c)
        for unit_id, asg, records, extra in batch:
            row = {"assignment_id": asg.id, "campaign_id": asg.campaign_id, "rater_id": asg.rater_id,
                   "kind": "judgments" if isinstance(records[0], R.Judgment) else "comparisons",
                   "record_ids": [r.id for r in records], "created_at": asg.submitted_at}
            if not _inserted(store, c, T.submissions, row):
                dups += 1
                continue
            done = {"status": "done", "submitted_at": asg.submitted_at}
            if c.execute(update(a).where(a.c.id == asg.id).values(**done)).rowcount == 0:
                unit = c.execute(select(u.c.unit_id, u.c.is_gold, u.c.n_claims).where(
                    u.c.campaign_id == asg.campaign_id, u.c.unit_id == unit_id)).one()
                claim = {"campaign_id": asg.campaign_id, "unit_id": unit.unit_id, "rater_id": asg.rater_id,
                         "assignment_id": asg.id, "created_at": asg.created_at}
                if _inserted(store, c, T.unit_claims, claim):
                    cap = c.execute(select(T.campaigns.c.overlap, T.campaigns.c.calibration)
                                    .where(T.campaigns.c.id == asg.campaign_id)).one()
                    room = True if cap.calibration else bool(unit.is_gold) or unit.n_claims + 1 < cap.overlap
                    c.execute(update(u).where(u.c.campaign_id == asg.campaign_id, u.c.unit_id == unit.unit_id)
                              .values(n_claims=u.c.n_claims + 1, has_room=room))
                store.add([asg], conn=c)
            n_records += store.add(records, conn=c)
            n_edges += store.add(extra, conn=c)
            added += 1
    return added, dups, n_records, n_edges



# ---- the dashboard's kept statistics -------------------------------------------------------


def campaign_stats(store: Store, campaign_id: str) -> dict[str, Any] | None:
    """The statistics kept for a campaign's dashboard: done (the count they were computed at),
    seconds (how long computing took), stats, computed_at; None when none were kept."""
    k = T.campaign_stats
    with _reader(store).connect() as c:
        row = c.execute(select(k).where(k.c.campaign_id == campaign_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    if out["computed_at"].tzinfo is None:  # SQLite gives naive UTC times back
        out["computed_at"] = out["computed_at"].replace(tzinfo=R.utcnow().tzinfo)
    return out


def keep_campaign_stats(store: Store, campaign_id: str, done: int, seconds: float, stats: dict[str, Any]) -> None:
    """Keep (insert or replace) a campaign's dashboard statistics, computed when ``done`` assignments were done."""
    k = T.campaign_stats
    dialect = postgresql if store.backend == "postgresql" else sqlite
    row = {"campaign_id": campaign_id, "done": done, "seconds": seconds, "stats": stats, "computed_at": R.utcnow()}
    stmt = dialect.insert(k).values(**row)
    with store.engine.begin() as c:
        c.execute(stmt.on_conflict_do_update(index_elements=[k.c.campaign_id],
                                             set_={n: stmt.excluded[n] for n in ("done", "seconds", "stats",
                                                                                 "computed_at")}))
