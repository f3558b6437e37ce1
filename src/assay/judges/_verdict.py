"""How a judge's verdict is found in its answer: a line part carrying the call's nonce, or a JSON object.

Text verdicts read ``VERDICT <nonce> ...`` wherever it stands on a line ("... so my answer
is VERDICT-3f9a0c21e4: A>B"), but only with this call's nonce: the nonce is a digest of
the call's content, the response under test included, so that response cannot contain
it, and a verdict it imitates is never read. Structured outputs ask the server for one
JSON object under a strict schema (``response_format``) whose ``code`` field must be the
nonce, so a JSON verdict copied from the response under test is refused too.

Errors quote what they refused, escaped and cut short, so the judge's repair turn and the
stored error show it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from assay.session import JudgeParseError, strip_code_fence

QUOTE_LIMIT = 120


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` as a Python literal (control characters escaped), cut to ``limit`` characters."""
    text = text.strip()
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def mark(nonce: str) -> str:
    """The start of a verdict of this call: ``VERDICT`` then the nonce, markdown decoration and brackets tolerated."""
    return rf"(?<![A-Za-z0-9])verdict[ \t*_`\-:]*[\[(<]?[ \t]*{re.escape(nonce)}(?![A-Za-z0-9])[ \t]*[\])>]?"


def rest_of_part(nonce: str) -> str:
    """A verdict's value: the text up to the end of the line or the next verdict mark, trailing decoration dropped."""
    return rf"(?P<val>(?:(?!{mark(nonce)})[^\n])*?)[ \t*_`.,;]*(?=$|{mark(nonce)})"


_VERDICT_WORD = re.compile(r"(?<![A-Za-z0-9])verdict(?![A-Za-z0-9])", re.IGNORECASE)


def unread_verdicts(text: str, pattern: re.Pattern[str]) -> list[str]:
    """Lines that mention a verdict but hold none ``pattern`` reads (wrong or missing code, bad shape)."""
    return [line for line in text.splitlines() if _VERDICT_WORD.search(line) and not pattern.search(line)]


def missing_hint(text: str, pattern: re.Pattern[str]) -> str:
    """'', or a clause quoting the last line that looks like a verdict but is not one of this call's."""
    unread = unread_verdicts(text, pattern)
    return f"; this line was not read (no code of this call, or another form): {quote(unread[-1])}" if unread else ""


# ---- structured outputs -----------------------------------------------------------------


def response_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The ``response_format`` of a request for one JSON object under ``schema`` (OpenAI's strict form)."""
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


def closed_object(properties: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema object with exactly these properties, all required (what strict mode asks)."""
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def code_property(nonce: str) -> dict[str, Any]:
    return {"type": "string", "enum": [nonce], "description": "the code given in the instructions"}


def load_json_verdict(text: str, nonce: str) -> dict[str, Any]:
    """The JSON object of a structured answer (a markdown code fence allowed around it), checked to carry the nonce.

    Only the whole answer counts: a JSON verdict quoted inside the reasoning is text, and an
    object without this call's ``code`` (one copied from the response under test) is refused.
    """
    body = strip_code_fence(text.strip())
    try:
        value = json.loads(body)
    except json.JSONDecodeError as e:
        raise JudgeParseError(f"the answer is not one JSON object ({e.msg} at line {e.lineno} column {e.colno}): "
                              f"{quote(body)}") from None
    if not isinstance(value, dict):
        raise JudgeParseError(f"the answer is JSON but not an object: {quote(body)}")
    if value.get("code") != nonce:
        raise JudgeParseError(f"the JSON answer's code {quote(str(value.get('code')), 40)} is not this call's code "
                              f"{nonce}: {quote(body)}")
    return value


def value_offset(text: str, key: str | None) -> int | None:
    """Where the ``value`` of ``key``'s object (or of the top level's ``key``-less ``verdict``) starts in the JSON text.

    An unescaped ``"name"`` followed by ``:`` cannot occur inside a JSON string, so the
    search finds keys only. Used to read the logprobs of the value's token.
    """
    start = 0
    if key is not None:
        m = re.search(rf'"{re.escape(json.dumps(key)[1:-1])}"\s*:\s*\{{', text)
        if m is None:
            return None
        start = m.end()
    m = re.compile(r'"value"\s*:\s*"?').search(text, start)
    return m.end() if m is not None else None




# ---- the pairwise judge's structured form ---------------------------------------------------

PAIRWISE_VERDICTS = ("A>>B", "A>B", "A=B", "B>A", "B>>A", "BOTH BAD")


def pairwise_output_format_json(nonce: str) -> str:
    """What the pairwise judge is told when it answers in JSON (structured outputs)."""
    return "\n".join([
        "Your verdict is one JSON object, and your whole answer: write nothing outside it. Its form (the code is required):",
        f'{{"code": "{nonce}", "reasoning": "...", "verdict": "<verdict>"}}',
        "where <verdict> is one of: A>>B (A is much better), A>B (A is better), A=B (about equally good),",
        "B>A (B is better), B>>A (B is much better), BOTH BAD (neither answer is acceptable).",
    ])


def pairwise_schema(nonce: str) -> dict[str, Any]:
    """The strict JSON Schema of a pairwise judge's structured answer."""
    return closed_object({"code": code_property(nonce), "reasoning": {"type": "string"},
                          "verdict": {"type": "string", "enum": list(PAIRWISE_VERDICTS)}})


__all__ = ["PAIRWISE_VERDICTS", "closed_object", "code_property", "load_json_verdict", "mark", "missing_hint",
           "pairwise_output_format_json", "pairwise_schema", "quote", "response_format", "rest_of_part",
           "unread_verdicts", "value_offset"]
