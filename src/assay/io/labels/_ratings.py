"""Presets for per-attribute ratings: UltraFeedback and HelpSteer2, as judgments on a bundled rubric.

The rubrics (``assay/io/labels/rubrics``) name each attribute set's dimensions and scales;
an import stores the rubric on first use, so ``assay agreement``, ``assay rank --rubric``
and the preference exports work on the ratings as on any rubric's judgments.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

from assay import records as R
from assay.io.labels._parsed import Answer, Parsed, RaterRef, RowError, Score, rater_kind
from assay.io.labels.presets import Preset, field, preset, text
from assay.io.readers import Row

RUBRICS = Path(__file__).parent / "rubrics"


@cache
def bundled_rubric(name: str) -> R.Rubric:
    """A rubric shipped for an import preset (``ultrafeedback``, ``helpsteer2``)."""
    from assay.rubrics import load_rubric

    return load_rubric(RUBRICS / f"{name}.yaml")


def _number(v: Any, fieldname: str) -> float:
    if isinstance(v, str):
        try:
            v = float(v.strip())
        except ValueError:
            raise RowError(fieldname, f"expected a number, got {v!r}") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise RowError(fieldname, f"expected a number, got {v!r}")
    return float(v)


def _in_scale(rub: R.Rubric, dim: str, value: float, fieldname: str) -> float:
    why = rub.dimension(dim).scale.accepts(value, None)
    if why:
        raise RowError(fieldname, why)
    return value


ULTRAFEEDBACK_ASPECTS = ("instruction_following", "honesty", "truthfulness", "helpfulness")


@preset("ultrafeedback")
class UltraFeedback(Preset):
    """UltraFeedback (openbmb/UltraFeedback): an instruction, four completions, GPT-4's ratings of each.

    A row: ``source``, ``instruction``, ``models``, ``completions`` (each ``model``,
    ``principle``, ``custom_system_prompt``, ``response``, ``annotations`` with one
    ``{"Rating", "Rationale", ...}`` per aspect, ``overall_score`` and ``critique``),
    ``correct_answers``, ``incorrect_answers``. Each aspect's rating becomes a judgment on
    rubric ``ultrafeedback`` (the rationale, and the ``Rationale For Rating`` where given,
    as its justification; ``Type`` in its detail); ``overall_score`` a judgment on
    ``overall`` with the critique. A rating of ``N/A`` is skipped. The rater is GPT-4; the
    system prompt each completion was written under is kept in the response's metadata.
    """

    dataset = "ultrafeedback"
    rubrics = (bundled_rubric("ultrafeedback"),)

    def __call__(self, row: Row) -> Parsed:
        rub = self.rubrics[0]
        source = row.get("source")
        meta = {k: row[k] for k in ("correct_answers", "incorrect_answers")
                if isinstance(row.get(k), list) and row[k] not in (["None"], [])}
        p = Parsed(prompt=text(row, "instruction"), category=source if isinstance(source, str) else None,
                   metadata=meta)
        completions = field(row, "completions")
        if not isinstance(completions, list):
            raise RowError("completions", "expected a list of completions")
        rater = RaterRef("gpt-4", "llm", ("ultrafeedback",))
        for i, c in enumerate(completions):
            at = f"completions[{i}]"
            if not isinstance(c, dict):
                raise RowError(at, "expected an object")
            resp = c.get("response")
            if not isinstance(resp, str):
                raise RowError(f"{at}.response", "missing" if resp is None else "expected text")
            extra = {k: c[k] for k in ("principle", "custom_system_prompt") if isinstance(c.get(k), str)}
            p.answers.append(Answer(self.model(c.get("model"), f"{at}.model"), resp, extra))
            annotations = c.get("annotations") or {}
            if not isinstance(annotations, dict):
                raise RowError(f"{at}.annotations", "expected an object with one rating per aspect")
            for aspect, ann in annotations.items():
                where = f"{at}.annotations.{aspect}"
                if aspect not in ULTRAFEEDBACK_ASPECTS:
                    raise RowError(where, f"unknown aspect: UltraFeedback rates {', '.join(ULTRAFEEDBACK_ASPECTS)}")
                for ann_one in ann if isinstance(ann, list) else [ann]:
                    if not isinstance(ann_one, dict) or "Rating" not in ann_one:
                        raise RowError(where, "expected {\"Rating\": ..., \"Rationale\": ...}")
                    if str(ann_one["Rating"]).strip().upper() == "N/A":
                        p.skipped.append("rating N/A")
                        continue
                    value = _in_scale(rub, aspect, _number(ann_one["Rating"], f"{where}.Rating"), f"{where}.Rating")
                    why = [str(ann_one[k]) for k in ("Rationale", "Rationale For Rating") if ann_one.get(k)]
                    detail = {"type": ann_one["Type"]} if ann_one.get("Type") is not None else {}
                    p.scores.append(Score(answer=i, rater=rater, rubric=rub.id, dimension=aspect, value=value,
                                          justification="\n\n".join(why), detail=detail))
            if c.get("overall_score") is not None:
                value = _in_scale(rub, "overall", _number(c["overall_score"], f"{at}.overall_score"),
                                  f"{at}.overall_score")
                critique = c.get("critique")
                p.scores.append(Score(answer=i, rater=rater, rubric=rub.id, dimension="overall", value=value,
                                      justification=critique if isinstance(critique, str) else ""))
        return p


HELPSTEER2_ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def helpsteer_prompt(value: Any, fieldname: str) -> tuple[str | None, list[dict[str, str]] | None]:
    """HelpSteer2's prompt: plain text, or turns, the later ones marked ``<extra_id_1>User`` or
    ``<extra_id_1>Assistant`` on a line of their own."""
    if not isinstance(value, str) or not value:
        raise RowError(fieldname, "missing" if not value else f"expected text, got {type(value).__name__}")
    parts = value.split("<extra_id_1>")
    if len(parts) == 1:
        return value, None
    messages = [{"role": "user", "content": parts[0].strip()}]
    for i, part in enumerate(parts[1:], start=1):
        head, _, body = part.partition("\n")
        role = {"User": "user", "Assistant": "assistant"}.get(head.strip())
        if role is None:
            raise RowError(fieldname, f"turn {i + 1} is marked {head.strip()!r}, not User or Assistant")
        messages.append({"role": role, "content": body.strip()})
    return None, messages


@preset("helpsteer2")
class HelpSteer2(Preset):
    """HelpSteer2 (nvidia/HelpSteer2): a prompt, a response and five attributes rated 0-4 by people.

    A row: ``prompt`` (multi-turn prompts mark later turns ``<extra_id_1>User`` /
    ``<extra_id_1>Assistant``; they import as chat messages), ``response``, and
    ``helpfulness``, ``correctness``, ``coherence``, ``complexity``, ``verbosity``, each a
    judgment on rubric ``helpsteer2`` with its published value. The dataset names neither
    the model nor the annotator: ``--model`` (default unknown@helpsteer2) and ``--rater``
    (default helpsteer2, a person) stand for them.
    """

    dataset = "helpsteer2"
    rubrics = (bundled_rubric("helpsteer2"),)
    takes = frozenset({"model_version", "model", "rater", "rater_kind"})

    def __call__(self, row: Row) -> Parsed:
        rub = self.rubrics[0]
        prompt, messages = helpsteer_prompt(row.get("prompt"), "prompt")
        answer = Answer(self.model(self.options.model or "unknown@helpsteer2", "--model"), text(row, "response"))
        rater = RaterRef(self.options.rater or "helpsteer2", rater_kind(self.options.rater_kind or "human"))
        scores = [Score(answer=0, rater=rater, rubric=rub.id, dimension=a,
                        value=_in_scale(rub, a, _number(field(row, a), a), a))
                  for a in HELPSTEER2_ATTRIBUTES]
        return Parsed(prompt=prompt, messages=messages, answers=[answer], scores=scores)
