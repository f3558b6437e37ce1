"""Generation: one Response per item x sample of a dataset, from one model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from assay import records as R
from assay.errors import BadInput, NotFound
from assay.runs._executor import run_id_for
from assay.runs._remote import WorkSpec, unit_work, work_spec
from assay.runs._task import Outcome, Unit
from assay.runs.plan import Call, Plan

if TYPE_CHECKING:
    from assay.session import Session
    from assay.store import Store


class GenerateTask:
    """Unit ``"{item_id}:{k}"`` asks ``client`` to answer item (chat messages) as sample k.

    Its Responses are stamped with ``run_id``: the one given (an attack that generates
    inside its own run), else the digest of this generation's config.
    """

    kind = "generate"

    def __init__(
        self,
        client: Any,
        items: Iterable[R.Item],
        *,
        dataset: str,
        samples: int = 1,
        params: dict[str, Any] | None = None,
        execution: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> None:
        if samples < 1:
            raise ValueError("samples must be at least 1")
        self.client = client
        self.items = list(items)
        self.dataset = dataset
        self.samples = samples
        self.params = {k: v for k, v in (params or {}).items() if v is not None}
        self.execution = execution or {}
        self.run_id = run_id if run_id is not None else run_id_for(self.kind, self.config())

    def config(self) -> dict[str, Any]:
        spec = self.client.spec()
        return {
            "model": self.client.model.id,
            "provider": spec["provider"],
            "dataset": self.dataset,
            "samples": self.samples,
            "params": self.params,
            "execution": {"base_url": spec.get("base_url"), **self.execution},
        }

    def units(self) -> Iterable[Unit]:
        for item in self.items:
            for k in range(self.samples):
                yield Unit(f"{item.id}:{k}", (item, k))

    def caches(self) -> list:
        return [self.client.cache] if self.client.cache is not None else []

    def work_spec(self) -> WorkSpec:
        config = {"client": self.client.spec(), "dataset": self.dataset, "samples": self.samples,
                  "params": self.params, "run_id": self.run_id}
        return work_spec("generate", config)

    def request_digests(self, unit: Unit) -> list[str]:
        item, k = unit.payload
        digest = getattr(self.client, "request_digest", None)
        return [digest(item.chat(), sample_index=k, **self.params)] if digest is not None else []

    def planned_calls(self, unit: Unit) -> list[Call]:
        """The call a unit makes (see ``assay.runs.plan``)."""
        item, k = unit.payload
        return [Call.of(self.client, item.chat(), sample_index=k, params=self.params)]

    async def setup(self) -> None:
        await self.client.preflight()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def run(self, unit: Unit) -> Outcome:
        item, k = unit.payload
        model = self.client.model.id
        c = await self.client.complete(item.chat(), sample_index=k, **self.params)
        resp = R.Response(
            id=R.Response.make_id(item.id, model, k),
            item_id=item.id,
            model=model,
            sample_index=k,
            text=c.text,
            prompt_tokens=c.prompt_tokens,
            completion_tokens=c.completion_tokens,
            latency_ms=round(c.latency_ms, 3),
            cost_usd=c.cost_usd,
            finish_reason=c.finish_reason,
            ttft_ms=round(c.ttft_ms, 3) if c.ttft_ms is not None else None,
            run_id=self.run_id,
            metadata={"request_digest": c.digest, "cached": c.cached},
        )
        if c.cached:
            return Outcome(resp.id, [resp], cached=True)
        return Outcome(resp.id, [resp], c.prompt_tokens or 0, c.completion_tokens or 0, c.cost_usd or 0.0)


@unit_work("generate")
def _generate_work(config: dict[str, Any], clients: Any) -> GenerateTask:
    """GenerateTask's unit work, rebuilt in a worker process."""
    return GenerateTask(clients(config["client"]), [], dataset=config["dataset"], samples=config["samples"],
                        params=config["params"], run_id=config["run_id"])


