"""Providers are registered names (plug-in kind ``provider``): a run's config names one, and ``make_provider`` rebuilds it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from assay.errors import AssayError
from assay.plugins import REGISTRY, Registration


def _wrap(reg: Registration) -> Callable[..., Any]:
    """``make(model, **options)``: the factory's provider, with its name and plain options kept for ``spec()``."""
    factory = reg.factory

    @functools.wraps(factory)
    def make(model: Any, **options: Any) -> Any:
        obj = factory(model, **options)
        obj.registry_name = reg.name
        obj.registry_options = {k: v for k, v in options.items() if _plain(v)}
        return obj

    return make


REGISTRY.define("provider", _wrap)


def provider(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a provider factory ``factory(model, **options)`` under ``name``.

    The made provider remembers its name and options (``.spec()``), so a stored run can
    rebuild it with ``make_provider(spec)``. The same as ``assay.plugins.register("provider", name)``.
    """
    return REGISTRY.register("provider", name)


def _plain(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool, list, dict))


def providers() -> list[str]:
    return REGISTRY.names("provider")


def make_provider(model: Any, **options: Any) -> Any:
    """A provider for ``model`` (a records.Model) by its ``provider`` name, with ``options``."""
    if REGISTRY.find("provider", model.provider) is None:
        raise AssayError(f"unknown provider {model.provider!r}; known: {', '.join(providers())}"
                         f"{REGISTRY.failure_note()}")
    return REGISTRY.create("provider", model.provider, model, **options)
