"""Providers are registered names: a run's config names one, and ``make_provider`` rebuilds it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from assay.errors import AssayError

_FACTORIES: dict[str, Callable[..., Any]] = {}


def provider(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a provider factory ``factory(model, **options)`` under ``name``.

    The made provider remembers its name and options (``.spec()``), so a stored run can
    rebuild it with ``make_provider(spec)``.
    """

    def register(factory: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(factory)
        def make(model: Any, **options: Any) -> Any:
            obj = factory(model, **options)
            obj.registry_name = name
            obj.registry_options = {k: v for k, v in options.items() if _plain(v)}
            return obj

        _FACTORIES[name] = make
        return make

    return register


def _plain(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool, list, dict))


def providers() -> list[str]:
    _load_builtins()
    return sorted(_FACTORIES)


def make_provider(model: Any, **options: Any) -> Any:
    """A provider for ``model`` (a records.Model) by its ``provider`` name, with ``options``."""
    _load_builtins()
    try:
        factory = _FACTORIES[model.provider]
    except KeyError:
        raise AssayError(f"unknown provider {model.provider!r}; known: {', '.join(sorted(_FACTORIES))}") from None
    return factory(model, **options)


def _load_builtins() -> None:
    import assay.providers._openai  # noqa: F401 - registers "openai"
