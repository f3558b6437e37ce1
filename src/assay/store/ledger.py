"""The run engine's bookkeeping in the store: runs, the per-unit ledger, the request cache.

A run writes its results, the matching ledger rows and new cache entries in one
transaction per batch, so a killed run never has a result without its ledger row (or
the reverse), and a restarted run skips exactly the units already done. Writes are
idempotent (insert-or-ignore, upsert), so two processes on one run cannot corrupt it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, func, select

from assay import records as R
from assay.store import tables as T
from assay.store.store import Store, from_row

# R.KINDS lists the kinds so that a record only names kinds listed before it
_KIND_ORDER = {cls: n for n, cls in enumerate(R.KINDS.values())}

_CHUNK = 500  # rows per IN (...) lookup


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
        now = R.utcnow()
        latest = {u.unit_key: u for u in units}  # one row per key: an upsert may touch a row once
        latest = {k: latest[k] for k in sorted(latest)}
        rows = [
            {
                "run_id": run_id, "unit_key": u.unit_key, "status": u.status, "result_id": u.result_id,
                "error_kind": u.error_kind, "error": u.error, "attempts": 1, "updated_at": now,
                "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                "cost_usd": u.cost_usd, "cached": u.cached,
            }
            for u in latest.values()
        ]
        t = T.run_units
        stmt = self._insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.run_id, t.c.unit_key],
            set_={
                "status": stmt.excluded.status,
                "result_id": stmt.excluded.result_id,
                "error_kind": stmt.excluded.error_kind,
                "error": stmt.excluded.error,
                "attempts": t.c.attempts + 1,
                "updated_at": stmt.excluded.updated_at,
                "prompt_tokens": stmt.excluded.prompt_tokens,
                "completion_tokens": stmt.excluded.completion_tokens,
                "cost_usd": stmt.excluded.cost_usd,
                "cached": stmt.excluded.cached,
            },
        )
        c.execute(stmt, rows)

    # ---- the request cache ------------------------------------------------------------------

    def _cache_insert(self, c: Connection, rows: Sequence[dict[str, Any]], run_id: str | None = None) -> None:
        now = R.utcnow()
        unique = {
            r["digest"]: {**r, "created_at": r.get("created_at") or now, "run_id": r.get("run_id") or run_id}
            for r in rows
        }
        c.execute(self._insert(T.request_cache).on_conflict_do_nothing(), [unique[d] for d in sorted(unique)])

    def cache_put_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store cache entries (digest, model, request, response); an existing digest is kept."""
        if rows:
            with self.store.transaction() as c:
                self._cache_insert(c, rows)

    def cache_get_many(self, digests: Sequence[str]) -> dict[str, Any]:
        """The cached responses of those digests that are cached."""
        t = T.request_cache
        found: dict[str, Any] = {}
        with self.store.engine.connect() as c:
            for i in range(0, len(digests), _CHUNK):
                chunk = list(digests[i : i + _CHUNK])
                for d, resp in c.execute(select(t.c.digest, t.c.response).where(t.c.digest.in_(chunk))):
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
