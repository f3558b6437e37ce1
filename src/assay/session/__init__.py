"""The session layer: which endpoint a command's model calls go to, how its runs execute, and asking a model.

    from assay.session import Endpoint, Execution, Session

    session = Session(store, Endpoint(base_url=URL, rpm=600, max_retries=3),
                      Execution(executor="local", concurrency=32, on_progress=show))
    run = generate(session, model, "qa", samples=2)            # assay.runs
    run, rater = judge_rubric(session, ["judge@1"], "default")  # assay.judges.jobs

``Endpoint`` (address, key, model parameters, limits, retries, timeout, cache, prices) and
``Execution`` (executor and its options, concurrency, progress callbacks) are frozen
records; a ``Session`` owns them and the store for one command. A job takes the session
and its own domain parameters only; inside, it gets its model (``session.model``), a
provider client (``session.client``) and runs its Task (``session.run``). A unit that
needs a parsed answer uses ``ask`` (repair turns on unreadable output) and counts its
calls in a ``Usage``.
"""

from assay.session._ask import (
    Asked, JudgeParseError, Structured, Usage, ask, first_request, json_or_text, request_digests, strip_code_fence,
    wants_structured,
)
from assay.session._config import Endpoint, Execution
from assay.session._session import Session

ParseError = JudgeParseError

__all__ = [
    "Asked",
    "Endpoint",
    "Execution",
    "JudgeParseError",
    "ParseError",
    "Session",
    "Structured",
    "Usage",
    "ask",
    "first_request",
    "json_or_text",
    "request_digests",
    "strip_code_fence",
    "wants_structured",
]
