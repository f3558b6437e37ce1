"""Judges: LLM rubric and pairwise judges, panels, program verifiers (IFEval, formats), reference
metrics and the registry that names program judges. How far a judge can be trusted is measured
in ``assay.analysis.judge_trust`` (it reads stored verdicts and needs no judge code).

Submodules load on first use so ``import assay.judges`` stays fast:
``assay.judges.ifeval``, ``assay.judges.formats``, ``assay.judges.metrics``,
``assay.judges.registry``, ``assay.judges.rubric`` (RubricJudge), ``assay.judges.pairwise``
(PairwiseJudge), ``assay.judges.panel`` (Panel), ``assay.judges.jobs`` (judge_rubric,
judge_pairwise, verify, load_ifeval: runs over the store), ``assay.judges.tune`` (tune_judge: set-ups
chosen against people) and ``assay.judges.candidates`` (the set-ups it compares).
"""

from __future__ import annotations

import importlib

_SUBMODULES = ("ifeval", "formats", "metrics", "registry", "rubric", "pairwise", "panel", "jobs", "tune", "candidates")

__all__ = [*_SUBMODULES, "create", "get", "names"]


def __getattr__(name: str):  # noqa: ANN202
    if name in _SUBMODULES:
        return importlib.import_module(f"assay.judges.{name}")
    if name in ("create", "get", "names"):
        return getattr(importlib.import_module("assay.judges.registry"), name)
    raise AttributeError(f"module 'assay.judges' has no attribute {name!r}")
