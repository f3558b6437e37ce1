"""JSON whose objects remember the line they start on, so an error can name file, line and field.

A Label Studio or Argilla export is one JSON array, often pretty-printed over thousands of
lines; "row 12" would leave the user counting. :func:`load` parses with the standard
library's own scanner and gives back every object as a :class:`LinedDict`, a plain ``dict``
with the 1-based ``line`` of its opening brace. Values no store may hold (NUL characters, lone
surrogates, NaN, deep nesting; see :mod:`assay.io.guard`) are refused like everywhere else.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
from pathlib import Path
from typing import Any

from assay.errors import BadInput
from assay.io.guard import Unsafe, check_value


class LinedDict(dict):
    """A JSON object and the line its ``{`` is on (0 when it was not read from a file)."""

    line: int = 0


def loads(text: str, *, name: str) -> Any:
    """Parse ``text``; BadInput naming ``name`` and the line for invalid JSON or unsafe values."""
    breaks = [i for i, ch in enumerate(text) if ch == "\n"]
    decoder = json.JSONDecoder()

    def parse_object(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo=None):  # noqa: ANN001
        start = s_and_end[1] - 1  # the scanner hands over the position just past "{"
        pairs, end = json.decoder.JSONObject(s_and_end, strict, scan_once, None, list, memo)
        obj = LinedDict(pairs)
        obj.line = bisect.bisect_left(breaks, start) + 1
        return obj, end

    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # the pure-Python scanner reads parse_object
    try:
        data = decoder.decode(text)
    except json.JSONDecodeError as e:
        raise BadInput(f"invalid JSON: {e.msg.removesuffix(' at')} at column {e.colno}", file=name,
                       line=e.lineno) from None
    except RecursionError:
        raise BadInput("JSON nested too deeply", file=name) from None
    try:
        check_value(data)
    except Unsafe as e:
        raise BadInput(e.reason, file=name, field=e.path) from None
    return data


def load(path: str | Path) -> Any:
    """Read and parse a JSON file (UTF-8, a byte-order mark allowed)."""
    name = str(path)
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(f"invalid UTF-8 (byte {data[e.start]:#04x})", file=name,
                       line=data.count(b"\n", 0, e.start) + 1) from None
    if not text.strip():
        raise BadInput("empty file: nothing to import", file=name)
    return loads(text, name=name)


def line_of(value: Any, default: int | None = None) -> int | None:
    """The line a parsed object starts on, or ``default``."""
    return getattr(value, "line", None) or default
