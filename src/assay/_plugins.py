"""What every plug-in registry shares: one factory per name, and the arguments it was built with.

Program judges (``judges.registry``) and prompt converters (``redteam.converters``) are
decorated factories registered by name. A stored run names them with the arguments they
were built with, so those arguments are recorded with their defaults filled in, as JSON.
"""

from __future__ import annotations

import inspect
import json
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
