"""The request cache's size and its pruning (``assay cache stats`` / ``assay cache prune``).

Only the ``request_cache`` table is read or changed here. A run's results (responses,
judgments, attempts...) and its ledger stay: a finished run stays finished after any
prune, and a later run that needs a pruned request calls the model again.

    from assay.store.cache_admin import CacheSelection, cache_stats, prune_cache, vacuum_store
    cache_stats(store).payload_bytes
    prune_cache(store, CacheSelection(older_than=timedelta(days=30), model="judge@1"))
    vacuum_store(store)        # SQLite: give the freed pages back to the file system
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import LargeBinary, Text, cast, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from assay import records as R
from assay.store import tables as T

if TYPE_CHECKING:
    from assay.store import Store

_T = T.request_cache


@dataclass(frozen=True, slots=True)
class CacheSelection:
    """Which cache entries to prune: every condition given must hold; ``everything`` takes all."""

    older_than: timedelta | None = None
    """Entries created more than this long ago."""
    model: str | None = None
    """Entries of this model, as the cache stores it (the model's id, ``name@version``)."""
    run_id: str | None = None
    """Entries made by this run (its full id)."""
    everything: bool = False

    def __post_init__(self) -> None:
        if self.everything and (self.older_than is not None or self.model is not None or self.run_id is not None):
            raise ValueError("everything=True selects every entry: give it without older_than, model or run_id")
        if not self.everything and self.older_than is None and self.model is None and self.run_id is None:
            raise ValueError("choose entries by older_than, model or run_id, or give everything=True")
        if self.older_than is not None and self.older_than < timedelta(0):
            raise ValueError("older_than must not be negative")


@dataclass(slots=True)
class CacheGroup:
    """The entries of one model or one run: how many, their payload bytes, their dates."""

    key: str | None
    entries: int
    bytes: int
    oldest: datetime | None
    newest: datetime | None
    kind: str | None = None  # runs: the run's kind and status, when the run is stored
    status: str | None = None


@dataclass(slots=True)
class CacheStats:
    """What the request cache holds and what it takes of the store.

    ``payload_bytes`` is the size of the stored request and response texts. ``table_bytes``
    is what the table and its indexes occupy (SQLite: their pages, by the ``dbstat``
    table; PostgreSQL: ``pg_total_relation_size``); ``store_bytes`` is the whole store
    (SQLite: the file's pages; PostgreSQL: every table of the store's schema);
    ``free_bytes`` (SQLite) the free pages a vacuum would give back.
    """

    backend: str
    entries: int
    payload_bytes: int
    oldest: datetime | None
    newest: datetime | None
    models: list[CacheGroup] = field(default_factory=list)
    more_models: int = 0
    runs: list[CacheGroup] = field(default_factory=list)
    more_runs: int = 0
    no_run: CacheGroup = field(default_factory=lambda: CacheGroup(None, 0, 0, None, None))
    table_bytes: int | None = None
    store_bytes: int | None = None
    free_bytes: int | None = None

    @property
    def share(self) -> float | None:
        """The share of the store the cache table takes, when both sizes are known."""
        if self.table_bytes is None or not self.store_bytes:
            return None
        return self.table_bytes / self.store_bytes

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for JSON): models under ``model``, runs under ``run_id`` with their kind and status."""
        out = asdict(self)
        out["models"] = [{"model": g.pop("key"), **{k: v for k, v in g.items() if k not in ("kind", "status")}}
                         for g in out["models"]]
        out["runs"] = [{"run_id": g.pop("key"), **g} for g in out["runs"]]
        out["no_run"] = {k: v for k, v in out["no_run"].items() if k not in ("key", "kind", "status")}
        return {**out, "share": self.share}


@dataclass(slots=True)
class PruneResult:
    """What a prune removed (or, ``dry_run``, would remove)."""

    entries: int
    bytes: int
    dry_run: bool


@dataclass(slots=True)
class VacuumResult:
    """Whether the store was compacted, and its size before and after (bytes)."""

    done: bool
    before: int | None
    after: int | None
    what: str  # "file" (SQLite: the database file and its WAL) or "table" (PostgreSQL: the cache table)
    error: str | None = None


def _payload_bytes(backend: str):  # noqa: ANN202 - a SQL expression
    """Bytes of an entry's stored request and response texts."""
    if backend == "sqlite":
        size = lambda col: func.length(cast(col, LargeBinary))  # noqa: E731 - SQLite JSON is TEXT: bytes via BLOB
    else:
        size = lambda col: func.octet_length(cast(col, Text))  # noqa: E731
    return size(_T.c.request) + size(_T.c.response)


def _utc(v: Any) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, str):  # SQLite aggregates may come back as text
        v = datetime.fromisoformat(v)
    return v if v.tzinfo is not None else v.replace(tzinfo=timezone.utc)


def _groups(c: Any, key: Any, size: Any, where: Any, top: int) -> tuple[list[CacheGroup], int]:
    stmt = (
        select(key, func.count(), func.coalesce(func.sum(size), 0), func.min(_T.c.created_at), func.max(_T.c.created_at))
        .where(where)
        .group_by(key)
        .order_by(func.coalesce(func.sum(size), 0).desc(), key)
    )
    rows = c.execute(stmt).all()
    groups = [CacheGroup(k, int(n), int(b), _utc(lo), _utc(hi)) for k, n, b, lo, hi in rows]
    return groups[:top], max(0, len(groups) - top)


