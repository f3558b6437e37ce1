"""The Ray executor: a run's units on Ray workers, its results committed by the driver.

    from assay.runs import make_executor
    run = make_executor("ray", store, address="10.0.0.5:6379", num_workers=8).run(task)

The driver (this process) does everything the local executor does around the work: it
opens the Run, reads the ledger to skip finished units, preflights the task, and
commits results with their ledger rows through the same batched writer. Only the
driver touches the store. Workers are Ray actors, ``num_workers`` of them, made for
the run and killed at its end. Each rebuilds the task's unit work from its
``WorkSpec`` (a registered name and plain config: no store, engine or client is ever
sent) and runs the units of the chunks it is sent (``chunk_size`` units each, two
chunks in flight per worker) concurrently with asyncio, streaming results back as
units finish.

Limits are shared by division: every worker gets ``1/num_workers`` of each model's
limits, so together they stay within them: concurrency ``max(1, c // n)`` requests in
flight, RPM and TPM ``rpm / n`` and ``tpm / n``, and ``ceil(concurrency / n)`` units in
flight (the executor's own ``concurrency``). A 429's Retry-After pauses only the
worker that received it. The split is static: an idle worker does not lend its share
to a busy one, and more workers than the limits allow (``n > c``) would exceed them.

The request cache stays with the driver too. Before sending a chunk the driver looks
up, in one query, the cache keys of the calls its units make first
(``task.request_digests``) and sends the answers found; a worker's new answers come
back with its results and are committed in the same batch as the units. A call the
driver could not foresee (a judge's repair turn after an unreadable answer) is a
cache miss on a worker and is asked again.

A model's API key is read from the variable its ``api_key_env`` names in the driver's
environment and set in the workers' (Ray's ``runtime_env``), so workers on other
machines can call the model; it is never part of a spec.

The driver claims the units it sends, a chunk at a time, with a lease in the run's
ledger (``assay.runs._lease``), like the local executor: several drivers, or a driver and
local processes, can share one run.

A worker that dies (killed, out of memory, its node lost) loses only the units it had
not sent back: they go back in the queue for a new worker, at most ``max_attempts``
times, after which they are recorded as failed (``worker_lost``) and retried by the
next run. Interrupting the driver leaves finished units committed; running the same
task again resumes it, on either executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
import pickle
import socket
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import RayActorError

from assay.errors import AssayError
from assay.runs._executor import ExecutorBase, ProgressFn, Result, _Writer, attempt, settle, supervise
from assay.runs._lease import Claims
from assay.runs._remote import Clients, WorkerCache, WorkSpec, build_work
from assay.runs._task import DigestsRequests, NamesWork, RunProgress, Task, Unit

if TYPE_CHECKING:
    from assay.store import Store


class _Fatal:
    """An error that stops the run, raised on a worker and re-raised by the driver."""

    def __init__(self, error: BaseException) -> None:
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:  # noqa: BLE001 - an exception that does not pickle goes as its message
            kind = AssayError if isinstance(error, AssayError) else RuntimeError
            error = kind(f"{type(error).__name__}: {error}")
        self.error = error


class _Worker:
    """A Ray actor: the task's unit work rebuilt from its spec, running the chunks it is sent."""

    def __init__(self, spec: WorkSpec, share: int, concurrency: int) -> None:
        self.cache = WorkerCache()
        self.clients = Clients(self.cache, share)
        self.work = build_work(spec, self.clients)
        self.concurrency = concurrency
        self.slots: asyncio.Semaphore | None = None

    async def ready(self) -> int:
        return os.getpid()

    async def run(self, units: list[Unit], cached: dict[str, Any]):  # noqa: ANN201 - a Ray streaming generator
        """Run ``units`` (at most ``concurrency`` at a time over all chunks); yield (results, new cache rows) as they finish."""
        if self.slots is None:
            self.slots = asyncio.Semaphore(self.concurrency)
        slots = self.slots
        self.cache.prime(cached)
        finished: asyncio.Queue[Result | _Fatal] = asyncio.Queue()

        async def one(unit: Unit) -> None:
            async with slots:
                try:
                    finished.put_nowait(await attempt(self.work, unit))
                except Exception as e:  # noqa: BLE001 - an AssayError or a bad return: the driver stops the run
                    finished.put_nowait(_Fatal(e))

        tasks = [asyncio.ensure_future(one(u)) for u in units]
        try:
            left = len(units)
            while left:
                batch = [await finished.get()]
                while not finished.empty():
                    batch.append(finished.get_nowait())
                left -= len(batch)
                yield batch, self.cache.take()
                if any(isinstance(r, _Fatal) for r in batch):
                    return
        finally:
            for t in tasks:
                t.cancel()
            self.cache.forget(cached)


