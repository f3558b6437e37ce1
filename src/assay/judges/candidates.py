"""Candidate judge set-ups for ``judges.tune``: one type, the built-in variations, and a YAML file of them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.errors import BadInput

SAMPLE_VOTES = ("median", "mean")
_FIELDS = ("name", "judges", "template", "criteria", "few_shot", "samples", "sample_vote", "aggregate")


@dataclass(frozen=True)
class Candidate:
    """One judge set-up to try."""

    name: str
    """How the tables name it (unique among the candidates)."""
    judges: tuple[str, ...]
    """Judge models NAME@VERSION; several make a panel."""
    template: str | None = None
    """A rubric template file (None: the built-in one)."""
    criteria: str | None = None
    """Extra criteria text shown after the rubric's guidelines."""
    few_shot: int = 0
    """Human-graded exemplars from the training split shown to the judge."""
    samples: int = 1
    """Judge samples per response (K)."""
    sample_vote: str = "median"
    """How K samples make one verdict: ``median`` (the stored value, lower median) or ``mean`` (rounded to a level)."""
    aggregate: str = "majority"
    """How a panel combines its judges: ``majority`` or ``mean``."""

    def __post_init__(self) -> None:
        if not self.judges:
            raise BadInput(f"candidate {self.name!r} names no judge", param="candidates")
        if self.sample_vote not in SAMPLE_VOTES:
            raise BadInput(f"candidate {self.name!r}: sample_vote must be one of {SAMPLE_VOTES}", param="candidates")
        if self.aggregate not in ("majority", "mean"):
            raise BadInput(f"candidate {self.name!r}: aggregate must be majority or mean", param="candidates")
        if self.samples < 1 or self.few_shot < 0:
            raise BadInput(f"candidate {self.name!r}: samples must be >= 1 and few_shot >= 0", param="candidates")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "judges": list(self.judges)}


def builtin_candidates(judges: Sequence[str], *, few_shot: Sequence[int] = (0, 2, 4), samples: int = 3) -> list[Candidate]:
    """The built-in variations: per judge (the first, plain, is the baseline) few-shot k in ``few_shot``,
    K = ``samples`` samples by median and by mean; with several judges, their panel by majority and by mean."""
    out: list[Candidate] = []
    for j in judges:
        out += [Candidate(f"{j} k={k}", (j,), few_shot=k) for k in few_shot]
        if samples > 1:
            out += [Candidate(f"{j} K={samples} {v}", (j,), samples=samples, sample_vote=v) for v in SAMPLE_VOTES]
    if len(judges) > 1:
        out += [Candidate(f"panel {how}", tuple(judges), aggregate=how) for how in ("majority", "mean")]
    return out


def read_candidates(path: str | Path) -> tuple[list[Candidate], str | None]:
    """Candidates from a YAML file ``{baseline: NAME, candidates: [{name, judges, template, criteria, few_shot,
    samples, sample_vote, aggregate}, ...]}``; returns them and the baseline's name (None: the first).
    A template path is read relative to the file."""
    import yaml

    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput("no such candidates file", file=str(p)) from None
    except yaml.YAMLError as e:
        raise BadInput(f"not valid YAML: {e}", file=str(p)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("candidates"), list) or not doc["candidates"]:
        raise BadInput("expected a mapping with a non-empty list 'candidates'", file=str(p))
    out = []
    for n, raw in enumerate(doc["candidates"], start=1):
        if not isinstance(raw, dict):
            raise BadInput(f"candidate {n} is not a mapping", file=str(p))
        unknown = set(raw) - set(_FIELDS)
        if unknown:
            raise BadInput(f"candidate {n}: unknown field(s) {sorted(unknown)}; known: {list(_FIELDS)}", file=str(p))
        judges = raw.get("judges")
        judges = [judges] if isinstance(judges, str) else judges
        if not judges or not all(isinstance(j, str) for j in judges):
            raise BadInput(f"candidate {n}: 'judges' must name one judge model or a list of them", file=str(p))
        tpl = raw.get("template")
        if tpl is not None:
            tpl = str((p.parent / tpl) if not Path(tpl).is_absolute() else Path(tpl))
        try:
            out.append(Candidate(name=str(raw.get("name") or f"candidate {n}"), judges=tuple(judges), template=tpl,
                                 criteria=raw.get("criteria"), few_shot=int(raw.get("few_shot", 0)),
                                 samples=int(raw.get("samples", 1)),
                                 sample_vote=str(raw.get("sample_vote", "median")),
                                 aggregate=str(raw.get("aggregate", "majority"))))
        except BadInput as e:
            raise BadInput(e.reason, file=str(p)) from None
        except (TypeError, ValueError) as e:
            raise BadInput(f"candidate {n}: {e}", file=str(p)) from None
    baseline = doc.get("baseline")
    if baseline is not None and baseline not in {c.name for c in out}:
        raise BadInput(f"baseline {baseline!r} is not the name of a candidate", file=str(p))
    return out, baseline
