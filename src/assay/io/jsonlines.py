"""Line numbers inside one JSON document, so an error in a big JSON file can name its line.

The standard library's decoder knows where each value starts but keeps it to itself; this
walks the text with the decoder's own pieces (``scanstring``, ``raw_decode``) down a path
of keys and returns the line on which each element of the array found there starts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.decoder import scanstring

_WS = " \t\n\r"
_DECODER = json.JSONDecoder()


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _value_start(text: str, i: int, key: str | int) -> int | None:
    """Where the value under ``key`` of the object (str) or array (int) starting at ``i`` begins."""
    i = _skip_ws(text, i)
    if isinstance(key, str):
        if text[i : i + 1] != "{":
            return None
        i = _skip_ws(text, i + 1)
        while i < len(text) and text[i] == '"':
            name, i = scanstring(text, i + 1)
            i = _skip_ws(text, i)
            if text[i : i + 1] != ":":
                return None
            i = _skip_ws(text, i + 1)
            if name == key:
                return i
            _, i = _DECODER.raw_decode(text, i)
            i = _skip_ws(text, i)
            if text[i : i + 1] == ",":
                i = _skip_ws(text, i + 1)
        return None
    starts = element_starts(text, i)
    return starts[key] if key < len(starts) else None


def element_starts(text: str, i: int) -> list[int]:
    """Offsets of the elements of the array starting at ``i`` (empty when no array starts there)."""
    i = _skip_ws(text, i)
    if text[i : i + 1] != "[":
        return []
    out = []
    i = _skip_ws(text, i + 1)
    while i < len(text) and text[i] != "]":
        out.append(i)
        _, i = _DECODER.raw_decode(text, i)
        i = _skip_ws(text, i)
        if text[i : i + 1] == ",":
            i = _skip_ws(text, i + 1)
    return out


def array_lines(text: str, path: Sequence[str | int]) -> list[int]:
    """1-based line of each element of the array at ``path`` in the JSON ``text`` ([] when none is there).

    >>> array_lines('{"a": {"rows": [\\n  {"x": 1},\\n  {"x": 2}]}}', ["a", "rows"])
    [2, 3]
    """
    i = 0
    try:
        for key in path:
            start = _value_start(text, i, key)
            if start is None:
                return []
            i = start
        starts = element_starts(text, i)
    except (json.JSONDecodeError, ValueError):
        return []
    lines, line, at = [], 1, 0
    for s in starts:
        line += text.count("\n", at, s)
        at = s
        lines.append(line)
    return lines
