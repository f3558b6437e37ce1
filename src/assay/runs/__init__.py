"""Running many model calls: tasks of units, a resumable local executor, generation.

    from assay.runs import LocalExecutor, Outcome, Unit
    run = LocalExecutor(store, concurrency=64).run(task)   # task: see Task

A Task (generation, judging, verification...) yields Units with stable keys and turns
one Unit into an Outcome (records + usage). The executor writes each batch of results
with the units' ledger rows in one transaction and records a Run whose id is the digest
of the task's config; running the same task again resumes it.
"""

from assay.runs._executor import Executor, LocalExecutor, make_executor, run_id_for
from assay.runs._task import Outcome, RunProgress, Task, Unit
from assay.runs.generate import GenerateTask, generate

__all__ = [
    "Executor",
    "GenerateTask",
    "LocalExecutor",
    "Outcome",
    "RunProgress",
    "Task",
    "Unit",
    "generate",
    "make_executor",
    "run_id_for",
]
