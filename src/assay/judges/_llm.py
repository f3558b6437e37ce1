"""What the LLM judges share: reading logprobs and the run Task (asking is ``assay.session.ask``).

Every call goes through a provider client (``assay.providers``), so it is rate-limited,
retried and cached by request digest; every batch of judging goes through the run
engine (``assay.runs``), so an interrupted run resumes and a rerun makes no new requests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from assay.runs import WorkTask
from assay.session import (  # noqa: F401 - the judges' modules import these from here
    Asked, JudgeParseError, Structured, Usage, ask, first_request, json_or_text, request_digests, wants_structured,
)


# ---- logprobs --------------------------------------------------------------------------


def token_at(logprobs: Sequence[dict[str, Any]] | None, text: str, offset: int) -> dict[str, Any] | None:
    """The logprobs entry of the output token covering character ``offset`` of ``text``.

    Tokens are aligned to the text in order, allowing only whitespace between them (some
    servers report tokens without the spaces); None when they do not cover the text.
    """
    if not logprobs:
        return None
    pos = 0
    for entry in logprobs:
        tok = entry.get("token") or ""
        if not tok:
            continue
        i = text.find(tok, pos)
        if i < 0 or text[pos:i].strip():
            return None
        if i <= offset < i + len(tok):
            return entry
        pos = i + len(tok)
        if pos > offset:
            return None
    return None


def weighted_score(entry: dict[str, Any], values: dict[str, float]) -> dict[str, Any] | None:
    """Probability-weighted score at one token (G-Eval, Liu et al. 2023, eq. 1).

    ``score = sum_i p(s_i) * s_i`` over the scale points ``s_i`` among the token's top
    alternatives (``values`` maps a token's stripped, lower-cased text to its point),
    with the probabilities renormalised to sum to one over those points. Returns the
    score, the probability of each point and the raw mass they had; None when no
    alternative is a scale point.
    """
    alts = list(entry.get("top_logprobs") or [])
    if not any(a.get("token") == entry.get("token") for a in alts):
        alts.append(entry)
    probs: dict[float, float] = {}
    seen: set[str] = set()
    for a in alts:
        tok = str(a.get("token", ""))
        key = tok.strip().strip('"').lower()  # a JSON answer's string values come with their quotes
        if tok in seen or key not in values or a.get("logprob") is None:
            continue
        seen.add(tok)
        v = values[key]
        probs[v] = probs.get(v, 0.0) + math.exp(float(a["logprob"]))
    mass = sum(probs.values())
    if mass <= 0:
        return None
    score = sum(v * p for v, p in probs.items()) / mass
    return {
        "score": score,
        "probs": {_num(v): p / mass for v, p in sorted(probs.items())},
        "mass": mass,
    }


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(v)


JudgeTask = WorkTask
"""The judges' name for ``assay.runs.WorkTask``."""
