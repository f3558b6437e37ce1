"""Executing a Task: bounded concurrency, durable answers, batched writes, resume from the ledger.

Each finished unit's records and its ledger row (plus the cache entries made meanwhile)
are committed together, every ``batch_size`` units or ``flush_interval`` seconds. A
model's answer is kept first: a provider call keeps its slot until its answer is a line
in the run's answer journal (``RequestCache.save``, ``assay.store.journal``), and a run
starts by replaying the journals of killed processes into the cache, so a SIGKILL loses
only the calls in flight (a rerun finds the other answers in the cache). A run's id is the digest of its config, so starting the same run again
(after a crash, a SIGKILL, a Ctrl-C) skips every unit whose ledger row says done and
retries the failed.

Units are claimed with a lease in the ledger (``assay.runs._lease``), a few at a time, so
any number of processes running the same task on one store split its units between
them; one that dies leaves its units to the others once its leases end.

What every executor shares lives here: the run's bookkeeping (``ExecutorBase.arun``),
the batched writer, ``attempt`` (one unit, its failure as data) and ``settle`` (a
unit's result into the writer and the progress counters). An executor only decides
where units run (``_work``): in this process (LocalExecutor) or on Ray workers
(``assay.runs._ray.RayExecutor``), which send results back to this writer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, get_args

from assay import records as R
from assay.errors import AssayError, MissingExtra
from assay.plugins import REGISTRY, register
from assay.runs._lease import Claims
from assay.runs._lease import lease_seconds as lease_seconds_of
from assay.runs._task import Outcome, RunProgress, StampsRunId, Task, Unit
from assay.store.journal import Journal, replay
from assay.store.ledger import Ledger, UnitRow

if TYPE_CHECKING:
    from assay.store import Store

ProgressFn = Callable[[RunProgress], None]


def _is_run_kind(kind: str) -> TypeGuard[R.RunKind]:
    return kind in get_args(R.RunKind)


def run_id_for(kind: str, config: dict[str, Any]) -> str:
    """The id of the run of this kind and config (its ``execution`` options aside)."""
    return R.digest("run", kind, {k: v for k, v in config.items() if k != "execution"})


class Executor(Protocol):
    """Runs a Task to the end and returns its Run (LocalExecutor, RayExecutor)."""

    def run(self, task: Task) -> R.Run: ...

    async def arun(self, task: Task) -> R.Run: ...


@dataclass(slots=True)
class Result:
    """What became of one unit: its Outcome, or the kind and message of its failure."""

    key: str
    outcome: Outcome | None = None
    error_kind: str | None = None
    error: str | None = None


async def attempt(task: Any, unit: Unit) -> Result:
    """Run one unit. Its failure is data (a Result with the error); an AssayError or a wrong return stops the run."""
    try:
        out = await task.run(unit)
    except AssayError:
        raise  # wrong URL, key, model or input: nothing else can succeed
    except Exception as e:  # noqa: BLE001 - a unit's failure is data
        kind = str(getattr(e, "kind", None) or type(e).__name__)
        msg = str(getattr(e, "message", None) or e) or type(e).__name__
        return Result(unit.key, error_kind=kind[:50], error=msg[:2000])
    if not isinstance(out, Outcome):
        raise TypeError(f"{type(task).__name__}.run must return an Outcome, got {type(out).__name__}")
    return Result(unit.key, out)


class _Writer:
    """Commits finished units in batches, in a worker thread, one batch at a time.

    A batch (finished units, their records and the caches' new answers) goes when
    ``batch_size`` units are waiting or every ``interval`` seconds. Until then each new
    answer is a line in the ``journal`` (``assay.store.journal``), written by the cache
    as the answer arrives; a batch's commit lets the journal drop what it held.
    """

    def __init__(self, ledger: Ledger, run_id: str, caches: list, batch_size: int, interval: float,
                 journal: Journal | None = None) -> None:
        self.ledger, self.run_id, self.caches = ledger, run_id, caches
        self.batch_size, self.interval = batch_size, interval
        self.journal = journal
        self.units: list[UnitRow] = []
        self.records: list[R.Record] = []
        self._wake = asyncio.Event()
        self._closing = False
        self.failed = False  # a commit failed: the journal is kept for the next run to replay
        for c in caches:
            if hasattr(c, "attach"):
                c.attach(run_id, journal)
        self.task = asyncio.ensure_future(self._loop())

    def add(self, row: UnitRow, records: Any = ()) -> None:
        self.units.append(row)
        self.records.extend(records)
        if len(self.units) >= self.batch_size:
            self._wake.set()

    def add_answers(self, rows: list[dict[str, Any]]) -> None:
        """Answers received elsewhere (a Ray worker's), kept in the journal until the next batch takes them."""
        if self.journal is not None:
            for r in rows:
                self.journal.append({**r, "run_id": self.run_id})

    async def _loop(self) -> None:
        try:
            while True:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                self._wake.clear()
                closing = self._closing
                await self.flush()
                if closing:
                    return
        except BaseException:
            self.failed = True
            raise
        finally:
            for c in self.caches:
                if hasattr(c, "detach"):
                    c.detach()

    async def flush(self) -> None:
        """Write the units finished so far, their records and every new cache entry, in one transaction."""
        units, records = self.units, self.records
        self.units, self.records = [], []
        if self.journal is not None:
            self.journal.rotate()  # a full segment's answers are all among those taken next
        taken = [(c, c.take()) for c in self.caches]
        cache_rows = [row for _, rows in taken for row in rows]
        if not (units or cache_rows):
            return
        try:
            await asyncio.to_thread(self.ledger.write, self.run_id, units, records, cache_rows)
        except BaseException as e:
            for c, rows in taken:
                if rows and hasattr(c, "saved"):
                    c.saved(rows, e)
            raise
        for c, rows in taken:
            if rows and hasattr(c, "saved"):
                c.saved(rows)
        if self.journal is not None:
            self.journal.committed()

    async def close(self) -> None:
        """Write everything still buffered; then the journal's files go (or stay, after a failed commit)."""
        self._closing = True
        self._wake.set()
        try:
            await asyncio.shield(self.task)
        finally:
            if self.journal is not None:
                self.journal.close(keep=self.failed or not self.task.done() or self.task.cancelled())


def settle(result: Result, writer: _Writer, progress: RunProgress) -> None:
    """Hand a unit's result to the writer (its ledger row and records) and count it."""
    out = result.outcome
    if out is None:
        kind = result.error_kind or "error"
        writer.add(UnitRow(result.key, "failed", error_kind=kind, error=result.error))
        progress.failed += 1
        progress.errors[kind] = progress.errors.get(kind, 0) + 1
        return
    writer.add(
        UnitRow(
            result.key, "done", result_id=out.result_id, prompt_tokens=out.prompt_tokens,
            completion_tokens=out.completion_tokens, cost_usd=out.cost_usd, cached=out.cached,
        ),
        out.records,
    )
    progress.succeeded += 1
    progress.cached += out.cached
    progress.prompt_tokens += out.prompt_tokens
    progress.completion_tokens += out.completion_tokens
    progress.cost_usd += out.cost_usd


class ExecutorBase:
    """A run's bookkeeping around an executor's ``_work``: the Run, the ledger, resume, the writer."""

    name = ""

    def __init__(self, store: Store, *, batch_size: int = 256, flush_interval: float = 0.25,
                 on_progress: ProgressFn | None = None, lease_seconds: float | None = None) -> None:
        self.store = store
        self.ledger = Ledger(store)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.on_progress = on_progress
        self.lease_seconds = lease_seconds_of(lease_seconds)
        self.claims: Claims | None = None  # the running run's (a test may look at what it took over)

    def run(self, task: Task) -> R.Run:
        return asyncio.run(self.arun(task))

    def _check(self, task: Task) -> None:
        """Refuse a task this executor cannot run, before the run is opened."""

    def _claim_batch(self) -> int:
        """Units claimed at once: about what this executor has in flight."""
        return 64

    async def _work(self, task: Task, claims: Claims, writer: _Writer, progress: RunProgress) -> None:
        raise NotImplementedError

    async def arun(self, task: Task) -> R.Run:
        self._check(task)
        config = task.config()
        run_id = run_id_for(task.kind, config)
        if isinstance(task, StampsRunId) and task.run_id is None:  # tasks that stamp records with their run learn it here
            task.run_id = run_id
        units = list(task.units())
        keys = {u.key for u in units}
        if len(keys) != len(units):
            raise ValueError(f"task {task.kind!r} has units with the same key")
        kind = task.kind
        if not _is_run_kind(kind):
            raise ValueError(f"task kind {kind!r} is not a run kind: {', '.join(get_args(R.RunKind))}")
        run = R.Run(id=run_id, kind=kind, config=config, total=len(units))
        await asyncio.to_thread(self.ledger.open_run, run)
        await asyncio.to_thread(replay, self.store)  # answers a killed process received, before anything is asked
        states = await asyncio.to_thread(self.ledger.unit_states, run_id)
        done = {k for k, (status, _) in states.items() if status == "done"}
        todo = [u for u in units if u.key not in done]
        progress = RunProgress(run_id=run_id, total=len(units), done_before=len(keys & done))
        status = "done"
        try:
            if todo:
                if hasattr(task, "setup"):
                    await task.setup()
                caches = list(task.caches()) if hasattr(task, "caches") else []
                self.claims = claims = Claims(self.ledger, run_id, todo, {k: a for k, (_, a) in states.items()},
                                              lease=self.lease_seconds, batch=self._claim_batch())
                journal = Journal.open(self.store) if caches else None
                writer = _Writer(self.ledger, run_id, caches, self.batch_size, self.flush_interval, journal)
                async with claims:  # the units left unfinished are given back after the last commit
                    try:
                        await self._work(task, claims, writer, progress)
                    finally:
                        await writer.close()
        except (asyncio.CancelledError, KeyboardInterrupt):
            status = "interrupted"
            raise
        except BaseException:
            status = "failed"
            raise
        finally:
            if hasattr(task, "aclose"):
                with contextlib.suppress(Exception):
                    await task.aclose()
            final = await asyncio.shield(asyncio.to_thread(self.ledger.finish_run, run_id, status))
        return final


class LocalExecutor(ExecutorBase):
    """Runs a Task's units on one machine with asyncio, ``concurrency`` at a time."""

    name = "local"

    def __init__(
        self,
        store: Store,
        *,
        concurrency: int = 64,
        batch_size: int = 256,
        flush_interval: float = 0.25,
        on_progress: ProgressFn | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        super().__init__(store, batch_size=batch_size, flush_interval=flush_interval, on_progress=on_progress,
                         lease_seconds=lease_seconds)
        self.concurrency = concurrency

    def _claim_batch(self) -> int:
        return self.concurrency

    async def _work(self, task: Task, claims: Claims, writer: _Writer, progress: RunProgress) -> None:
        notify = self.on_progress

        async def worker() -> None:
            while (unit := await claims.next()) is not None:  # each unit is claimed once, here or elsewhere
                settle(await attempt(task, unit), writer, progress)
                if notify is not None:
                    notify(progress)
                # a unit that never awaits (a program verifier) would hold the loop: let the writer
                # commit and a Ctrl-C be seen between units
                await asyncio.sleep(0)

        await supervise([asyncio.ensure_future(worker()) for _ in range(min(self.concurrency, len(claims.units)))],
                        writer)


async def supervise(tasks: list[asyncio.Future], writer: _Writer) -> None:
    """Wait for ``tasks`` while the writer commits; the first error of either stops the run and
    every task left is cancelled (the writer's own error surfaces here, not at close)."""
    try:
        pending = set(tasks)
        while pending:
            finished, _ = await asyncio.wait([*pending, writer.task], return_when=asyncio.FIRST_COMPLETED)
            for f in finished:
                if (exc := f.exception()) is not None:
                    raise exc
            pending -= finished
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


EXECUTORS = ("local", "ray")
"""assay's own executors; ``executors()`` adds those of plug-ins."""


@register("executor", "local")
def _local(store: Store, **options: Any) -> Executor:
    """asyncio in this process."""
    return LocalExecutor(store, **options)


@register("executor", "ray")
def _ray(store: Store, **options: Any) -> Executor:
    """Ray workers (``pip install 'assay[ray]'``)."""
    try:
        from assay.runs._ray import RayExecutor
    except ImportError as e:
        if (e.name or "").split(".")[0] != "ray":
            raise
        raise MissingExtra("ray", "the Ray executor", e) from None
    from assay.runs._ray import RayCluster

    cluster = RayCluster(**{k: v for k, v in options.items() if k in RayCluster.fields()})
    return RayExecutor(store, cluster, **{k: v for k, v in options.items() if k not in RayCluster.fields()})


def executors() -> list[str]:
    """The executors' names: assay's own and those plug-ins register (plug-in kind ``executor``)."""
    return REGISTRY.names("executor")


def make_executor(name: str, store: Store, **options: Any) -> Executor:
    """The executor registered as ``name``: "local" (asyncio, one process), "ray" (``pip install 'assay[ray]'``)
    or one a plug-in registers with ``@assay.plugins.register("executor", name)`` (``factory(store, **options)``).

    Options an executor does not take are refused with a TypeError; ``address``,
    ``num_workers`` and ``chunk_size`` are the Ray executor's own. Both take
    ``lease_seconds``: how long a claim on units lasts unless renewed (default
    ``ASSAY_LEASE_SECONDS``, else 60), which is how long other processes wait before
    taking over the units of one that died on another machine.
    """
    if REGISTRY.find("executor", name) is None:
        raise AssayError(f"unknown executor {name!r}: use one of {', '.join(executors())}{REGISTRY.failure_note()}")
    return REGISTRY.create("executor", name, store, **options)
