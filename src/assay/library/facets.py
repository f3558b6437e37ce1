"""Failure facets: an LLM names the kind of each failure, free of its topic, before clustering.

Sentence embeddings of reviewers' reasons group failures by what they are about as much
as by what went wrong: "wrong sum in the tax question" sits nearer "refused the tax
question" than "wrong sum in the knitting question". Asking a model to name each
failure's kind in a few topic-free words first (a facet, as in conversation-clustering
systems that summarise before they embed) lets the clusters follow the failure.

One call per failure, through ``assay.providers`` (rate limits, retries, the store's
request cache: a second ``find`` asks nothing) and the judges' ``ask`` (an unreadable
answer gets a repair turn). A failure whose answer stays unreadable keeps its own text
and is counted in ``Facets.errors``: data, not a crash.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assay import records as R
from assay.library.failures import Failure

if TYPE_CHECKING:
    from assay.session import Session

SYSTEM = (
    "You sort failures of a language model into kinds. For one failed response you are given its "
    "prompt, the response and the reviewers' reasons. Name the kind of failure in a short phrase that "
    "would fit the same mistake on any other subject: leave out names, numbers and the subject matter "
    "of the prompt."
)

PROMPT = """Prompt:
{prompt}

Response:
{response}

Reasons the reviewers gave:
{reasons}

Answer with one JSON object only: {{"facet": "the kind of failure, 3 to 12 words"}}"""


@dataclass
class Facets:
    """Each failure's facet (by response id), who wrote them, and the failures left without one."""

    by_response: dict[str, str]
    model: str
    errors: dict[str, str] = field(default_factory=dict)
    """response id -> why its answer could not be used."""


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def messages_for(f: Failure, *, max_chars: int = 800) -> list[dict[str, str]]:
    """The chat messages asking for one failure's facet."""
    reasons = "\n".join(f"- {j}" for j in f.justifications) or "- (none given)"
    user = PROMPT.format(prompt=_clip(f.prompt, max_chars), response=_clip(f.response, max_chars),
                         reasons=_clip(reasons, max_chars))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_facet(completion: Any) -> str:
    """The facet in an answer: ``{"facet": "..."}`` of 1 to 20 words; JudgeParseError otherwise."""
    from assay.session import JudgeParseError

    text = getattr(completion, "text", completion) or ""
    found = re.search(r"\{.*\}", text, re.S)
    if not found:
        raise JudgeParseError("no JSON object found")
    try:
        data = json.loads(found.group(0))
    except json.JSONDecodeError as e:
        raise JudgeParseError(f"not valid JSON ({e.msg} at character {e.pos})") from None
    facet = data.get("facet") if isinstance(data, dict) else None
    if not isinstance(facet, str) or not 1 <= len(facet.split()) <= 20:
        raise JudgeParseError("field 'facet': a phrase of 1 to 20 words is required")
    return " ".join(facet.split())


async def _facets(client: Any, failures: Sequence[Failure], *, max_parse_retries: int) -> Facets:
    from assay.session import JudgeParseError, Usage, ask

    out = Facets({}, client.model.id)

    async def one(f: Failure) -> None:
        try:
            asked = await ask(client, messages_for(f), parse_facet, Usage(), sample_index=0,
                              params={"temperature": 0.0}, max_parse_retries=max_parse_retries)
        except JudgeParseError as e:
            out.errors[f.response_id] = e.message
            return
        out.by_response[f.response_id] = asked.parsed

    try:
        await client.preflight()
        await asyncio.gather(*(one(f) for f in failures))
    finally:
        await client.aclose()  # writes the fresh answers to the store's request cache
    return out


def describe_failures(session: Session, failures: Sequence[Failure], model: str | R.Model, *,
                      max_parse_retries: int = 1) -> Facets:
    """Ask ``model`` (any OpenAI-compatible endpoint, through the session's) for the facet of each failure.

    Pass the result to ``discover(..., facets=...)``. Provider failures (unreachable
    server, refused key) raise ``AssayError``; unreadable answers are in ``errors``.
    """
    m = model if isinstance(model, R.Model) else session.model(model, prices=False)
    client = session.client(m, concurrency=8)
    if not failures:
        return Facets({}, m.id)
    return asyncio.run(_facets(client, failures, max_parse_retries=max_parse_retries))
