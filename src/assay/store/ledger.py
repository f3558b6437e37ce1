"""The run engine's bookkeeping in the store: runs, the per-unit ledger, unit leases, the request cache.

A run writes its results, the matching ledger rows and new cache entries in one
transaction per batch, so a killed run never has a result without its ledger row (or
the reverse), and a restarted run skips exactly the units already done. Writes are
idempotent (insert-or-ignore, upsert), so two processes on one run cannot corrupt it.

Processes sharing a run claim its units with a lease (``claim``): a unit's row names the
process working on it and until when; the process renews its leases while it works
(``renew``), and a lease that ends (the process died) lets another take the unit over.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, case, func, select

from assay import records as R
from assay.store import tables as T
from assay.store.store import Store, _sqlite_ts, from_row

# R.KINDS lists the kinds so that a record only names kinds listed before it
_KIND_ORDER = {cls: n for n, cls in enumerate(R.KINDS.values())}

_CHUNK = 500  # rows per IN (...) lookup


_CLAIM_CHUNK = 200  # rows per INSERT ... ON CONFLICT of a claim

_UNIT_COLUMNS = ("run_id", "unit_key", "status", "result_id", "error_kind", "error", "attempts", "updated_at",
                 "prompt_tokens", "completion_tokens", "cost_usd", "cached")
_UPDATED = ("status", "result_id", "error_kind", "error", "updated_at", "prompt_tokens", "completion_tokens",
            "cost_usd", "cached")


def _upsert_units_sql(mark: str) -> str:
    """Record finished units: a unit's row (its claim, or none) takes the outcome, one more attempt, no lease.

    A unit another process finished meanwhile (this one's lease ended) stays done.
    """
    return (f"INSERT INTO run_units ({', '.join(_UNIT_COLUMNS)}) VALUES ({', '.join([mark] * len(_UNIT_COLUMNS))}) "
            "ON CONFLICT (run_id, unit_key) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _UPDATED)
            + ", attempts = run_units.attempts + 1, lease_until = NULL "
            "WHERE run_units.status <> 'done' OR excluded.status = 'done'")


@functools.lru_cache(maxsize=64)
def _claim_sql(mark: str, rows: int, take_from: int) -> str:
    """Claim ``rows`` units: a new row, or a row no one finished since it was seen and no one else holds."""
    row = f"({', '.join([mark] * 7)})"
    gone = f" OR run_units.claimed_by IN ({', '.join([mark] * take_from)})" if take_from else ""
    return ("INSERT INTO run_units (run_id, unit_key, status, attempts, updated_at, claimed_by, lease_until) "
            f"VALUES {', '.join([row] * rows)} "
            "ON CONFLICT (run_id, unit_key) DO UPDATE SET claimed_by = excluded.claimed_by, "
            "lease_until = excluded.lease_until "
            "WHERE run_units.status <> 'done' AND run_units.attempts = excluded.attempts "
            f"AND (run_units.lease_until IS NULL OR run_units.lease_until < {mark}{gone}) "
            "RETURNING unit_key")


_CACHE_INSERT = ("INSERT INTO request_cache (digest, model, request, response, created_at, run_id) "
                 "VALUES ({m}, {m}, {m}, {m}, {m}, {m}) ON CONFLICT DO NOTHING")
_CACHE_INSERT_SQLITE = _CACHE_INSERT.format(m="?")
_CACHE_INSERT_PG = _CACHE_INSERT.format(m="%s")
_UPSERT_UNITS_SQLITE = _upsert_units_sql("?")
_UPSERT_UNITS_PG = _upsert_units_sql("%s")


def _aware(t: datetime) -> datetime:
    """A timestamp as UTC-aware (SQLite gives them back naive, in UTC)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class Lease:
    """Where a unit another process may hold stands: finished since last seen, or held by whom, for how long."""

    unit_key: str
    done: bool
    """Finished (done, or failed again) since the claimer last saw it: no one is to do it now."""
    holder: str | None
    """The process whose lease it is under (None: none)."""
    left: float | None
    """Seconds left on that lease by the store's clock (negative: ended; None: no lease)."""


@dataclass(slots=True)
class UnitRow:
    """The outcome of one unit of a run, as the ledger keeps it."""

    unit_key: str
    status: str  # "done" | "failed"
    result_id: str | None = None
    error_kind: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False


class Ledger:
    """Store-side functions of the run engine over one Store (all SQL of runs/ and the cache)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _insert(self, table):  # noqa: ANN001, ANN202
        if self.store.backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    # ---- runs -------------------------------------------------------------------------

    def open_run(self, run: R.Run) -> R.Run:
        """Create the run, or mark an existing one (same id) running again with the new snapshot."""
        t = T.runs
        with self.store.transaction() as c:
            exists = c.execute(select(t.c.id).where(t.c.id == run.id)).first()
            if exists is None:
                self.store.add([run], c)
            else:
                c.execute(
                    t.update().where(t.c.id == run.id).values(status="running", total=run.total, config=run.config, finished_at=None)
                )
        return self.store.get(R.Run, run.id)

    def unit_states(self, run_id: str) -> dict[str, tuple[str, int]]:
        """Each unit of the run in the ledger: its status and how many times it was finished."""
        u = T.run_units
        with self.store.engine.connect() as c:
            return {k: (s, a) for k, s, a in c.execute(select(u.c.unit_key, u.c.status, u.c.attempts)
                                                         .where(u.c.run_id == run_id))}

    def done_keys(self, run_id: str) -> set[str]:
        """Keys of the units of this run already done (they are skipped on resume)."""
        u = T.run_units
        with self.store.engine.connect() as c:
            return set(c.execute(select(u.c.unit_key).where(u.c.run_id == run_id, u.c.status == "done")).scalars())

    def units(self, run_id: str, *, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Ledger rows of a run (e.g. ``status="failed"`` with their error kind and message)."""
        u = T.run_units
        stmt = select(u).where(u.c.run_id == run_id)
        if status is not None:
            stmt = stmt.where(u.c.status == status)
        stmt = stmt.order_by(u.c.unit_key).limit(limit)
        with self.store.engine.connect() as c:
            return [dict(r) for r in c.execute(stmt).mappings()]

    # ---- leases: processes sharing a run ---------------------------------------------------

    def now(self, c: Connection) -> datetime:
        """The store's clock: PostgreSQL's for a shared server (machines' clocks differ), else this machine's."""
        if self.store.backend == "postgresql":
            return c.execute(select(func.now())).scalar_one()
        return R.utcnow()

    def claim(self, run_id: str, seen: dict[str, int], worker: str, lease: float,
              take_from: Sequence[str] = ()) -> tuple[list[str], list[Lease]]:
        """Claim for ``worker``, for ``lease`` seconds, those units of ``seen`` (key: attempts when last seen)
        that no one has finished since and no one else holds; returns the claimed keys and the
        others' leases (with ``done`` when they are finished since).

        A unit is held while its lease lasts, unless its holder is in ``take_from`` (processes
        known to be dead). Rows are claimed in key order, like every write of the ledger.
        """
        if not seen:
            return [], []
        sqlite = self.store.backend == "sqlite"
        mark = "?" if sqlite else "%s"
        claimed: list[str] = []
        with self.store.transaction() as c:
            now = self.now(c)
            until = now + timedelta(seconds=lease)
            now_p, until_p = (_sqlite_ts(now), _sqlite_ts(until)) if sqlite else (now, until)
            keys = sorted(seen)
            for i in range(0, len(keys), _CLAIM_CHUNK):
                chunk = keys[i : i + _CLAIM_CHUNK]
                params: list[Any] = []
                for k in chunk:
                    params += [run_id, k, "running", seen[k], now_p, worker, until_p]
                params.append(now_p)
                params += list(take_from)
                sql = _claim_sql(mark, len(chunk), len(take_from))
                claimed.extend(r[0] for r in c.exec_driver_sql(sql, tuple(params)).fetchall())
            got = set(claimed)
            held = self._leases(c, run_id, [k for k in keys if k not in got], seen, now)
        return sorted(got), held

    def leases(self, run_id: str, seen: dict[str, int]) -> list[Lease]:
        """Where the units of ``seen`` (key: attempts when last seen) stand: finished since, or held by whom."""
        with self.store.engine.connect() as c:
            return self._leases(c, run_id, sorted(seen), seen, self.now(c))

    def _leases(self, c: Connection, run_id: str, keys: list[str], seen: dict[str, int], now: datetime) -> list[Lease]:
        u = T.run_units
        out: list[Lease] = []
        cols = (u.c.unit_key, u.c.status, u.c.attempts, u.c.claimed_by, u.c.lease_until)
        for i in range(0, len(keys), _CHUNK):
            for k, status, attempts, by, until in c.execute(
                select(*cols).where(u.c.run_id == run_id, u.c.unit_key.in_(keys[i : i + _CHUNK]))
            ):
                done = status == "done" or attempts != seen[k]
                left = (_aware(until) - _aware(now)).total_seconds() if until is not None else None
                out.append(Lease(k, done, by if until is not None else None, left))
        return out

    def renew(self, run_id: str, worker: str, lease: float) -> int:
        """Extend ``worker``'s leases on the run's units by ``lease`` seconds from now; how many it holds."""
        u = T.run_units
        with self.store.transaction() as c:
            until = self.now(c) + timedelta(seconds=lease)
            keys = self._held(c, run_id, worker)
            for i in range(0, len(keys), _CHUNK):
                # the conditions again: a unit finished since the SELECT (SQLite reads outside the write) keeps no lease
                c.execute(u.update().where(u.c.run_id == run_id, u.c.unit_key.in_(keys[i : i + _CHUNK]),
                                           u.c.claimed_by == worker, u.c.lease_until.is_not(None))
                          .values(lease_until=until))
        return len(keys)

    def release(self, run_id: str, worker: str) -> None:
        """Give up ``worker``'s leases: units it claimed and never finished are as if never claimed."""
        u = T.run_units
        with self.store.transaction() as c:
            keys = self._held(c, run_id, worker)
            for i in range(0, len(keys), _CHUNK):
                mine = (u.c.run_id == run_id, u.c.unit_key.in_(keys[i : i + _CHUNK]), u.c.claimed_by == worker)
                c.execute(u.delete().where(*mine, u.c.status == "running"))
                c.execute(u.update().where(*mine).values(lease_until=None))

    def _held(self, c: Connection, run_id: str, worker: str) -> list[str]:
        """The keys ``worker`` holds, locked in key order on PostgreSQL (claims lock rows in that order too)."""
        u = T.run_units
        stmt = (select(u.c.unit_key).where(u.c.run_id == run_id, u.c.claimed_by == worker, u.c.lease_until.is_not(None))
                .order_by(u.c.unit_key))
        if self.store.backend == "postgresql":
            stmt = stmt.with_for_update()
        return list(c.execute(stmt).scalars())

    def finish_run(self, run_id: str, status: str) -> R.Run:
        """Total the run from its ledger (every invocation of it), store and return it."""
        u = T.run_units
        with self.store.transaction() as c:
            done = u.c.status == "done"
            agg = c.execute(
                select(
                    func.count(case((done, 1))),
                    func.count(case((u.c.status == "failed", 1))),
                    func.count(case((done & (u.c.cached == True), 1))),  # noqa: E712 - SQL expression
                    func.coalesce(func.sum(u.c.prompt_tokens), 0),
                    func.coalesce(func.sum(u.c.completion_tokens), 0),
                    func.coalesce(func.sum(u.c.cost_usd), 0.0),
                ).where(u.c.run_id == run_id)
            ).one()
            errors = dict(
                c.execute(
                    select(u.c.error_kind, func.count())
                    .where(u.c.run_id == run_id, u.c.status == "failed")
                    .group_by(u.c.error_kind)
                    .order_by(u.c.error_kind)
                ).all()
            )
            self.store.update(
                "runs", run_id, c,
                status=status, succeeded=agg[0], failed=agg[1], cached=agg[2],
                prompt_tokens=int(agg[3]), completion_tokens=int(agg[4]), cost_usd=float(agg[5]),
                errors={str(k): int(v) for k, v in errors.items()}, finished_at=R.utcnow(),
            )
        return self.store.get(R.Run, run_id)

    def runs(self, *, kind: str | None = None, limit: int | None = None) -> list[R.Run]:
        """Stored runs, newest first."""
        t = T.runs
        stmt = select(t).order_by(t.c.started_at.desc()).limit(limit)
        if kind is not None:
            stmt = stmt.where(t.c.kind == kind)
        with self.store.engine.connect() as c:
            return [from_row(R.Run, dict(r)) for r in c.execute(stmt).mappings()]

    # ---- one batch of results ---------------------------------------------------------------

    def write(
        self,
        run_id: str,
        units: Sequence[UnitRow],
        records: Iterable[R.Record] = (),
        cache_rows: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Write result records, new cache entries and the units' ledger rows in one transaction.

        New cache entries are stamped with ``run_id``, the run that made them (an entry
        already cached keeps the run that made it first), so they can be pruned by run.

        Rows go in key order, so two processes writing the same run lock rows in the same
        order (no deadlock on PostgreSQL) and the later insert of a duplicate does nothing.
        """
        with self.store.transaction() as c:
            # kinds in dependency order (items before the responses and attempts that name them), ids within
            records = sorted(records, key=lambda r: (_KIND_ORDER.get(type(r), 99), str(getattr(r, "id", ""))))
            if records:
                self.store.add(records, c)
            if cache_rows:
                self._cache_insert(c, cache_rows, run_id)
            if units:
                self._upsert_units(c, run_id, units)

    def _upsert_units(self, c: Connection, run_id: str, units: Sequence[UnitRow]) -> None:
        # driver SQL, built once: a run commits this every few milliseconds while answers arrive
        sqlite = self.store.backend == "sqlite"
        now: Any = R.utcnow()
        if sqlite:
            now = _sqlite_ts(now)
        latest = {u.unit_key: u for u in units}  # one row per key: an upsert may touch a row once
        rows = [
            (run_id, k, u.status, u.result_id, u.error_kind, u.error, 1, now, u.prompt_tokens, u.completion_tokens,
             u.cost_usd, u.cached)
            for k in sorted(latest) for u in (latest[k],)
        ]
        c.exec_driver_sql(_UPSERT_UNITS_SQLITE if sqlite else _UPSERT_UNITS_PG, rows)

    # ---- the request cache ------------------------------------------------------------------

    def _cache_insert(self, c: Connection, rows: Sequence[dict[str, Any]], run_id: str | None = None) -> None:
        now = R.utcnow()
        unique = {
            r["digest"]: {**r, "created_at": r.get("created_at") or now, "run_id": r.get("run_id") or run_id}
            for r in rows
        }
        sqlite = self.store.backend == "sqlite"
        ts = _sqlite_ts if sqlite else (lambda t: t)
        # json.dumps: the text SQLAlchemy's JSON type writes (cache stats count its bytes)
        params = [(d, r["model"], json.dumps(r["request"]), json.dumps(r["response"]), ts(r["created_at"]), r["run_id"])
                  for d in sorted(unique) for r in (unique[d],)]
        c.exec_driver_sql(_CACHE_INSERT_SQLITE if sqlite else _CACHE_INSERT_PG, params)

    def cache_put_many(self, rows: Sequence[dict[str, Any]], *, run_id: str | None = None) -> None:
        """Store cache entries (digest, model, request, response), made by ``run_id``; an existing digest is kept."""
        if rows:
            with self.store.transaction() as c:
                self._cache_insert(c, rows, run_id)

    def cache_discard(self, digest: str, run_id: str | None) -> None:
        """Remove the cache entry of ``digest`` if ``run_id`` made it (an entry of another run stays)."""
        t = T.request_cache
        made_by = t.c.run_id.is_(None) if run_id is None else t.c.run_id == run_id
        with self.store.transaction() as c:
            c.execute(t.delete().where(t.c.digest == digest, made_by))

    def cache_get_many(self, digests: Sequence[str], *, run_id: str | None = None) -> dict[str, Any]:
        """The cached responses of those digests that are cached (only entries made by ``run_id``, if given)."""
        t = T.request_cache
        found: dict[str, Any] = {}
        with self.store.engine.connect() as c:
            for i in range(0, len(digests), _CHUNK):
                chunk = list(digests[i : i + _CHUNK])
                stmt = select(t.c.digest, t.c.response).where(t.c.digest.in_(chunk))
                if run_id is not None:
                    stmt = stmt.where(t.c.run_id == run_id)
                for d, resp in c.execute(stmt):
                    found[d] = resp
        return found

    def cached_digests(self, digests: Sequence[str]) -> set[str]:
        """Which of these digests the request cache holds (their answers are not read)."""
        t = T.request_cache
        found: set[str] = set()
        ordered = sorted(set(digests))
        with self.store.engine.connect() as c:
            for i in range(0, len(ordered), _CHUNK):
                found.update(c.execute(select(t.c.digest).where(t.c.digest.in_(ordered[i : i + _CHUNK]))).scalars())
        return found

    def cache_count(self, *, model: str | None = None) -> int:
        t = T.request_cache
        stmt = select(func.count()).select_from(t)
        if model is not None:
            stmt = stmt.where(t.c.model == model)
        with self.store.engine.connect() as c:
            return c.execute(stmt).scalar_one()

    # ---- a model's endpoint -------------------------------------------------------------------

    def fill_model(self, model_id: str, values: dict[str, Any]) -> None:
        """Set those of a stored model's ``values`` (base URL, key variable, prices) it has none of yet."""
        t = T.models
        with self.store.transaction() as c:
            for column, value in sorted(values.items()):
                if value is not None:
                    c.execute(t.update().where(t.c.id == model_id, t.c[column].is_(None)).values({column: value}))