def generate(session: Session, model: R.Model, dataset: str, *, samples: int = 1,
             params: dict[str, Any] | None = None) -> R.Run:
    """Answer every item of ``dataset`` ``samples`` times with ``model``; returns the Run.

    ``params`` are the request's parameters (temperature, max_tokens, top_p, seed...), over
    the session endpoint's ``temperature`` and ``max_tokens``. Running the same generation
    again resumes it: finished units are skipped, failed ones retried. Requests are cached
    by digest (the endpoint's ``cache``). The endpoint's ``stream`` asks for streamed
    answers and stores each Response's ``ttft_ms``; it is an execution option, so the run
    (and its cache entries) are the same with or without it. The session's execution picks
    the executor ("local" or "ray") and its callbacks; its ``on_plan(plan)`` sees what the
    run will spend (``assay.runs.plan``) before anything is stored or sent, and an
    exception it raises stops the run there. The model's base URL and key variable become
    its stored defaults only if the run gets answers.
    """
    store, endpoint = session.store, session.endpoint
    items = store.list("items", dataset=dataset)
    if not items:
        if store.find("datasets", dataset) is None:
            raise NotFound(f"no dataset {dataset!r} in the store (import it with `assay import`)")
        raise NotFound(f"dataset {dataset!r} has no items")
    concurrency = session.concurrency(16)
    options: dict[str, Any] = {"stream": True} if endpoint.stream else {}  # only when asked: a provider
    # without streaming still takes the other options
    client = session.client(model, concurrency=16, **options)
    request = {"temperature": endpoint.temperature, "max_tokens": endpoint.max_tokens, **(params or {})}
    task = GenerateTask(client, items, dataset=dataset, samples=samples, params=request,
                        execution={"concurrency": concurrency, **endpoint.limits(), **options,
                                   "no_cache": endpoint.no_cache})
    _refuse_clashing_settings(store, model.id, {i.id for i in items}, task.params, task.run_id)
    # Twice the HTTP slots in flight: units waiting out a backoff do not idle the connections.
    return session.run(task, concurrency=2 * concurrency, models=[model], calls=task.planned_calls)


def generate_plan(store: Store, model: R.Model, items: Iterable[R.Item], *, dataset: str, samples: int = 1,
                  params: dict[str, Any] | None = None, no_cache: bool = False) -> Plan:
    """What ``generate`` would spend answering ``items`` as ``dataset`` (nothing is stored or sent).

    For callers that plan several generations before starting any (e.g. the red-team
    attacks, whose items are not stored yet); ``generate`` plans its own for the session's ``on_plan``.
    """
    from assay.providers import RequestCache, make_provider
    from assay.runs.plan import plan_task

    client = make_provider(model, cache=None if no_cache else RequestCache(store), no_cache=no_cache)
    task = GenerateTask(client, items, dataset=dataset, samples=samples, params=params)
    return plan_task(store, task, task.planned_calls)


def _refuse_clashing_settings(store: Store, model_id: str, item_ids: set[str], params: dict[str, Any],
                              run_id: str) -> None:
    """Refuse to generate over responses of the same model that other settings produced.

    A response's id is item x model x sample, so a second generation with, say, another
    temperature would be taken for the first and silently kept out. The same settings
    (more samples, a resumed run) are fine.
    """
    existing = store.frame("responses", model=model_id)
    existing = existing[existing["item_id"].isin(item_ids)]
    for other in sorted({r for r in existing["run_id"] if r != run_id}, key=str):
        if other is None:
            reason = "were imported"
        else:
            run = store.find("runs", other)
            theirs = (run.config.get("params") if run is not None else None) or {}
            if theirs == params:
                continue
            reason = f"were generated by run {other[:12]} with {theirs or 'default settings'}"
        raise BadInput(f"responses of {model_id} to these items {reason}; to keep both, give these settings "
                       f"their own version (e.g. {model_id}-t{params.get('temperature', 'x')})", param="model")
