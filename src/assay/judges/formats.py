"""Format checks on a response: valid JSON, JSON Schema, regular expressions, length limits.

Each check returns a :class:`Check`: pass or fail with a short reason a rater or a
report can show as is. A check that is misconfigured (an invalid schema or pattern,
an unknown unit) raises ValueError: that is the run's fault, not the response's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from assay.session import strip_code_fence

Unit = Literal["chars", "words", "sentences", "lines"]
UNITS: tuple[str, ...] = ("chars", "words", "sentences", "lines")



@dataclass(frozen=True)
class Check:
    """The outcome of one format check: pass or fail, and why in a few words."""

    passed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.passed


def _load_json(text: str, allow_fence: bool) -> tuple[Any, Check]:
    body = strip_code_fence(text) if allow_fence else text
    try:
        value = json.loads(body)
    except json.JSONDecodeError as e:
        return None, Check(False, f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}")
    return value, Check(True, f"valid JSON ({_json_type(value)})")


def _json_type(value: Any) -> str:
    for kind, name in ((dict, "object"), (list, "array"), (str, "string"), (bool, "boolean")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else "number"


def check_json(text: str, *, allow_fence: bool = False) -> Check:
    """Whether ``text`` is one JSON value; ``allow_fence`` also accepts it inside a markdown code fence.

    >>> check_json('{"a": 1}')
    Check(passed=True, reason='valid JSON (object)')
    >>> check_json('{"a": 1,}').passed
    False
    """
    return _load_json(text, allow_fence)[1]


def check_json_schema(text: str, schema: dict[str, Any], *, allow_fence: bool = False) -> Check:
    """Whether ``text`` is JSON that validates against ``schema`` (any draft ``jsonschema`` knows).

    The reason names the first (most relevant) violation and where it is, e.g.
    ``$.age: 'ten' is not of type 'integer'``.
    """
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema)
    try:
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise ValueError(f"invalid JSON Schema: {e.message}") from None
    value, parsed = _load_json(text, allow_fence)
    if not parsed:
        return parsed
    error = jsonschema.exceptions.best_match(validator_cls(schema).iter_errors(value))
    if error is None:
        return Check(True, "valid against the schema")
    where = error.json_path if hasattr(error, "json_path") else "$"
    return Check(False, f"{where}: {_shorten(error.message)}")


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_FLAG_LETTERS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE, "a": re.ASCII}


def _flags(flags: int | str) -> int:
    if isinstance(flags, int):
        return flags
    try:
        value = 0
        for letter in flags:
            value |= _FLAG_LETTERS[letter]
        return value
    except KeyError:
        raise ValueError(f"regex flags are letters from 'imsxa', got {flags!r}") from None


def check_regex(
    text: str,
    pattern: str,
    *,
    mode: Literal["search", "fullmatch"] = "search",
    flags: int | str = 0,
) -> Check:
    """Whether ``pattern`` occurs in ``text`` (``search``) or matches all of it (``fullmatch``).

    ``flags`` is an ``re`` flag value or letters such as ``"im"`` (i: ignore case,
    m: multiline, s: dot matches newline, x: verbose, a: ASCII).

    >>> check_regex("Answer: 42", r"\\d+").passed, check_regex("Answer: 42", r"\\d+", mode="fullmatch").passed
    (True, False)
    """
    try:
        compiled = re.compile(pattern, _flags(flags))
    except re.error as e:
        raise ValueError(f"invalid regular expression {pattern!r}: {e}") from None
    if mode == "search":
        m = compiled.search(text)
        if m is None:
            return Check(False, f"no match for /{pattern}/")
        return Check(True, f"matches /{pattern}/ at {m.start()}: {_shorten(m.group(0), 60)!r}")
    if mode == "fullmatch":
        if compiled.fullmatch(text) is None:
            return Check(False, f"the whole text does not match /{pattern}/")
        return Check(True, f"the whole text matches /{pattern}/")
    raise ValueError(f"mode must be 'search' or 'fullmatch', got {mode!r}")


def count(text: str, unit: Unit) -> int:
    """Length of ``text`` in ``unit``.

    chars: Unicode code points; words: whitespace-separated tokens; sentences: Punkt
    English sentences (the IFEval splitter); lines: lines that are not blank.
    """
    if unit == "chars":
        return len(text)
    if unit == "words":
        return len(text.split())
    if unit == "sentences":
        from assay.judges.ifeval._text import count_sentences

        return count_sentences(text) if text.strip() else 0
    if unit == "lines":
        return sum(1 for line in text.splitlines() if line.strip())
    raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")


def check_length(text: str, *, unit: Unit = "words", min: int | None = None, max: int | None = None) -> Check:  # noqa: A002
    """Whether the length of ``text`` in ``unit`` lies within ``[min, max]`` (both inclusive, either optional).

    >>> check_length("one two three", unit="words", max=2)
    Check(passed=False, reason='3 words, more than the maximum 2')
    """
    if min is None and max is None:
        raise ValueError("give a minimum, a maximum or both")
    if min is not None and max is not None and min > max:
        raise ValueError(f"minimum {min} is above maximum {max}")
    n = count(text, unit)
    if min is not None and n < min:
        return Check(False, f"{n} {unit}, fewer than the minimum {min}")
    if max is not None and n > max:
        return Check(False, f"{n} {unit}, more than the maximum {max}")
    if min is None:
        return Check(True, f"{n} {unit}, at most {max}")
    if max is None:
        return Check(True, f"{n} {unit}, at least {min}")
    return Check(True, f"{n} {unit}, within {min} to {max}")
