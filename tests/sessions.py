"""A Session from the flat settings the jobs took before they took one (tests keep their settings as they were)."""

from __future__ import annotations

import dataclasses
from typing import Any

from assay.session import Endpoint, Execution, Session

_RENAMED = {"no_cache": "cache", "executor_options": "options"}


def session(store: Any, **settings: Any) -> Session:
    """``Session(store, Endpoint(...), Execution(...))`` with each setting given to the record that has it."""
    ends = {f.name for f in dataclasses.fields(Endpoint)}
    endpoint: dict[str, Any] = {}
    execution: dict[str, Any] = {}
    for k, v in settings.items():
        if k == "no_cache":
            endpoint["cache"] = "own-run" if v else "on"
        elif k == "executor_options":
            execution["options"] = v or {}
        elif k in ends:
            endpoint[k] = v
        else:
            execution[k] = v  # an unknown name fails here, as it failed in the job
    return Session(store, Endpoint(**endpoint), Execution(**execution))
