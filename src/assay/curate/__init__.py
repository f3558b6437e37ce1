"""Curation: clean a dataset into a new one, logging every item each step removed or changed, and why.

>>> from assay.curate import parse_step
>>> parse_step("near-dup(threshold=0.9)").label()
'near-dup(threshold=0.9)'
"""

from assay.curate.pipeline import CurationSummary, curate, order_items, run_id_of, target_item_id
from assay.curate.spec import load_pipeline
from assay.curate.steps import (
    Decision,
    Step,
    Work,
    arguments,
    create,
    describe,
    from_spec,
    names,
    parse_step,
    parse_steps,
    registrations,
    step,
)

__all__ = [
    "CurationSummary",
    "Decision",
    "Step",
    "Work",
    "arguments",
    "create",
    "curate",
    "describe",
    "from_spec",
    "load_pipeline",
    "names",
    "order_items",
    "parse_step",
    "parse_steps",
    "registrations",
    "run_id_of",
    "step",
    "target_item_id",
]
