"""Scripted judges for the local model server: read the request as a real judge would, answer by rule."""

from __future__ import annotations

import math
import re

from assay import records as R
from assay.testing import Reply


def prompt_text(body: dict) -> str:
    """The judge prompt (the first user message; later ones are repair turns)."""
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def nonce_of(body: dict) -> str:
    """The call's code, read from the instructions in either form: verdict lines, or the JSON object asked for.

    A judge by default is asked for structured outputs; behind a server that ignores
    ``response_format`` (ScriptedServer's default), a scripted judge reads the code from the
    JSON instructions and may still answer with verdict lines, as a model that does not follow
    the format would. The instructions come last in the prompt, after the answers under test, which may
    imitate them with a code of their own: the last match is the call's.
    """
    found = re.findall(r'VERDICT (\w+)(?: <dimension>|: <verdict>)|\{"code": "(\w+)"', prompt_text(body))
    assert found, "no verdict format in the judge prompt"
    return "".join(found[-1])


def fenced(body: dict, label: str) -> str:
    """The text between this call's delimiters ``<<<label NONCE>>>`` and ``<<<END label NONCE>>>``."""
    n = nonce_of(body)
    text = prompt_text(body)
    start = text.index(f"<<<{label} {n}>>>\n") + len(f"<<<{label} {n}>>>\n")
    return text[start : text.index(f"\n<<<END {label} {n}>>>", start)]


def word_logprobs(text: str, at: dict[int, dict[str, float]] | None = None) -> list[dict[str, float]]:
    """Per whitespace-separated word of ``text``, {word: 0.0} (certain), or the given alternatives at word index i."""
    words = text.split()
    return [(at or {}).get(i, {w: 0.0}) for i, w in enumerate(words)]


def logp(p: float) -> float:
    return math.log(p)


def store_responses(store, texts: dict[str, list[str]], *, dataset: str = "qa", prompts: list[str] | None = None,
                    references: list[str | None] | None = None, families: dict[str, str] | None = None):
    """Items 0..n-1 and, per model, its responses ``texts[model][i]``; returns (items, responses by model)."""
    n = len(next(iter(texts.values())))
    prompts = prompts or [f"question {i}" for i in range(n)]
    items = [R.Item(id=R.Item.make_id(dataset, str(i), None, None), dataset=dataset, external_id=str(i),
                    prompt=prompts[i], reference=(references or [None] * n)[i]) for i in range(n)]
    models = [R.Model(id=m, provider="none", family=(families or {}).get(m)) for m in texts]
    responses = {m: [R.Response(id=R.Response.make_id(items[i].id, m, 0), item_id=items[i].id, model=m, text=t)
                     for i, t in enumerate(ts)] for m, ts in texts.items()}
    store.add([R.Dataset(name=dataset), *items, *models, *(r for rs in responses.values() for r in rs)])
    return items, responses


__all__ = ["Reply", "fenced", "logp", "nonce_of", "prompt_text", "store_responses", "word_logprobs"]
