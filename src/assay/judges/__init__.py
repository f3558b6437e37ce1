"""Judges: program verifiers (IFEval, formats), reference metrics, and the registry that names them.

Submodules load on first use so ``import assay.judges`` stays fast:
``assay.judges.ifeval``, ``assay.judges.formats``, ``assay.judges.metrics``,
``assay.judges.registry``.
"""

from __future__ import annotations

import importlib

_SUBMODULES = ("ifeval", "formats", "metrics", "registry")

__all__ = [*_SUBMODULES, "create", "get", "names"]


def __getattr__(name: str):  # noqa: ANN202
    if name in _SUBMODULES:
        return importlib.import_module(f"assay.judges.{name}")
    if name in ("create", "get", "names"):
        return getattr(importlib.import_module("assay.judges.registry"), name)
    raise AttributeError(f"module 'assay.judges' has no attribute {name!r}")
