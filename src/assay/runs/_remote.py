"""A task's unit work as a registered name plus plain config, so another process can rebuild it.

A Task holds provider clients whose request cache reads the store, and closures over
them: neither can be sent to a Ray worker. A task that can run elsewhere says how to
rebuild its unit work instead (``task.work_spec()``): the name of a factory registered
with ``@unit_work(name)`` and a JSON-ready config. A worker calls ``build_work`` with a
``Clients`` maker that builds provider clients from their specs with the worker's own
cache (``WorkerCache``: the answers the driver looked up for it, plus the new ones it
sends back) and its share of each model's limits.

    @unit_work("generate")
    def _generate_work(config, clients):          # -> an object with `async run(unit)`
        return GenerateTask(clients(config["client"]), [], ...)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assay.errors import AssayError
from assay.plugins import REGISTRY


@dataclass(frozen=True)
class WorkSpec:
    """What rebuilds a task's unit work in another process: a registered name and plain config."""

    name: str
    config: dict[str, Any] = field(default_factory=dict)
    module: str | None = None
    """The module that registers ``name`` (imported by a worker that does not know it yet)."""


def unit_work(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``factory(config, clients)`` (returning an object with ``async run(unit) -> Outcome``) as ``name``.

    The same as ``assay.plugins.register("unit-work", name)``."""
    return REGISTRY.register("unit-work", name)


def work_spec(name: str, config: dict[str, Any]) -> WorkSpec:
    """The WorkSpec of the registered work ``name`` (its module recorded for workers)."""
    found = REGISTRY.find("unit-work", name)
    if found is None:
        raise AssayError(f"no unit work registered as {name!r}")
    return WorkSpec(name, config, found.factory.__module__)


def build_work(spec: WorkSpec, clients: Clients) -> Any:
    """Rebuild a task's unit work from its spec (in a worker, or on the driver to check it)."""
    if REGISTRY.find("unit-work", spec.name) is None and spec.module:
        importlib.import_module(spec.module)
    if REGISTRY.find("unit-work", spec.name) is None:
        raise AssayError(f"no unit work registered as {spec.name!r} (module {spec.module})")
    return REGISTRY.create("unit-work", spec.name, spec.config, clients)


class WorkerCache:
    """A worker's request cache: answers the driver looked up in the store, and the new answers made here.

    Same face as ``providers.RequestCache`` (``get``, ``put``, ``take``, ``flush``), without a
    store: ``prime`` adds the driver's look-ups for a chunk, ``take`` hands the new entries
    over to be sent back with results. A request the driver did not look up is a miss.
    """

    def __init__(self) -> None:
        self.known: dict[str, Any] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self.hits = 0
        self.misses = 0

    def prime(self, found: dict[str, Any]) -> None:
        self.known.update(found)

    async def get(self, digest: str) -> Any | None:
        row = self._pending.get(digest)
        found = row["response"] if row is not None else self.known.get(digest)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, digest: str, model: str, request: dict[str, Any], response: Any) -> None:
        self._pending[digest] = {"digest": digest, "model": model, "request": request, "response": response}

    def forget(self, digests: Any) -> None:
        """Drop the driver's answers for a finished chunk (a worker's memory stays bounded)."""
        for d in digests:
            self.known.pop(d, None)

    def take(self) -> list[dict[str, Any]]:
        rows = list(self._pending.values())
        self._pending = {}
        return rows

    async def flush(self) -> None:
        """Nothing to write here: new entries leave with the worker's results."""


class Clients:
    """Makes provider clients from their specs (``client.spec()``) the way a worker needs them.

    Every client gets ``cache`` (unless its spec says ``no_cache``) and ``1/share`` of its
    model's limits: concurrency ``max(1, concurrency // share)``, RPM and TPM divided by
    ``share``. Limits a spec does not give keep the provider's defaults.
    """

    def __init__(self, cache: Any = None, share: int = 1) -> None:
        if share < 1:
            raise ValueError("share must be at least 1")
        self.cache = cache
        self.share = share

    def __call__(self, spec: dict[str, Any]) -> Any:
        from assay import records as R
        from assay.providers import make_provider

        options = dict(spec.get("options") or {})
        if spec.get("base_url"):
            options["base_url"] = spec["base_url"]
        if options.get("concurrency"):
            options["concurrency"] = max(1, int(options["concurrency"]) // self.share)
        for limit in ("rpm", "tpm"):
            if options.get(limit):
                options[limit] = float(options[limit]) / self.share
        no_cache = bool(options.pop("no_cache", False))
        return make_provider(R.Model.model_validate(spec["model"]), cache=None if no_cache else self.cache,
                             no_cache=no_cache, **options)
