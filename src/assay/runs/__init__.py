"""Running many model calls: tasks of units, resumable executors (local asyncio, Ray), generation.

    from assay.runs import LocalExecutor, Outcome, Unit, make_executor
    run = LocalExecutor(store, concurrency=64).run(task)   # task: see Task
    run = make_executor("ray", store, num_workers=4).run(task)   # pip install 'assay[ray]'

A Task (generation, judging, verification...) yields Units with stable keys and turns
one Unit into an Outcome (records + usage). The executor writes each batch of results
with the units' ledger rows in one transaction and records a Run whose id is the digest
of the task's config; running the same task again resumes it, on either executor. A
model's answer is in the store before its call ends, so a killed run loses only the
calls in flight; units are claimed with leases, so processes on one store share a run. The
Ray executor rebuilds a task's unit work on its workers from a registered name and
plain config (``WorkSpec``, ``unit_work``, ``work_spec``, ``build_work``; a worker's
provider clients come from ``Clients`` with a ``WorkerCache``); only the driver writes to
the store. ``WorkTask`` is a Task whose units a function does (judging, verifying).
A job runs its task through an ``assay.session.Session``, which picks the executor.

Before a run starts, ``plan_task`` says what it will spend (calls not yet done nor
cached, estimated tokens and cost: ``assay.runs.plan``).
"""

from assay.runs._executor import EXECUTORS, Executor, LocalExecutor, executors, make_executor, run_id_for
from assay.runs._remote import Clients, WorkerCache, WorkSpec, build_work, unit_work, work_spec
from assay.runs._task import Outcome, RunProgress, Task, Unit, WorkTask
from assay.runs.endpoint import remember_endpoint, store_model
from assay.runs.generate import GenerateTask, generate, generate_plan
from assay.runs.plan import Call, Plan, plan_calls, plan_task

__all__ = [
    "EXECUTORS",
    "Call",
    "Executor",
    "GenerateTask",
    "LocalExecutor",
    "Outcome",
    "Plan",
    "RayCluster",
    "RayExecutor",
    "RunProgress",
    "Task",
    "Unit",
    "Clients",
    "WorkSpec",
    "WorkTask",
    "WorkerCache",
    "build_work",
    "generate",
    "generate_plan",
    "executors",
    "make_executor",
    "plan_calls",
    "plan_task",
    "remember_endpoint",
    "run_id_for",
    "store_model",
    "unit_work",
    "work_spec",
]


def __getattr__(name: str):  # noqa: ANN202 - the Ray executor imports ray, so only when asked for
    if name in ("RayExecutor", "RayCluster"):
        from assay.runs import _ray

        return getattr(_ray, name)
    raise AttributeError(f"module 'assay.runs' has no attribute {name!r}")
