"""A Session: one command's store, endpoint and execution, and what every model-calling job does with them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from assay import records as R
from assay.errors import BadInput
from assay.session._ask import ask
from assay.session._config import Endpoint, Execution

if TYPE_CHECKING:
    from assay.runs import Call, Task, Unit
    from assay.store import Store


class Session:
    """What a command's model work shares: the store, one ``Endpoint`` and one ``Execution``.

    The CLI builds one per command from its shared options; a library caller builds one
    and passes it to the jobs (``judge_rubric``, ``generate``, ``run_attacks``...):

        session = Session(store, Endpoint(base_url=URL, rpm=600), Execution(concurrency=32))
        run, rater = judge_rubric(session, ["judge@1"], "default", dataset="qa")

    A job asks it for the model it names (``model``), a provider client for that model
    (``client``: the store's request cache, the endpoint's limits and retries), and runs
    its task (``run``: plan, store the models and raters, the executor, remembering the
    endpoint once the run has answers). Inside a unit, ``ask`` sends messages and parses
    the answer with repair turns; ``Usage`` adds up tokens and cost.
    """

    ask = staticmethod(ask)

    def __init__(self, store: Store, endpoint: Endpoint | None = None, execution: Execution | None = None) -> None:
        self.store = store
        self.endpoint = endpoint if endpoint is not None else Endpoint()
        self.execution = execution if execution is not None else Execution()

    def __repr__(self) -> str:
        return f"Session({self.store!r}, {self.endpoint!r}, {self.execution!r})"

    def replace(self, **changes: Any) -> Session:
        """A session over the same store with some endpoint or execution fields changed (by field name)."""
        ends = {f.name for f in dataclasses.fields(Endpoint)}
        execs = {f.name for f in dataclasses.fields(Execution)}
        unknown = set(changes) - ends - execs
        if unknown:
            raise TypeError(f"no session setting {', '.join(sorted(unknown))}")
        endpoint = dataclasses.replace(self.endpoint, **{k: v for k, v in changes.items() if k in ends})
        execution = dataclasses.replace(self.execution, **{k: v for k, v in changes.items() if k in execs})
        return Session(self.store, endpoint, execution)

    def concurrency(self, default: int) -> int:
        """Calls in flight per model: the execution's, else the job's ``default``."""
        return self.execution.concurrency or default

    def model(self, model_id: str, *, base_url: str | None = None, prices: bool = True,
              param: str = "judge") -> R.Model:
        """The Model ``model_id``: the stored one with the endpoint's overrides, or a new one.

        The endpoint's base URL, key variable and (with ``prices``) prices replace the stored
        ones; ``base_url`` replaces the stored one when the endpoint gives none. It is
        stored when its run starts, its base URL and key variable only once the run has
        answers (``assay.runs.endpoint``). BadInput on ``param`` for a malformed id, on
        ``base_url`` when no base URL is known.
        """
        try:
            R.split_model_id(model_id)
        except ValueError as e:
            raise BadInput(str(e), param=param) from None
        e = self.endpoint
        stored = self.store.find(R.Model, model_id)
        fields: dict[str, Any] = stored.model_dump() if stored is not None else {"id": model_id}
        overrides = {"base_url": e.base_url or base_url, "api_key_env": e.api_key_env}
        if prices:
            overrides.update(price_input_per_mtok=e.price_in, price_output_per_mtok=e.price_out)
        fields.update({k: v for k, v in overrides.items() if v is not None})
        if not fields.get("base_url"):
            raise BadInput(f"judge {model_id} has no base URL in the store: give --base-url", param="base_url")
        return R.Model(**fields)

    def client(self, model: R.Model, *, concurrency: int, cache: Any = None, **options: Any) -> Any:
        """A provider client for ``model`` with the store's request cache and the endpoint's limits and retries.

        ``concurrency`` is the job's default (the execution's setting wins); ``cache`` a
        RequestCache to share between clients (a new one otherwise); ``options`` go to the
        provider as they are (``structured``, ``stream``...).
        """
        from assay.providers import RequestCache, make_provider

        return make_provider(model, cache=cache if cache is not None else RequestCache(self.store),
                             no_cache=self.endpoint.no_cache, concurrency=self.concurrency(concurrency),
                             **self.endpoint.limits(), **options)

    def run_id(self, task: Task) -> str:
        """The id ``task`` runs under: the one it was given, else the digest of its kind and config."""
        from assay.runs import run_id_for

        given = getattr(task, "run_id", None)
        return given if given is not None else run_id_for(task.kind, task.config())

    def run(self, task: Task, *, concurrency: int, models: Sequence[R.Model] = (), records: Sequence[R.Record] = (),
            calls: Callable[[Unit], list[Call]] | None = None, remember: bool = True) -> R.Run:
        """Run ``task`` to the end with the execution's executor; returns its Run.

        In order: ``on_plan`` sees the plan of ``calls`` (what each unit asks), ``models``
        are stored without their endpoints and ``records`` (raters, datasets) as they are,
        ``on_start`` hears the run id and size, the executor runs ``concurrency`` units at
        once, and with ``remember`` a run that got answers keeps the models' base URLs, key
        variables and prices as their stored defaults.
        """
        from assay.runs import make_executor
        from assay.runs.endpoint import remember_endpoint, store_model
        from assay.runs.plan import plan_task

        ex = self.execution
        if calls is not None and ex.on_plan is not None:
            ex.on_plan(plan_task(self.store, task, calls))
        for m in models:
            store_model(self.store, m)
        if records:
            self.store.add(list(records))
        if ex.on_start is not None:
            ex.on_start(self.run_id(task), sum(1 for _ in task.units()))
        runner = make_executor(ex.executor, self.store, concurrency=concurrency, on_progress=ex.on_progress,
                               **dict(ex.options))
        run = runner.run(task)
        if remember and run.succeeded:
            for m in models:
                remember_endpoint(self.store, m)
        return run