def cache_stats(store: Store, *, top: int = 10) -> CacheStats:
    """Entries, payload bytes and dates of the cache, in total, per model and per run (the ``top`` largest)."""
    if top < 1:
        raise ValueError("top must be at least 1")
    size = _payload_bytes(store.backend)
    with store.engine.connect() as c:
        n, b, lo, hi = c.execute(
            select(func.count(), func.coalesce(func.sum(size), 0), func.min(_T.c.created_at), func.max(_T.c.created_at))
        ).one()
        stats = CacheStats(store.backend, int(n), int(b), _utc(lo), _utc(hi))
        stats.models, stats.more_models = _groups(c, _T.c.model, size, _T.c.model.is_not(None), top)
        stats.runs, stats.more_runs = _groups(c, _T.c.run_id, size, _T.c.run_id.is_not(None), top)
        none, _ = _groups(c, _T.c.run_id, size, _T.c.run_id.is_(None), 1)
        if none:
            stats.no_run = none[0]
        known = {r.id: r for r in c.execute(select(T.runs.c.id, T.runs.c.kind, T.runs.c.status)
                                             .where(T.runs.c.id.in_([g.key for g in stats.runs])))}
        for g in stats.runs:
            if g.key in known:
                g.kind, g.status = known[g.key].kind, known[g.key].status
        if store.backend == "sqlite":
            _sqlite_sizes(c, stats)
        elif store.backend == "postgresql":
            _pg_sizes(c, stats)
    return stats


def _sqlite_sizes(c: Any, stats: CacheStats) -> None:
    page = c.exec_driver_sql("PRAGMA page_size").scalar_one()
    stats.store_bytes = page * c.exec_driver_sql("PRAGMA page_count").scalar_one()
    stats.free_bytes = page * c.exec_driver_sql("PRAGMA freelist_count").scalar_one()
    try:  # dbstat is compiled into most SQLite builds, not all
        stats.table_bytes = int(c.exec_driver_sql(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN "
            "(SELECT name FROM sqlite_master WHERE tbl_name = 'request_cache')"
        ).scalar_one())
    except OperationalError:
        stats.table_bytes = None


def _pg_sizes(c: Any, stats: CacheStats) -> None:
    stats.table_bytes = int(c.execute(text("SELECT pg_total_relation_size(to_regclass('request_cache'))")).scalar_one())
    stats.store_bytes = int(c.execute(text(
        "SELECT coalesce(sum(pg_total_relation_size(cl.oid)), 0) FROM pg_class cl "
        "JOIN pg_namespace ns ON ns.oid = cl.relnamespace WHERE ns.nspname = current_schema() AND cl.relkind = 'r'"
    )).scalar_one())


def _where(selection: CacheSelection, now: datetime) -> list[Any]:
    cond = []
    if selection.older_than is not None:
        cond.append(_T.c.created_at < now - selection.older_than)
    if selection.model is not None:
        cond.append(_T.c.model == selection.model)
    if selection.run_id is not None:
        cond.append(_T.c.run_id == selection.run_id)
    return cond


def prune_cache(store: Store, selection: CacheSelection, *, dry_run: bool = False,
                now: datetime | None = None) -> PruneResult:
    """Delete the cache entries ``selection`` picks (``dry_run``: only count them); nothing else is touched.

    ``now`` (default: the current UTC time) is what ``older_than`` counts back from.
    """
    cond = _where(selection, now or R.utcnow())
    size = _payload_bytes(store.backend)
    if dry_run:
        with store.engine.connect() as c:
            n, b = c.execute(select(func.count(), func.coalesce(func.sum(size), 0)).where(*cond)).one()
        return PruneResult(int(n), int(b), True)
    with store.transaction() as c:
        sizes = c.execute(_T.delete().where(*cond).returning(size)).scalars().all()
    return PruneResult(len(sizes), int(sum(sizes)), False)


def _sqlite_file_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def vacuum_store(store: Store) -> VacuumResult:
    """Compact the store after a prune, so the freed space leaves the disk.

    SQLite: ``VACUUM`` rewrites the file (it needs the store to itself, and free disk
    space about the file's size), then the WAL is checkpointed and truncated. PostgreSQL:
    ``VACUUM FULL request_cache`` rewrites the cache table (locking it meanwhile). A
    store another process keeps busy is not vacuumed: ``error`` says why.
    """
    if store.backend == "sqlite":
        path = make_url(store.url).database
        before = _sqlite_file_bytes(path)
        try:
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM")
                c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except OperationalError as e:
            return VacuumResult(False, before, before, "file", str(e.orig).splitlines()[0])
        return VacuumResult(True, before, _sqlite_file_bytes(path), "file")
    size = text("SELECT pg_total_relation_size(to_regclass('request_cache'))")
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        before = int(c.execute(size).scalar_one())
        c.execute(text("SET lock_timeout = '10s'"))  # a run reading the cache must not stall on us for long
        try:
            c.execute(text("VACUUM FULL request_cache"))
        except OperationalError as e:
            return VacuumResult(False, before, before, "table", str(e.orig).splitlines()[0])
        finally:
            c.execute(text("RESET lock_timeout"))
        return VacuumResult(True, before, int(c.execute(size).scalar_one()), "table")


def cache_run_ids(store: Store, prefix: str) -> list[str]:
    """Ids of the stored runs and of the runs named by cache entries that start with ``prefix``."""
    with store.engine.connect() as c:
        ids = set(c.execute(select(T.runs.c.id).where(T.runs.c.id.startswith(prefix, autoescape=True))).scalars())
        ids |= set(c.execute(select(_T.c.run_id).distinct().where(_T.c.run_id.startswith(prefix, autoescape=True)))
                   .scalars())
    return sorted(ids)


def cached_models(store: Store) -> list[str]:
    """The models that have entries in the cache."""
    with store.engine.connect() as c:
        return sorted(c.execute(select(_T.c.model).distinct()).scalars())
