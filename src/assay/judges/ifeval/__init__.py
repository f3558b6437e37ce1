"""IFEval: the 25 verifiable instruction types of Zhou et al. (2023, arXiv 2311.07911).

``check`` judges one response against one prompt's instructions, strictly or loosely;
``evaluate`` scores a whole set and reports prompt- and instruction-level accuracy,
overall and per instruction type. Results match the reference scorer
(google-research ``instruction_following_eval``) verdict for verdict on the paper's
GPT-4 responses.
"""

from __future__ import annotations

from assay.judges.ifeval._evaluate import (
    Accuracy,
    IFEvalReport,
    PromptResult,
    check,
    evaluate,
    loose_variants,
    read_jsonl,
)
from assay.judges.ifeval._instructions import INSTRUCTIONS, InstructionType

VERSION = "1"
"""Version of these checks as a program rater; bump it when any verdict can change."""

INSTRUCTION_IDS: tuple[str, ...] = tuple(INSTRUCTIONS)

__all__ = [
    "INSTRUCTIONS",
    "INSTRUCTION_IDS",
    "VERSION",
    "Accuracy",
    "IFEvalReport",
    "InstructionType",
    "PromptResult",
    "check",
    "evaluate",
    "loose_variants",
    "read_jsonl",
]
