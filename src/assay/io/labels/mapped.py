"""Pairwise (or N-way) labels from any file, with a field mapping.

Each row holds a prompt, two or more answers (one field each, or one field with a list),
the models that wrote them, and a label; optionally its strength, who gave it, the order
the rater saw the answers and a justification. The label is decoded by a label map
(:mod:`assay.io.labels.labelmaps`) and always refers to the answers in the order the
answer fields are given; the order shown is kept beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay import records as R
from assay.errors import BadInput
from assay.io.importer import PROMPT_FIELDS, ROLES, _get, _maybe_json, _MISSING
from assay.io.labels._parsed import Answer, Parsed, RaterRef, RowError, Verdict, rater_kind
from assay.io.labels._writer import RowReader
from assay.io.labels.labelmaps import LabelMap
from assay.io.readers import Row


@dataclass
class PairFields:
    """Which source fields hold a pairwise label's parts (dotted paths reach into objects).

    ``responses`` names one field per answer, or a single field holding a list of answers;
    ``models`` likewise (or is left empty when ``model`` names the one model of every
    answer). The rater is a field (``rater_field``) or fixed (``rater``), of ``rater_kind``.
    ``shown`` holds the order the rater saw the answers: a list of positions (1-based,
    first shown first) or, for two answers, true when they were shown swapped; without
    it the answers count as shown in the order given. ``model_version`` completes model
    names written without ``@VERSION``.
    """

    responses: tuple[str, ...]
    label: str
    label_map: str
    prompt: str | None = None
    models: tuple[str, ...] = ()
    model: str | None = None
    model_version: str | None = None
    strength: str | None = None
    rater_field: str | None = None
    rater: str | None = None
    rater_kind: str = "human"
    shown: str | None = None
    justification: str | None = None
    id: str | None = None
    category: str | None = None


def model_id(name: Any, version: str | None, fieldname: str) -> str:
    """``name`` as NAME@VERSION, adding ``version`` to a bare name; RowError when that cannot be done."""
    if not isinstance(name, str) or not name.strip():
        raise RowError(fieldname, f"expected a model name, got {name!r}")
    name = name.strip()
    if "@" not in name:
        if not version:
            raise RowError(fieldname, f"model {name!r} has no @VERSION: write NAME@VERSION or pass --model-version")
        name = f"{name}@{version}"
    try:
        R.split_model_id(name)
    except ValueError as e:
        raise RowError(fieldname, str(e)) from None
    return name


def text_of(value: Any, fieldname: str, *, what: str = "text") -> str:
    """A text cell; an OpenAI-style message ``{"content": ...}`` counts as its content."""
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        value = value["content"]
    if value is _MISSING or value is None:
        raise RowError(fieldname, "missing")
    if not isinstance(value, str):
        raise RowError(fieldname, f"expected {what}, got {type(value).__name__}")
    return value


def prompt_of(value: Any, fieldname: str) -> tuple[str | None, list[dict[str, str]] | None]:
    """A prompt cell: text, or a list of chat messages (or of plain strings, each a user turn)."""
    value = _maybe_json(value, fieldname) if isinstance(value, str) and value[:1] == "[" else value
    if value is _MISSING or value is None or value == "":
        raise RowError(fieldname, "missing")
    if isinstance(value, str):
        return value, None
    if isinstance(value, list) and value:
        out = []
        for i, m in enumerate(value):
            if isinstance(m, str):
                out.append({"role": "user", "content": m})
                continue
            if not isinstance(m, dict):
                raise RowError(f"{fieldname}[{i}]", f"a message must be an object or text, got {type(m).__name__}")
            if m.get("role") not in ROLES:
                raise RowError(f"{fieldname}[{i}].role", f"role must be one of {sorted(ROLES)}, got {m.get('role')!r}")
            if not isinstance(m.get("content"), str):
                raise RowError(f"{fieldname}[{i}].content", "expected text")
            out.append({"role": m["role"], "content": m["content"]})
        return None, out
    raise RowError(fieldname, f"expected text or a list of chat messages, got {type(value).__name__}")


def _list_cell(row: Row, fieldname: str) -> list[Any]:
    v = _maybe_json(_get(row, fieldname), fieldname)
    if v is _MISSING or v is None:
        raise RowError(fieldname, "missing")
    if not isinstance(v, list):
        raise RowError(fieldname, f"expected a list, got {type(v).__name__}")
    return v


def _strength(v: Any, fieldname: str) -> int | None:
    if v is _MISSING or v is None or v == "":
        return None
    if isinstance(v, str):
        try:
            v = float(v.strip())  # a CSV column with gaps is written 1.0, 2.0
        except ValueError:
            pass
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v in (1, 2):
        return int(v)
    raise RowError(fieldname, f"strength must be 1 (slightly better) or 2 (much better), got {v!r}")


def _shown(v: Any, n: int, fieldname: str) -> list[int] | None:
    v = _maybe_json(v, fieldname)
    if v is _MISSING or v is None:
        return None
    if isinstance(v, str) and v.strip().lower() in ("true", "false", "1", "0"):
        v = v.strip().lower() in ("true", "1")
    if isinstance(v, bool):
        if n != 2:
            raise RowError(fieldname, f"true/false (swapped) only describes two answers, the row has {n}")
        return [1, 0] if v else [0, 1]
    if isinstance(v, list) and sorted(v) == list(range(1, n + 1)) and all(isinstance(x, int) for x in v):
        return [x - 1 for x in v]
    raise RowError(fieldname, f"order shown must be a list of the positions 1..{n} (first shown first), "
                              f"or true/false for two answers shown swapped; got {v!r}")


class MappedReader(RowReader):
    """A :class:`RowReader` for :class:`PairFields`."""

    source = "mapped"

    def __init__(self, fields: PairFields) -> None:
        f = fields
        if not f.responses:
            raise BadInput("name the answers' fields: --response-fields OUT1,OUT2 (or one field holding a list)")
        if f.models and f.model:
            raise BadInput("give either --model-fields or --model, not both")
        if not f.models and not f.model:
            raise BadInput("name the models: --model-fields F1,F2 (one per answer, or one holding a list) "
                           "or --model NAME@VERSION")
        if len(f.responses) > 1 and len(f.models) not in (0, len(f.responses)):
            raise BadInput(f"{len(f.responses)} answer fields but {len(f.models)} model fields: give one per answer")
        if f.rater and f.rater_field:
            raise BadInput("give either --rater NAME or --rater-field FIELD, not both")
        if not f.rater and not f.rater_field:
            raise BadInput("say who gave the labels: --rater NAME --rater-kind human|llm, or --rater-field FIELD")
        if f.rater_kind not in ("human", "llm"):
            raise BadInput(f"--rater-kind must be human or llm, not {f.rater_kind!r}")
        try:
            self.labels = LabelMap(f.label_map)
        except RowError as e:
            raise BadInput(e.reason, param="label_map") from None
        self.rater_kind = rater_kind(f.rater_kind)  # checked above
        try:
            fixed = RaterRef(f.rater, self.rater_kind) if f.rater else None
        except RowError as e:
            raise BadInput(e.reason, param="rater") from None
        if f.model:
            try:
                model_id(f.model, f.model_version, "--model")
            except RowError as e:
                raise BadInput(e.reason, param="model") from None
        self.f, self.fixed_rater = f, fixed
        self.prompt_field: str | None = f.prompt

    def __call__(self, row: Row) -> Parsed:
        f = self.f
        if self.prompt_field is None:
            self.prompt_field = next((c for c in PROMPT_FIELDS if _get(row, c) is not _MISSING), None)
            if self.prompt_field is None:
                raise RowError("prompt", f"no prompt field: none of {list(PROMPT_FIELDS)} is present; "
                                         "use --prompt-field")
        prompt, messages = prompt_of(_get(row, self.prompt_field), self.prompt_field)
        if len(f.responses) == 1:
            texts = [text_of(t, f"{f.responses[0]}[{i}]") for i, t in enumerate(_list_cell(row, f.responses[0]))]
        else:
            texts = [text_of(_get(row, name), name) for name in f.responses]
        n = len(texts)
        if n < 2:
            raise RowError(f.responses[0], f"a comparison needs at least two answers, the row has {n}")
        if f.model:
            models = [model_id(f.model, f.model_version, "--model")] * n
        elif len(f.models) == 1 and len(f.responses) == 1:
            names = _list_cell(row, f.models[0])
            if len(names) != n:
                raise RowError(f.models[0], f"{len(names)} models for {n} answers")
            models = [model_id(m, f.model_version, f"{f.models[0]}[{i}]") for i, m in enumerate(names)]
        else:
            models = [model_id(_get(row, name), f.model_version, name) for name in f.models]
        label = self.labels(_get(row, f.label), n, f.label)
        strength = label.strength
        if f.strength:
            given = _strength(_get(row, f.strength), f.strength)
            if given is not None and label.outcome != "win":
                raise RowError(f.strength, f"a {label.outcome} has no strength (got {given})")
            strength = given if given is not None else strength
        if self.fixed_rater is not None:
            rater = self.fixed_rater
        else:
            assert f.rater_field is not None, "a map without a fixed rater names the rater's field"
            who = _get(row, f.rater_field)
            if who is _MISSING or who is None or (isinstance(who, str) and not who.strip()):
                raise RowError(f.rater_field, "missing")
            rater = RaterRef(str(who).strip(), self.rater_kind)
        just = _get(row, f.justification) if f.justification else None
        if just is _MISSING or just is None:
            just = ""
        elif not isinstance(just, str):
            raise RowError(f.justification, f"expected text, got {type(just).__name__}")
        ext = None
        if f.id:
            v = _get(row, f.id)
            if v is _MISSING or v is None or isinstance(v, (bool, dict, list)):
                raise RowError(f.id, "missing" if v is _MISSING or v is None else "expected text or a number")
            ext = str(v)
        category = _get(row, f.category) if f.category else None
        answers = [Answer(m, t) for m, t in zip(models, texts)]
        shown = _shown(_get(row, f.shown), n, f.shown) if f.shown else None
        verdict = Verdict(answers=list(range(n)), rater=rater, outcome=label.outcome, winner=label.winner,
                          strength=strength, probability=label.probability, shown=shown, justification=just,
                          detail={"label": _get(row, f.label)})
        return Parsed(prompt=prompt, messages=messages, external_id=ext,
                      category=category if isinstance(category, str) else None, answers=answers,
                      verdicts=[verdict])