class _Shipped:
    """Cache entries sent back by workers, taken by the writer like a cache's new entries."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(rows)

    def take(self) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        return rows


@dataclass(frozen=True)
class RayCluster:
    """Where and how a RayExecutor's workers run: the cluster, how many workers, chunks, retries, start-up."""

    address: str | None = None
    """The Ray cluster to join (else ``RAY_ADDRESS``, else a local Ray is started)."""
    num_workers: int | None = None
    """Workers (None: one per ``worker_cpus`` CPUs of the cluster)."""
    chunk_size: int = 64
    """Units sent to a worker at once."""
    worker_cpus: float = 1.0
    max_attempts: int = 3
    """Times a chunk is sent again after its worker died."""
    start_timeout: float = 120.0
    """Seconds the workers may take to start."""

    @classmethod
    def fields(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}


class RayExecutor(ExecutorBase):
    """Runs a Task's units on Ray workers; the driver keeps the ledger, the cache and the writes.

    ``cluster`` (a ``RayCluster``): ``address``, a Ray cluster to connect to (else
    ``RAY_ADDRESS``, else a local Ray instance is started for the run and shut down after
    it; a Ray already initialised in this process is used as it is); ``num_workers``,
    actors (default: the cluster's CPUs, at most one per chunk); ``chunk_size``, units sent
    to a worker at once; ``worker_cpus``, CPUs each actor reserves; ``max_attempts``,
    workers a unit may be lost on before it is recorded as failed; ``start_timeout``,
    seconds to wait for the workers to start. ``concurrency``: units in flight over all
    workers. ``make_executor("ray", store, **options)`` takes all of these by name.
    """

    name = "ray"

    def __init__(self, store: Store, cluster: RayCluster | None = None, *, concurrency: int = 64,
                 batch_size: int = 256, flush_interval: float = 0.25, on_progress: ProgressFn | None = None,
                 lease_seconds: float | None = None) -> None:
        c = cluster if cluster is not None else RayCluster()
        if concurrency < 1 or c.chunk_size < 1 or c.max_attempts < 1:
            raise ValueError("concurrency, chunk_size and max_attempts must be at least 1")
        if c.num_workers is not None and c.num_workers < 1:
            raise ValueError("num_workers must be at least 1")
        super().__init__(store, batch_size=batch_size, flush_interval=flush_interval, on_progress=on_progress,
                         lease_seconds=lease_seconds)
        self.cluster = c
        self.address = c.address
        self.num_workers = c.num_workers
        self.chunk_size = c.chunk_size
        self.concurrency = concurrency
        self.worker_cpus = c.worker_cpus
        self.max_attempts = c.max_attempts
        self.start_timeout = c.start_timeout
        self.workers: list[Any] = []  # the run's actors while it runs (a test may kill one)
        self.spawned = 0

    def _check(self, task: Task) -> None:
        spec = _work_spec(task)
        try:
            pickle.dumps(spec)
        except Exception as e:  # noqa: BLE001 - said once, in plain words
            raise AssayError(f"the {spec.name!r} work spec cannot be sent to Ray workers: {e}") from None

    def _connect(self) -> bool:
        """Connect to Ray (or start it); True when this call started the connection."""
        if ray.is_initialized():
            return False
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        common = dict(log_to_driver=False, logging_level="ERROR")
        if address:
            _check_reachable(address)
        try:
            if address:
                ray.init(address=address, **common)
            else:
                ray.init(include_dashboard=False, **common)
        except Exception as e:  # noqa: BLE001 - one line at the CLI, not a Ray traceback
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            why = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise AssayError(f"cannot start or join {where}: {why}") from None
        return True

    def _claim_batch(self) -> int:
        return self.chunk_size

    async def _work(self, task: Task, claims: Claims, writer: _Writer, progress: RunProgress) -> None:
        spec = _work_spec(task)
        build_work(spec, Clients(WorkerCache()))  # fails here, not on every worker, if it cannot be rebuilt
        started = self._connect()
        try:
            await self._run_chunks(task, spec, claims, writer, progress)
        finally:
            if started:
                ray.shutdown()

    async def _run_chunks(self, task: Task, spec: WorkSpec, claims: Claims, writer: _Writer,
                          progress: RunProgress) -> None:
        queue: deque[tuple[list[Unit], int]] = deque()  # chunks of units lost with a worker, sent again first
        n = self.num_workers or max(1, int(ray.available_resources().get("CPU", 1) // max(self.worker_cpus, 1e-9)))
        n = min(n, math.ceil(len(claims.units) / self.chunk_size))
        per_worker = math.ceil(self.concurrency / n)
        caches = task.caches() if hasattr(task, "caches") else []
        uses_cache = any(not getattr(c, "own_run", False) for c in caches)
        shipped = _Shipped()
        writer.caches.append(shipped)
        env = {k: os.environ[k] for k in _key_vars(spec) if k in os.environ}
        actor = ray.remote(_Worker).options(
            num_cpus=self.worker_cpus, max_restarts=0, max_concurrency=4,
            runtime_env={"env_vars": env} if env else None,
        )

        def spawn() -> Any:
            self.spawned += 1
            return actor.remote(spec, n, per_worker)

        notify = self.on_progress

        async def lookup(units: list[Unit]) -> dict[str, Any]:
            if not uses_cache or not isinstance(task, DigestsRequests):
                return {}
            digests = sorted({d for u in units for d in task.request_digests(u)})
            return await asyncio.to_thread(self.ledger.cache_get_many, digests) if digests else {}

        async def feed(slot: int) -> None:
            while True:
                if queue:
                    units, tries = queue.popleft()
                else:
                    units, tries = await claims.take(self.chunk_size), 0
                    if not units:
                        return
                left = {u.key: u for u in units}
                cached = await lookup(units)
                worker = self.workers[slot]
                try:
                    async for ref in worker.run.options(num_returns="streaming").remote(units, cached):
                        results, rows = await ref
                        shipped.add(rows)
                        writer.add_answers(rows)
                        for r in results:
                            if isinstance(r, _Fatal):
                                raise r.error
                            left.pop(r.key, None)
                            settle(r, writer, progress)
                            if notify is not None:
                                notify(progress)
                except RayActorError as e:
                    if self.workers[slot] is worker:  # the other feeder of this slot may have replaced it
                        self.workers[slot] = spawn()
                    lost = [left[k] for k in sorted(left)]
                    if tries + 1 < self.max_attempts:
                        queue.appendleft((lost, tries + 1))
                        continue
                    why = f"the Ray worker running it died {self.max_attempts} times (last: {str(e).splitlines()[0][:300]})"
                    for u in lost:
                        settle(Result(u.key, error_kind="worker_lost", error=why), writer, progress)
                        if notify is not None:
                            notify(progress)

        try:
            self.workers = [spawn() for _ in range(n)]
            await self._started(n)
            await supervise([asyncio.ensure_future(feed(i % n)) for i in range(2 * n)], writer)
        finally:
            workers, self.workers = self.workers, []
            for w in workers:
                with contextlib.suppress(Exception):
                    ray.kill(w)

    async def _started(self, n: int) -> None:
        try:
            await asyncio.wait_for(asyncio.gather(*(w.ready.remote() for w in self.workers)), self.start_timeout)
        except asyncio.TimeoutError:
            cpus = ray.cluster_resources().get("CPU", 0)
            raise AssayError(f"{n} Ray workers of {self.worker_cpus:g} CPU each did not start within "
                             f"{self.start_timeout:g}s (the cluster has {cpus:g} CPUs): give fewer --workers") from None
        except RayActorError as e:
            raise AssayError(f"the Ray workers could not start: {str(e).splitlines()[0]}") from None


def _work_spec(task: Task) -> WorkSpec:
    """The registered unit work ``task`` names; an AssayError if it names none."""
    spec = task.work_spec() if isinstance(task, NamesWork) else None
    if not isinstance(spec, WorkSpec):
        raise AssayError(f"a {task.kind!r} task of type {type(task).__name__} cannot run on Ray: it names no "
                         "registered unit work (work_spec); use the local executor")
    return spec


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse a ``host:port`` address nothing listens at (``ray.init`` would keep retrying for minutes)."""
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local": Ray resolves those itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise AssayError(f"cannot join the Ray cluster at {address}: nothing answers there ({e.strerror or e}); "
                         "is the head node running and the address host:port of its GCS?") from None


def _key_vars(spec: WorkSpec) -> set[str]:
    """The environment variables holding API keys that the spec's clients read (sent to workers)."""
    found: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            if isinstance(v.get("model"), dict) and v["model"].get("api_key_env"):
                found.add(v["model"]["api_key_env"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(spec.config)
    return found
