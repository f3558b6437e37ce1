"""What a value read from a file must not hold before it goes near a store.

Both stores must behave alike, and Python must not crash on a value: so a NUL character
(PostgreSQL text cannot hold one), a lone UTF-16 surrogate (not encodable as UTF-8),
NaN or an infinity (JSON has no such number; SQLite would store NULL, PostgreSQL NaN) and
nesting deeper than :data:`MAX_DEPTH` arrays or objects are refused, naming the field.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64
"""How deeply arrays and objects may nest inside one row (the row itself not counted)."""

_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


class Unsafe(ValueError):
    """A value that no store may hold: ``path`` names where it is inside the row."""

    def __init__(self, path: str | None, reason: str) -> None:
        super().__init__(reason)
        self.path, self.reason = path, reason


def _text_problem(s: str) -> str | None:
    m = _BAD_CHARS.search(s)
    if m is None:
        return None
    ch = m.group(0)
    if ch == "\x00":
        return "contains a NUL character (\\u0000), which a store cannot hold as text"
    return f"contains a lone surrogate (\\u{ord(ch):04x}), which is not valid Unicode"


def _path(parts: tuple[Any, ...]) -> str | None:
    """``a.b[2]`` for the keys and indexes leading to a value (deep ones shortened)."""
    out = ""
    for p in parts[:6]:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return (out + ("..." if len(parts) > 6 else "")) or None


def check_value(value: Any, *, path: tuple[Any, ...] = ()) -> None:
    """Raise :class:`Unsafe` for the first NUL, lone surrogate, NaN/infinity or too-deep nesting in ``value``.

    Walks the value without recursion, so a deeply nested one is refused rather than
    crashing the interpreter. Keys of objects are text and checked too.
    """
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 0, path)]
    while stack:
        v, depth, where = stack.pop()
        if isinstance(v, str):
            why = _text_problem(v)
            if why:
                raise Unsafe(_path(where), why)
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise Unsafe(_path(where), f"{v} is not a finite number (JSON has no NaN or Infinity)")
        elif isinstance(v, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                raise Unsafe(_path(where), f"nested deeper than {MAX_DEPTH} levels of arrays and objects")
            if isinstance(v, dict):
                for k, x in v.items():
                    if isinstance(k, str) and (why := _text_problem(k)):
                        raise Unsafe(_path(where), f"a key {why}")
                    stack.append((x, depth + 1, (*where, k)))
            else:
                stack.extend((x, depth + 1, (*where, i)) for i, x in enumerate(v))


def check_row(row: dict[str, Any]) -> None:
    """``check_value`` on every field of a row; the row's own object is not a nesting level."""
    for k, v in row.items():
        if isinstance(k, str) and (why := _text_problem(k)):
            raise Unsafe(None, f"a field name {why}")
        check_value(v, path=(k,))


def parse(text: str | bytes) -> Any:
    """``json.loads``, with nesting too deep for Python's parser refused as :class:`Unsafe`.

    NaN and Infinity parse (as floats) so that :func:`check_value` can name their field.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise Unsafe(None, f"nested deeper than {MAX_DEPTH} levels of arrays and objects") from None


def loads(text: str | bytes, *, path: tuple[Any, ...] = ()) -> Any:
    """JSON text (a CSV cell, say) read into a value that passes :func:`check_value`.

    Raises ``json.JSONDecodeError`` for text that is not JSON and :class:`Unsafe` for NaN,
    Infinity, nesting too deep, and NUL or surrogate characters (``path`` names the value).
    """
    try:
        value = parse(text)
    except Unsafe as e:
        raise Unsafe(_path(path), e.reason) from None
    check_value(value, path=path)
    return value


def needs_check(raw: bytes, row: Any) -> bool:
    """Whether a JSON line that orjson parsed into ``row`` could still hold what :func:`check_value` refuses.

    orjson itself rejects NaN, Infinity, huge exponents and lone surrogates; what it lets
    through is an escaped NUL and deep nesting, both visible in the raw bytes. Cheap tests
    first: this runs on every line of an import.
    """
    if b"\\u0000" in raw:
        return True
    if isinstance(row, dict):
        for v in row.values():
            if type(v) is dict or type(v) is list:
                return raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
    return False
