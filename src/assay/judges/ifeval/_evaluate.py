"""Checking responses against IFEval instructions, strictly or loosely, and scoring whole sets."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from assay.judges.ifeval._instructions import INSTRUCTIONS

Mode = Literal["strict", "loose"]


def loose_variants(response: str) -> list[str]:
    """The 8 texts loose checking tries (Zhou et al. 2023, section 2.2).

    The response as is, without its first line, without its last line, without both,
    and each of those four with every ``*`` removed.
    """
    lines = response.split("\n")
    cut = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return cut + [text.replace("*", "") for text in cut]


def _arguments(instruction_id: str, kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    try:
        kind = INSTRUCTIONS[instruction_id]
    except KeyError:
        raise ValueError(f"unknown IFEval instruction {instruction_id!r}") from None
    # Rows exported from the HuggingFace copy give every kwarg of every type, unused ones as None.
    given = {k: v for k, v in (kwargs or {}).items() if v is not None}
    unknown = sorted(set(given) - set(kind.params))
    if unknown:
        raise ValueError(f"{instruction_id} takes {list(kind.params)}, not {unknown}")
    missing = [p for p in kind.params if p not in given]
    if missing:
        raise ValueError(f"{instruction_id} needs {missing}")
    return given


def check(
    prompt: str | None,
    response: str,
    instruction_id_list: Sequence[str],
    kwargs: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    mode: Mode = "strict",
) -> list[bool]:
    """Whether ``response`` follows each instruction: one bool per entry of ``instruction_id_list``.

    The arguments are the fields of a row of IFEval's ``input_data.jsonl`` plus the
    response. ``mode="loose"`` passes an instruction when any of the 8 loose variants
    of the response follows it. An empty (or blank) text never follows an instruction.
    ``prompt`` is accepted for the row's shape; no instruction type reads it.

    >>> check("", "HELLO WORLD, MY FRIEND", ["punctuation:no_comma"], [{}])
    [False]
    """
    del prompt  # the reference scorer never consults it either
    if mode not in ("strict", "loose"):
        raise ValueError(f"mode must be 'strict' or 'loose', got {mode!r}")
    if kwargs is None:
        kwargs = [{}] * len(instruction_id_list)
    if len(kwargs) != len(instruction_id_list):
        raise ValueError(f"{len(instruction_id_list)} instructions but {len(kwargs)} kwargs")
    texts = [response] if mode == "strict" else loose_variants(response)
    texts = list(dict.fromkeys(t for t in texts if t.strip()))  # variants often coincide; check each once
    results = []
    for instruction_id, kw in zip(instruction_id_list, kwargs):
        args = _arguments(instruction_id, kw)
        fn = INSTRUCTIONS[instruction_id].check
        results.append(any(fn(t, **args) for t in texts))
    return results


# ---- whole sets ------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptResult:
    """The verdicts on one prompt's response."""

    key: Any
    prompt: str
    response: str
    instruction_id_list: list[str]
    strict: list[bool]
    loose: list[bool]

    @property
    def follow_all_strict(self) -> bool:
        return all(self.strict)

    @property
    def follow_all_loose(self) -> bool:
        return all(self.loose)


@dataclass(frozen=True)
class Accuracy:
    """Followed out of total, for one slice of the results."""

    followed: int
    total: int

    @property
    def score(self) -> float:
        return self.followed / self.total if self.total else float("nan")

    def __str__(self) -> str:
        return f"{self.followed}/{self.total} = {100 * self.score:.2f}%"


