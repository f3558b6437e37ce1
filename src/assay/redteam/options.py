"""Settings the red-team families share: how their prompts are made, sent, judged and followed.

Prompt injection (:func:`assay.redteam.injection.run_injection`), secret leakage
(:func:`assay.redteam.leakage.run_leakage`) and the counterfactual bias probes
(:func:`assay.redteam.bias.run_bias`) each take their own domain arguments (techniques and
carriers, probes and vaults, templates and attributes) plus one :class:`RunOptions`. Each
family reads the fields it uses; one that cannot honour a field set away from its default
(``repeats`` for the bias probes, ``samples`` for injection) raises
:class:`~assay.errors.BadInput` naming it rather than ignoring it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from assay.errors import BadInput

__all__ = ["RunOptions"]


@dataclass(frozen=True)
class RunOptions:
    """How a red-team family's prompts are made, sent to the model, judged and followed.

    ``repeats``: instances of each carrier or vault, each with its own canaries (injection,
    leakage; at least 1); ``seed``: the seed of those canaries and of the demand kinds
    (injection, leakage); ``samples``: answers asked per prompt (bias); ``limit``: only the
    first that many templates (bias); ``params``: generation parameters sent with every call
    (``temperature``, ``max_tokens``...; None: the session endpoint's); ``judge``: a program
    judge (``assay.judges.create(...)``) that judges the answers once they are in (bias).
    ``on_start(label, run_id, total)`` and ``on_progress(label, progress)`` follow each run,
    labelled by attack (``inject:<technique>``, ``leak:<probe>``) or by attribute (the
    judge's runs: ``"<attribute> (judge)"``), in place of the session's callbacks when given.
    """

    repeats: int = 2
    seed: int = 0
    samples: int = 1
    limit: int | None = None
    params: dict[str, Any] | None = None
    judge: Any = None
    on_start: Callable[[str, str, int], None] | None = None
    on_progress: Callable[[str, Any], None] | None = None

    def only(self, *names: str, where: str) -> RunOptions:
        """These options, after checking that no field but ``names`` is set away from its default
        (``where`` names the family); ``repeats``, when read, must be at least 1."""
        for f in fields(self):
            if f.name not in names and getattr(self, f.name) != f.default:
                raise BadInput(f"{where} does not use {f.name}", param=f.name)
        if "repeats" in names and self.repeats < 1:
            raise BadInput("must be at least 1", param="repeats")
        return self

    def labelled(self, label: str) -> dict[str, Any]:
        """The session callbacks (``Session.replace(**...)``) that report to this record's, under ``label``."""
        out: dict[str, Any] = {}
        if self.on_start is not None:
            out["on_start"] = lambda rid, n, f=self.on_start: f(label, rid, n)
        if self.on_progress is not None:
            out["on_progress"] = lambda p, f=self.on_progress: f(label, p)
        return out
