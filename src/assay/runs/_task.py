"""What an executor runs: a Task made of Units, each producing an Outcome (or failing)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from assay import records as R

if TYPE_CHECKING:
    from assay.runs._remote import WorkSpec


@dataclass(frozen=True, slots=True)
class Unit:
    """One piece of work with a key that is stable across invocations of the same run.

    ``key`` is at most 200 characters (e.g. ``"{item_id}:{sample}"`` or
    ``"{judge}:{response_id}"``); ``payload`` is whatever the task needs to do it.
    """

    key: str
    payload: Any = None


@dataclass(slots=True)
class Outcome:
    """What a unit produced: records to store with its ledger row, and what it used.

    ``result_id`` names the main record (a Response, a Judgment...). Tokens and cost are
    what this execution spent: zero when answered from the cache.
    """

    result_id: str | None = None
    records: Sequence[R.Record] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False


@runtime_checkable
class Task(Protocol):
    """A batch of units of one kind: generation (item x sample), judging (judge x response)...

    Required: ``kind`` (a Run kind), ``config()`` (a JSON snapshot; everything but its
    ``"execution"`` key identifies the run), ``units()``, and ``run(unit)``, which returns
    an Outcome or raises: an ``AssayError`` (e.g. ProviderFatal) stops the whole run; any
    other exception fails this unit only, recorded under ``exc.kind`` (or the exception's
    class name) with its message.

    Optional: ``async setup()`` (a preflight check, called only when work remains),
    ``async aclose()``, and ``caches()`` returning RequestCaches whose new entries are
    committed together with each batch of results.

    To run on the Ray executor a task also names its unit work: ``work_spec()`` returns
    a ``WorkSpec`` (a name registered with ``@unit_work`` and plain config) from which a
    worker rebuilds an object whose ``run(unit)`` does what the task's does; and
    ``request_digests(unit)`` lists the cache keys of the calls a unit makes first, which
    the driver looks up in the store for the worker (see ``assay.runs._remote``).
    """

    kind: str

    def config(self) -> dict[str, Any]: ...

    def units(self) -> Iterable[Unit]: ...

    async def run(self, unit: Unit) -> Outcome: ...


@runtime_checkable
class NamesWork(Protocol):
    """A task that can run on Ray: ``work_spec()`` names its registered unit work (see ``Task``)."""

    def work_spec(self) -> WorkSpec | None: ...


@runtime_checkable
class DigestsRequests(Protocol):
    """A task that lists the cache keys of the calls a unit makes first (see ``Task``)."""

    def request_digests(self, unit: Unit) -> list[str]: ...


@runtime_checkable
class StampsRunId(Protocol):
    """A task whose records carry their run's id; None until the executor sets it."""

    run_id: str | None


@dataclass
class RunProgress:
    """Live counters of a run, handed to ``on_progress`` after every unit."""

    run_id: str
    total: int
    done_before: int = 0
    succeeded: int = 0
    failed: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def completed(self) -> int:
        """Units finished, either way, including those done by earlier invocations."""
        return self.done_before + self.succeeded + self.failed


class WorkTask:
    """A Task whose units a function does: ``work(payload) -> Outcome`` for each unit (judging, verifying...).

    ``clients`` are the provider clients used (their caches are committed with each
    batch; they are preflighted before work and closed after). ``spec`` names the
    registered unit work that rebuilds ``work`` in a Ray worker, ``digests(payload)``
    the cache keys of a unit's first calls (see ``Task``), and ``run_id`` the id the
    task's records are stamped with (None: the executor's, from the config).
    """

    def __init__(
        self,
        kind: str,
        config: dict[str, Any],
        units: Iterable[Unit],
        work: Callable[[Any], Awaitable[Outcome]],
        *,
        clients: Sequence[Any] = (),
        spec: WorkSpec | None = None,
        digests: Callable[[Any], list[str]] | None = None,
        run_id: str | None = None,
    ) -> None:
        self.kind = kind
        self._config = config
        self._units = list(units)
        self._work = work
        self.clients = list(clients)
        self._spec = spec
        self._digests = digests
        self.run_id = run_id

    def work_spec(self) -> WorkSpec | None:
        return self._spec

    def request_digests(self, unit: Unit) -> list[str]:
        return self._digests(unit.payload) if self._digests is not None else []

    def config(self) -> dict[str, Any]:
        return self._config

    def units(self) -> list[Unit]:
        return self._units

    def caches(self) -> list[Any]:
        caches = {id(c.cache): c.cache for c in self.clients if getattr(c, "cache", None) is not None}
        return list(caches.values())

    async def setup(self) -> None:
        for c in self.clients:
            await c.preflight()

    async def aclose(self) -> None:
        for c in self.clients:
            await c.aclose()

    async def run(self, unit: Unit) -> Outcome:
        return await self._work(unit.payload)