@dataclass(frozen=True)
class IFEvalReport:
    """Per-prompt verdicts and the accuracies of the IFEval paper (prompt and instruction level)."""

    results: list[PromptResult]
    missing: list[Any] = field(default_factory=list)

    def _prompt(self, mode: Mode) -> Accuracy:
        ok = sum(all(getattr(r, mode)) for r in self.results)
        return Accuracy(ok, len(self.results))

    def _instruction(self, mode: Mode) -> Accuracy:
        verdicts = [v for r in self.results for v in getattr(r, mode)]
        return Accuracy(sum(verdicts), len(verdicts))

    @property
    def prompt_strict(self) -> Accuracy:
        return self._prompt("strict")

    @property
    def prompt_loose(self) -> Accuracy:
        return self._prompt("loose")

    @property
    def instruction_strict(self) -> Accuracy:
        return self._instruction("strict")

    @property
    def instruction_loose(self) -> Accuracy:
        return self._instruction("loose")

    def by_instruction(self, *, level: Literal["type", "group"] = "type") -> dict[str, dict[str, Accuracy]]:
        """Accuracy per instruction type (``keywords:existence``) or group (``keywords``), strict and loose."""
        counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"strict": [0, 0], "loose": [0, 0]})
        for r in self.results:
            for instruction_id, s, lo in zip(r.instruction_id_list, r.strict, r.loose):
                name = instruction_id if level == "type" else instruction_id.split(":", 1)[0]
                for mode, ok in (("strict", s), ("loose", lo)):
                    counts[name][mode][0] += int(ok)
                    counts[name][mode][1] += 1
        return {
            name: {mode: Accuracy(*c[mode]) for mode in ("strict", "loose")}
            for name, c in sorted(counts.items())
        }

    def summary(self) -> dict[str, float]:
        return {
            "prompt_strict": self.prompt_strict.score,
            "prompt_loose": self.prompt_loose.score,
            "instruction_strict": self.instruction_strict.score,
            "instruction_loose": self.instruction_loose.score,
        }

    def to_text(self) -> str:
        """A plain-text report: the four headline accuracies, then one line per instruction type."""
        lines = [
            f"prompt-level strict       {self.prompt_strict}",
            f"prompt-level loose        {self.prompt_loose}",
            f"instruction-level strict  {self.instruction_strict}",
            f"instruction-level loose   {self.instruction_loose}",
        ]
        if self.missing:
            lines.append(f"not scored (no response): {len(self.missing)} prompts")
        lines.append("")
        width = max((len(k) for k in INSTRUCTIONS), default=10)
        for name, acc in self.by_instruction().items():
            lines.append(f"{name:<{width}}  strict {acc['strict']}  loose {acc['loose']}")
        return "\n".join(lines)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluate(
    rows: Iterable[Mapping[str, Any]] | str | Path,
    responses: Mapping[str, str] | Iterable[Mapping[str, Any]] | str | Path | None = None,
    *,
    skip_missing: bool = False,
) -> IFEvalReport:
    """Score a whole IFEval set, strict and loose, as the paper reports it.

    ``rows`` are ``input_data.jsonl`` rows (or its path). Each row's response is its own
    ``response`` field, else looked up by prompt text in ``responses``: a mapping, rows
    with ``prompt`` and ``response`` (or the path of such a file, like
    ``input_response_data_*.jsonl``). A row without a response raises ValueError, or
    with ``skip_missing=True`` is left out and listed in ``report.missing``.
    """
    if isinstance(rows, (str, Path)):
        rows = read_jsonl(rows)
    if isinstance(responses, (str, Path)):
        responses = read_jsonl(responses)
    if responses is not None and not isinstance(responses, Mapping):
        responses = {r["prompt"]: r["response"] for r in responses}
    results, missing = [], []
    for i, row in enumerate(rows):
        key = row.get("key", i)
        text = row.get("response")
        if text is None and responses is not None:
            text = responses.get(row["prompt"])
        if text is None:
            if not skip_missing:
                raise ValueError(f"no response for prompt key {key}")
            missing.append(key)
            continue
        ids, kw = list(row["instruction_id_list"]), row.get("kwargs")
        results.append(
            PromptResult(
                key=key,
                prompt=row["prompt"],
                response=text,
                instruction_id_list=ids,
                strict=check(row["prompt"], text, ids, kw, mode="strict"),
                loose=check(row["prompt"], text, ids, kw, mode="loose"),
            )
        )
    return IFEvalReport(results, missing)
