"""Asking a model for an answer that must parse, with bounded repair turns, and what the calls cost.

``ask`` sends chat messages through a provider client (rate-limited, retried, cached by
request digest), reads the answer with the caller's parser, and on an unreadable answer
asks again with a repair turn that shows the model its own output and why it was refused.
``Usage`` adds up the tokens and cost of a unit's calls (answers from the cache cost
nothing) and turns them into the run engine's ``Outcome``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.runs import Outcome

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_+-]*[ \t]*\n(.*?)\n?```\s*$", re.DOTALL)


def strip_code_fence(text: str) -> str:
    """The body of a markdown code fence (```json ... ```) when ``text`` is one, else ``text``."""
    m = _FENCE.match(text)
    return m.group(1) if m else text


class JudgeParseError(Exception):
    """The judge's output could not be read as a verdict (stored as the unit's error after retries)."""

    kind = "unparseable"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass
class Usage:
    """Tokens and cost spent by the calls of one unit (zero for answers from the cache)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    cached_calls: int = 0

    def add(self, c: Any) -> None:
        self.calls += 1
        if c.cached:
            self.cached_calls += 1
            return
        self.prompt_tokens += c.prompt_tokens or 0
        self.completion_tokens += c.completion_tokens or 0
        self.cost_usd += c.cost_usd or 0.0

    def merge(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_usd += other.cost_usd
        self.calls += other.calls
        self.cached_calls += other.cached_calls

    def add_outcome(self, out: Outcome) -> None:
        """Count a unit of another task run inside this one (e.g. a generation inside an attack) as one call."""
        self.calls += 1
        self.cached_calls += out.cached
        self.prompt_tokens += out.prompt_tokens
        self.completion_tokens += out.completion_tokens
        self.cost_usd += out.cost_usd

    def outcome(self, result_id: str | None, records: Sequence[Any]) -> Outcome:
        """The run engine's Outcome of a unit whose calls this counted: cached when every call was."""
        from assay.runs import Outcome

        cached = self.calls > 0 and self.cached_calls == self.calls
        return Outcome(result_id, list(records), self.prompt_tokens, self.completion_tokens, self.cost_usd, cached)


REPAIR = (
    "Your previous answer could not be read: {reason}. Write your answer again, complete, "
    "ending with the verdict line(s) exactly in the format asked for."
)
REPAIR_TRUNCATED = (
    "Your previous answer was cut off before the end ({reason}). Write it again, more briefly, "
    "ending with the verdict line(s) exactly in the format asked for."
)
REPAIR_JSON = "Your previous answer could not be read: {reason}. Answer again with only the JSON object asked for."
REPAIR_JSON_TRUNCATED = (
    "Your previous answer was cut off before the end ({reason}). Answer again, more briefly, "
    "with only the JSON object asked for."
)


@dataclass
class Asked:
    """A parsed answer and how it was obtained."""

    parsed: Any
    completion: Any
    attempts: int
    errors: list[str] = field(default_factory=list)
    format: str = "text"
    """How the verdict was read: 'json' (the structured answer asked for) or 'text' (nonce verdict lines: asked
    for, or written instead of the JSON asked for by a server that ignores ``response_format``)."""


@dataclass
class Structured:
    """The same question asked for structured outputs: its messages, ``response_format``, parser and nonce.

    ``nonce`` is the call's code, the same in both forms; it says which error an answer that
    neither form reads gets (see ``json_or_text``).
    """

    messages: list[dict[str, str]]
    response_format: dict[str, Any]
    parse: Callable[[Any], Any]
    nonce: str | None = None


def wants_structured(client: Any) -> bool:
    """Whether to ask ``client`` for structured outputs now (its ``structured`` setting, and what it has refused)."""
    want = getattr(client, "wants_structured", None)
    return bool(want()) if want is not None else False


def first_request(client: Any, messages: list[dict[str, str]], params: dict[str, Any],
                  structured: Structured | None) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The messages and parameters ``ask`` sends first: the structured form when the client wants it."""
    if structured is not None and wants_structured(client):
        return structured.messages, {**params, "response_format": structured.response_format}
    return messages, params


async def ask(
    client: Any,
    messages: list[dict[str, str]],
    parse: Callable[[Any], Any],
    usage: Usage,
    *,
    sample_index: int,
    params: dict[str, Any],
    max_parse_retries: int,
    structured: Structured | None = None,
) -> Asked:
    """Ask, parse; on unreadable output ask again with a repair turn, at most ``max_parse_retries`` times.

    With ``structured`` and a client that wants it, the structured form is asked first; if
    the endpoint refuses ``response_format`` (a 400 naming it, see the client's
    ``refuses_structured``) the text form is asked instead. A server that ignores
    ``response_format`` may get an answer in text form: an answer that is not a JSON object
    is then read by ``parse``, the text form's parser, with the same nonce, before any repair
    turn; a JSON object is read only as JSON. Either way only this call's nonce counts.
    The repair turn shows the judge its own bad output and why it was refused, so the
    retried request differs from the first. Unreadable answers are not cached, so running a failed unit again asks the
    judge again. Raises JudgeParseError after the last attempt.
    """
    if structured is not None and wants_structured(client):
        try:
            return await _ask(client, structured.messages, json_or_text(structured, parse), usage, sample_index,
                              {**params, "response_format": structured.response_format}, max_parse_retries, "json")
        except Exception as e:  # noqa: BLE001 - only a refusal of response_format is caught, the rest re-raised
            refused = getattr(client, "refuses_structured", None)
            if refused is None or not refused(e):
                raise
    return await _ask(client, messages, lambda c: (parse(c), "text"), usage, sample_index, params,
                      max_parse_retries, "text")


def json_or_text(structured: Structured, parse: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, str]]:
    """The reader of an answer to the structured form: (parsed, 'json'), else (parsed, 'text') for nonce verdict lines.

    A whole answer that is a JSON object (in a code fence or not) is read as JSON only, so a
    JSON verdict without this call's code is refused whatever it contains. Any other answer
    is read as text, with the same nonce. When neither reads, the error is the text form's
    if the answer carries the nonce (the judge wrote verdict lines, wrongly), else the JSON
    form's with the text form's after it.
    """

    def read(c: Any) -> tuple[Any, str]:
        try:
            return structured.parse(c), "json"
        except JudgeParseError as as_json:
            if strip_code_fence(c.text.strip()).lstrip().startswith("{"):
                raise
            try:
                return parse(c), "text"
            except JudgeParseError as as_text:
                if structured.nonce and structured.nonce.lower() in c.text.lower():
                    raise
                raise JudgeParseError(f"{as_json.message}; nor as verdict lines: {as_text.message}") from None

    return read


async def _ask(client: Any, messages: list[dict[str, str]], read: Callable[[Any], tuple[Any, str]], usage: Usage,
               sample_index: int, params: dict[str, Any], max_parse_retries: int, form: str) -> Asked:
    """``ask`` in one form (``form``: the one asked for, which picks the repair turn's wording)."""
    convo = list(messages)
    errors: list[str] = []
    repair, repair_truncated = (REPAIR_JSON, REPAIR_JSON_TRUNCATED) if form == "json" else (REPAIR, REPAIR_TRUNCATED)
    for attempt in range(max_parse_retries + 1):
        c = await client.complete(convo, sample_index=sample_index, **params)
        usage.add(c)
        try:
            parsed, how = read(c)
            return Asked(parsed, c, attempt + 1, errors, how)
        except JudgeParseError as e:
            await _forget(client, c)
            truncated = c.finish_reason == "length"
            reason = e.message + ("; the output hit the token limit" if truncated else "")
            errors.append(reason)
            turn = (repair_truncated if truncated else repair).format(reason=e.message)
            convo = [*messages, {"role": "assistant", "content": c.text}, {"role": "user", "content": turn}]
    raise JudgeParseError(
        f"no readable verdict after {max_parse_retries + 1} attempts: {errors[-1]}; last output: {c.text[-300:]!r}"
    )


async def _forget(client: Any, c: Any) -> None:
    """Keep an unreadable answer out of the request cache, so a later retry of the unit asks afresh.

    The store's cache was given the answer before the call ended (``RequestCache.discard``
    takes it out again, before the repair turn asks); a Ray worker's cache still holds it in
    its buffer.
    """
    if c.cached:
        return
    cache = getattr(client, "cache", None)
    discard = getattr(cache, "discard", None)
    if discard is not None:
        await discard(c.digest)
        return
    pending = getattr(cache, "_pending", None)
    if isinstance(pending, dict):
        pending.pop(c.digest, None)


def request_digests(client: Any, messages: list[dict[str, str]], *, sample_index: int, params: dict[str, Any],
                    structured: Structured | None = None) -> list[str]:
    """The cache key of the first call ``ask`` makes with these messages (none if the client cannot say)."""
    digest = getattr(client, "request_digest", None)
    if digest is None:
        return []
    messages, params = first_request(client, messages, params, structured)
    return [digest(messages, sample_index=sample_index, **params)]
