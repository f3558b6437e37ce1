"""What every plug-in registry shares: one factory per name, and the arguments it was built with.

Program judges (``judges.registry``) and prompt converters (``redteam.converters``) are
decorated factories registered by name. A stored run names them with the arguments they
were built with, so those arguments are recorded with their defaults filled in, as JSON.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping
from typing import Any


def claim(registry: Mapping[str, Any], name: str, factory: Callable[..., Any], what: str) -> str:
    """Refuse a second, different factory under ``name``; the factory's summary (its docstring's first line)."""
    known = registry.get(name)
    if known is not None and (known.factory.__module__, known.factory.__qualname__) != (factory.__module__, factory.__qualname__):
        raise ValueError(f"a {what} named {name!r} is already registered")
    return ((factory.__doc__ or "").strip().splitlines() or [""])[0]


def recorded_arguments(label: str, signature: inspect.Signature, args: tuple, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of one call, defaults filled in, as JSON values; ValueError naming ``label`` otherwise."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as e:
        raise ValueError(f"{label}: {e}") from None
    bound.apply_defaults()
    try:
        return json.loads(json.dumps(dict(bound.arguments)))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{label}: arguments must be JSON values to be recorded ({e})") from None


# ---- the CLI's call syntax: ``name``, ``name(key=value, ...)``, joined by ``+`` ----------------

_CALL = re.compile(r"\s*([a-z][a-z0-9_\-]*)\s*(?:\((.*)\))?\s*", re.S)


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` cut at each ``sep`` outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def split_calls(text: str, sep: str = "+") -> list[str]:
    """The calls of ``a+b(k=v)+c``, cut at ``sep`` outside brackets and quotes; empty parts left out."""
    return [p for p in (p.strip() for p in _split_top(text, sep)) if p]


def parse_value(raw: str) -> Any:
    """One argument value: JSON, else a list of such values in brackets, else the text (quotes stripped)."""
    raw = raw.strip()
    try:
        return json.loads(raw)
    except ValueError:
        pass
    if raw.startswith("[") and raw.endswith("]"):
        return [parse_value(p) for p in split_calls(raw[1:-1], ",")]
    return raw.strip("'\"")


def parse_call(text: str, what: str, known: Callable[[str], Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """``(name, arguments)`` of one call ``name`` or ``name(key=value, ...)``.

    ``known(name)`` gives the arguments a name takes (and raises ValueError for an unknown
    name). ValueError names the call, the argument at fault and what ``what`` takes.
    """
    m = _CALL.fullmatch(text)
    if not m:
        raise ValueError(f"cannot read {what} step {text.strip()!r}: write NAME or NAME(key=value, ...)")
    name, raw = m.group(1), m.group(2) or ""
    takes = known(name)
    args: dict[str, Any] = {}
    for pair in split_calls(raw, ","):
        key, eq, value = pair.partition("=")
        if not eq:
            raise ValueError(f"{what} {name}: argument {pair!r} must be written key=value")
        args[key.strip()] = parse_value(value)
    unknown = sorted(set(args) - set(takes))
    if unknown:
        raise ValueError(f"{what} {name} takes no argument {', '.join(unknown)}; it takes: {', '.join(takes) or 'none'}")
    return name, args
