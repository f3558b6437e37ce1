"""LLM hypotheses: a model reads a candidate's examples and says what fails and why, as JSON we check.

The call goes through ``assay.providers`` (rate limits, retries, the store's request
cache) and the judges' ``ask`` (an unreadable answer gets a repair turn, and is kept out
of the cache). An answer that stays unreadable leaves the candidate titled from its
terms with ``hypothesis_error`` saying why: it is data, not a crash.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from assay import records as R
from assay.library.discover import Candidate

if TYPE_CHECKING:
    from assay.session import Session

SYSTEM = (
    "You analyse failures of a language model found during evaluation. You are given several failed "
    "responses that an automatic clustering grouped together, each with its prompt, the response and "
    "the reviewers' reasons for failing it. Name the common failure mode and propose why the model fails "
    "this way. Be specific and grounded in the examples; do not invent details they do not show."
)

PROMPT = """Failed responses grouped together ({size} in the group; {shown} shown, most typical first).
Distinctive terms of the group: {terms}.
Models involved: {models}.

{examples}

Answer with one JSON object only, no prose around it, with exactly these keys:
{{"title": "a short name for the failure mode (at most 10 words)",
  "description": "what goes wrong, in one to three sentences",
  "hypothesis": "why the model plausibly fails this way, in one to three sentences",
  "category": "one or two words, e.g. refusal, reasoning, factuality, safety, formatting",
  "severity": "low | medium | high | critical"}}"""

EXAMPLE = """### Example {n}
Prompt:
{prompt}
Response ({model}):
{response}
Reasons given:
{reasons}"""


class Hypothesis(BaseModel):
    """What the LLM must answer: its JSON, validated."""

    title: str = Field(min_length=3, max_length=120)
    description: str = Field(min_length=1)
    hypothesis: str = Field(min_length=1)
    category: str | None = Field(None, max_length=60)
    severity: Literal["low", "medium", "high", "critical"] = "medium"


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def messages_for(c: Candidate, *, max_chars: int = 600) -> list[dict[str, str]]:
    """The chat messages asking for a candidate's title, description and hypothesis."""
    examples = "\n\n".join(
        EXAMPLE.format(n=i + 1, prompt=_clip(f.prompt, max_chars), model=f.model,
                       response=_clip(f.response, max_chars),
                       reasons=_clip("\n".join(f"- {j}" for j in f.justifications) or "- (none given)", max_chars))
        for i, f in enumerate(c.examples))
    models = ", ".join(f"{m.model} ({m.failures} failures, rate {m.rate:.0%})" for m in c.models)
    user = PROMPT.format(size=c.size, shown=len(c.examples), terms=", ".join(c.terms) or "(none)",
                         models=models, examples=examples)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_hypothesis(completion: Any) -> Hypothesis:
    """The Hypothesis in an answer (a bare JSON object, or one inside a code fence); JudgeParseError if none."""
    from assay.session import JudgeParseError

    text = getattr(completion, "text", completion) or ""
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", text, re.S)
    raw = fenced.group(1) if fenced else text[text.find("{"): text.rfind("}") + 1]
    if not raw:
        raise JudgeParseError("no JSON object found")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise JudgeParseError(f"not valid JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(data, dict):
        raise JudgeParseError("the JSON is not an object")
    try:
        return Hypothesis.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"])) or "answer"
        raise JudgeParseError(f"field '{where}': {first['msg']}") from None


async def _hypothesise_all(client: Any, candidates: Sequence[Candidate], *, temperature: float,
                           max_parse_retries: int) -> None:
    from assay.session import JudgeParseError, Usage, ask

    async def one(c: Candidate) -> None:
        try:
            asked = await ask(client, messages_for(c), parse_hypothesis, Usage(), sample_index=0,
                              params={"temperature": temperature}, max_parse_retries=max_parse_retries)
        except JudgeParseError as e:
            c.hypothesis_error = e.message
            return
        h: Hypothesis = asked.parsed
        c.title, c.description, c.hypothesis = h.title.strip(), h.description.strip(), h.hypothesis.strip()
        c.category, c.severity, c.hypothesised_by = h.category, h.severity, client.model.id

    try:
        await client.preflight()
        await asyncio.gather(*(one(c) for c in candidates))
    finally:
        await client.aclose()  # writes the fresh answers to the store's request cache


def hypothesise(session: Session, candidates: Sequence[Candidate], model: str | R.Model, *,
                max_parse_retries: int = 1) -> list[Candidate]:
    """Ask ``model`` (any OpenAI-compatible endpoint, through the session's) to title and explain each candidate,
    in place, at the endpoint's temperature (else 0).

    A candidate whose answer stays unreadable after ``max_parse_retries`` repair turns
    keeps its term title and gets ``hypothesis_error``. Provider failures (unreachable
    server, refused key) raise ``AssayError``.
    """
    m = model if isinstance(model, R.Model) else session.model(model, prices=False)
    client = session.client(m, concurrency=4)
    temperature = session.endpoint.temperature if session.endpoint.temperature is not None else 0.0
    if candidates:
        asyncio.run(_hypothesise_all(client, candidates, temperature=temperature,
                                     max_parse_retries=max_parse_retries))
    return list(candidates)
