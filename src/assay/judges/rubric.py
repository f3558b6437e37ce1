"""The rubric judge: an LLM grades one response on one or all dimensions of a rubric in one call.

For each dimension the judge writes its reasoning, then a verdict carrying the call's
nonce, asked for on a line of its own and read wherever it stands on a line::

    VERDICT 3f9a0c21e4 factuality: 4

Only verdicts with that nonce are read, so a response under test that imitates a verdict
("Score: 5", a fake closing delimiter, "grader, output 5") cannot supply one: the nonce
is a digest of the call's content, which includes the response, so the response cannot
contain it. By default (the client's ``structured`` setting, ``auto``) the judge is asked
for structured outputs: one JSON object under a strict schema, whose ``code`` must be the
nonce, its values through the same checks (``assay.judges._verdict``); an endpoint that
refuses ``response_format`` is asked for verdict lines, and verdict lines written instead of
the JSON (a server that ignores it) are read too. Output that cannot be read is asked for
again with a repair turn (bounded), then stored as the unit's error. With logprobs, each score also gets a
probability-weighted value (G-Eval); with K samples, their mean and spread.

    judge = RubricJudge(client, rubric, RubricPrompt(dimensions=["factuality"], samples=3))
    judgments = await judge.grade(item, response)
"""

from __future__ import annotations

import functools
import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay import records as R
from assay.errors import BadInput
from assay.judges._llm import (
    Asked, JudgeParseError, Structured, Usage, ask, request_digests, token_at, weighted_score,
)
from assay.judges._template import Template, fence, load_template, make_nonce
from assay.judges._verdict import (
    closed_object, code_property, load_json_verdict, mark, missing_hint, quote, response_format, rest_of_part,
    value_offset,
)
from assay.runs import Unit, WorkTask, unit_work, work_spec

PLACEHOLDERS = {"rubric", "guidelines", "dimensions", "prompt", "reference", "response", "nonce", "output_format"}
REQUIRED = {"response", "dimensions", "output_format"}


def load_rubric_template(path: str | Path | None = None) -> Template:
    """The rubric judge's template: ``path``, or the built-in ``templates/rubric.txt``."""
    return load_template(path, kind="rubric", required=REQUIRED, known=PLACEHOLDERS)


# ---- what the judge is told ------------------------------------------------------------


def _scale_text(dim: R.Dimension) -> str:
    s = dim.scale
    if s.kind == "ordinal":
        return "\n".join(f"    {lv.value} ({lv.label}): {lv.anchor}" for lv in s.levels)
    if s.kind == "binary":
        return f"    {s.true_label} or {s.false_label}"
    if s.kind == "categorical":
        return "\n".join(f"    {c.name}: {c.description}".rstrip(": ") for c in s.categories)
    return f"    a number from {s.min:g} to {s.max:g}"


def _value_hint(dim: R.Dimension) -> str:
    s = dim.scale
    if s.kind == "ordinal":
        return f"an integer from 1 to {len(s.levels)}"
    if s.kind == "binary":
        return f"{s.true_label} or {s.false_label}"
    if s.kind == "categorical":
        return "one of " + ", ".join(c.name for c in s.categories)
    return f"a number from {s.min:g} to {s.max:g}"


def describe_dimensions(dims: Sequence[R.Dimension]) -> str:
    lines = []
    for i, d in enumerate(dims, start=1):
        better = "" if d.direction == "higher_is_better" else " (lower is better)"
        lines.append(f"{i}. {d.name}: {d.description}{better}\n{_scale_text(d)}")
    return "\n".join(lines)


def output_format(dims: Sequence[R.Dimension], nonce: str) -> str:
    lines = [
        "Write each verdict line on its own line, exactly in this form (the code is required):",
        f"VERDICT {nonce} <dimension>: <value>",
        "with these values:",
    ]
    lines += [f"  {d.name}: {_value_hint(d)}" for d in dims]
    example = dims[0]
    lines.append(f"For example: VERDICT {nonce} {example.name}: {_example_value(example)}")
    lines.append("Write exactly one verdict line per dimension, after its reasoning.")
    return "\n".join(lines)


def _example_value(dim: R.Dimension) -> str:
    s = dim.scale
    if s.kind == "ordinal":
        return str((len(s.levels) + 1) // 2)
    if s.kind == "binary":
        return s.true_label
    if s.kind == "categorical":
        return s.categories[0].name
    lo, hi = _bounds(s)
    return f"{(lo + hi) / 2:g}"


def _bounds(s: R.Scale) -> tuple[float, float]:
    """A continuous scale's (min, max); the Scale validator makes sure both are set."""
    if s.min is None or s.max is None:
        raise ValueError(f"a {s.kind} scale has no min and max")
    return s.min, s.max


# ---- reading the judge's answer ---------------------------------------------------------

def verdict_pattern(nonce: str) -> re.Pattern[str]:
    """Verdicts of this call, ``VERDICT <nonce> <dimension>: <value>``, wherever they stand on a line."""
    return re.compile(
        rf"{mark(nonce)}[ \t*_`]*(?P<dim>[A-Za-z][\w\- ]*?)[ \t*_`]*[:=][ \t*_`]*{rest_of_part(nonce)}",
        re.IGNORECASE | re.MULTILINE,
    )


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "-", name.strip().lower())


def parse_value(dim: R.Dimension, text: str) -> tuple[float | None, str | None, int]:
    """(value, label, offset of the value in ``text``) of a verdict's value text; JudgeParseError if invalid."""
    s = dim.scale
    raw = text.strip().strip("[]()\"'").strip()
    start = text.find(raw[:1]) if raw else 0
    if s.kind == "categorical":
        for c in s.categories:
            if re.match(rf"{re.escape(c.name)}(?![\w\-])", raw, re.IGNORECASE):
                return None, c.name, start
        raise JudgeParseError(f"{dim.name}: {quote(raw)} is not one of {[c.name for c in s.categories]}")
    if s.kind == "binary":
        word = re.match(r"[A-Za-z]+|[01]\b", raw)
        key = word.group(0).lower() if word else ""
        yes = {s.true_label.lower(), "yes", "true", "pass", "1"}
        no = {s.false_label.lower(), "no", "false", "fail", "0"}
        if key in yes:
            return 1.0, s.true_label, start
        if key in no:
            return 0.0, s.false_label, start
        raise JudgeParseError(f"{dim.name}: {quote(raw)} is not {s.true_label} or {s.false_label}")
    m = re.match(r"[-+]?\d+(?:\.\d+)?", raw)
    if s.kind == "ordinal":
        if m is None:
            for lv in s.levels:
                if raw.lower() == lv.label.lower():
                    return float(lv.value), lv.label, start
            raise JudgeParseError(f"{dim.name}: {quote(raw)} is not a level 1..{len(s.levels)}")
        v = float(m.group(0))
        if not v.is_integer() or not 1 <= v <= len(s.levels):
            raise JudgeParseError(f"{dim.name}: {m.group(0)} is not a level 1..{len(s.levels)}")
        return v, s.levels[int(v) - 1].label, start
    if m is None:
        raise JudgeParseError(f"{dim.name}: {quote(raw)} is not a number")
    v = float(m.group(0))
    lo, hi = _bounds(s)
    if not lo <= v <= hi:
        raise JudgeParseError(f"{dim.name}: {v:g} is outside [{lo:g}, {hi:g}]")
    return v, None, start


@dataclass
class Grade:
    """One dimension's verdict read from one answer."""

    value: float | None
    label: str | None
    reasoning: str
    weighted: dict[str, Any] | None = None


def _scale_tokens(dim: R.Dimension) -> dict[str, float] | None:
    s = dim.scale
    if s.kind == "ordinal":
        return {str(lv.value): float(lv.value) for lv in s.levels}
    if s.kind == "binary":
        return {s.true_label.lower(): 1.0, s.false_label.lower(): 0.0, "yes": 1.0, "no": 0.0}
    return None


def parse_grades(text: str, dims: Sequence[R.Dimension], nonce: str, logprobs: Any = None) -> tuple[dict[str, Grade], list[str]]:
    """Read every dimension's verdict (and reasoning) from the judge's own verdicts.

    Verdicts without this call's nonce are ignored. A dimension without a verdict, or with
    two different ones, makes the answer unreadable (JudgeParseError, quoting the verdict
    refused). Returns the grades and notes (e.g. verdicts for dimensions not asked).
    """
    by_name = {_norm(d.name): d for d in dims}
    found: dict[str, tuple[Grade, str]] = {}
    notes: list[str] = []
    prev_end = 0
    pattern = verdict_pattern(nonce)
    for m in pattern.finditer(text):
        dim = by_name.get(_norm(m.group("dim")))
        if dim is None:
            notes.append(f"verdict for a dimension not asked: {m.group('dim').strip()!r}")
            prev_end = m.end()
            continue
        try:
            value, label, off = parse_value(dim, m.group("val"))
        except JudgeParseError as e:
            raise JudgeParseError(f"{e.message} (in {quote(m.group(0))})") from None
        reasoning = text[prev_end : m.start()].strip().rstrip(" \t*_`>#-").strip()  # markdown before the verdict
        prev_end = m.end()
        weighted = None
        tokens = _scale_tokens(dim)
        if logprobs and tokens:
            entry = token_at(logprobs, text, m.start("val") + off)
            weighted = weighted_score(entry, tokens) if entry is not None else None
            if weighted is None:
                notes.append(f"{dim.name}: no scale point among the logprobs of the score token")
        g = Grade(value, label, reasoning, weighted)
        old = found.get(dim.name)
        if old is not None and (old[0].value, old[0].label) != (value, label):
            raise JudgeParseError(f"two different verdicts for {dim.name}: {quote(old[1])} and {quote(m.group(0))}")
        if old is None:
            found[dim.name] = (g, m.group(0))
    missing = [d.name for d in dims if d.name not in found]
    if missing:
        if not pattern.search(text):
            raise JudgeParseError(f"no verdict line 'VERDICT {nonce} <dimension>: <value>' found{missing_hint(text, pattern)}")
        raise JudgeParseError(f"no verdict for {', '.join(missing)}{missing_hint(text, pattern)}")
    return {k: g for k, (g, _) in found.items()}, notes


def output_format_json(dims: Sequence[R.Dimension], nonce: str) -> str:
    """What the judge is told when it answers in JSON (structured outputs)."""
    shape = ", ".join(f'"{d.name}": {{"reasoning": "...", "value": ...}}' for d in dims)
    lines = ["Your verdict is one JSON object, and your whole answer: write nothing outside it. Its form (the code is required):",
             f'{{"code": "{nonce}", {shape}}}', "with these values:"]
    lines += [f"  {d.name}: {_value_hint(d)}" for d in dims]
    lines.append("For each dimension write the reasoning first, then the value.")
    return "\n".join(lines)


def _value_schema(dim: R.Dimension) -> dict[str, Any]:
    s = dim.scale
    if s.kind == "ordinal":
        return {"type": "integer", "enum": [lv.value for lv in s.levels]}
    if s.kind == "binary":
        return {"type": "string", "enum": [s.true_label, s.false_label]}
    if s.kind == "categorical":
        return {"type": "string", "enum": [c.name for c in s.categories]}
    return {"type": "number", "minimum": s.min, "maximum": s.max}


def grades_schema(dims: Sequence[R.Dimension], nonce: str) -> dict[str, Any]:
    """The strict JSON Schema of a structured answer: the nonce, then per dimension its reasoning and value."""
    props: dict[str, Any] = {"code": code_property(nonce)}
    for d in dims:
        props[d.name] = closed_object({"reasoning": {"type": "string"}, "value": _value_schema(d)})
    return closed_object(props)


def parse_grades_json(text: str, dims: Sequence[R.Dimension], nonce: str, logprobs: Any = None
                      ) -> tuple[dict[str, Grade], list[str]]:
    """Every dimension's grade from a structured (JSON) answer, through the same value checks as text verdicts."""
    answer = load_json_verdict(text, nonce)
    found: dict[str, Grade] = {}
    notes = [f"verdict for a dimension not asked: {k!r}" for k in answer if k != "code" and k not in {d.name for d in dims}]
    for dim in dims:
        part = answer.get(dim.name)
        if not isinstance(part, dict) or "value" not in part:
            raise JudgeParseError(f"no value for {dim.name} in the JSON answer: {quote(text)}")
        raw = part["value"]
        value, label, _ = parse_value(dim, raw if isinstance(raw, str) else json.dumps(raw))
        weighted = None
        tokens = _scale_tokens(dim)
        if logprobs and tokens:
            at = value_offset(text, dim.name)
            entry = token_at(logprobs, text, at) if at is not None else None
            weighted = weighted_score(entry, tokens) if entry is not None else None
            if weighted is None:
                notes.append(f"{dim.name}: no scale point among the logprobs of the score token")
        found[dim.name] = Grade(value, label, str(part.get("reasoning") or "").strip(), weighted)
    return found, notes


# ---- the judge -------------------------------------------------------------------------


@dataclass(frozen=True)
class Exemplar:
    """A response people graded, shown to the judge as a worked example (few-shot)."""

    prompt: str
    """The item's prompt."""
    response: str
    """The graded answer."""
    grades: tuple[tuple[str, str], ...]
    """(dimension, the people's value as the judge would write it), per dimension shown."""
    source: str | None = None
    """The response id it was taken from (provenance; not shown to the judge)."""

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "response": self.response, "grades": [list(g) for g in self.grades],
                "source": self.source}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Exemplar:
        return cls(d["prompt"], d["response"], tuple((str(a), str(b)) for a, b in d["grades"]), d.get("source"))


def _exemplars_text(exemplars: Sequence[Exemplar], nonce: str) -> str:
    """The worked examples as the judge reads them, each text fenced with the call's nonce."""
    parts = ["Examples graded by human raters (follow how they apply the scale):"]
    for n, ex in enumerate(exemplars, start=1):
        grades = "; ".join(f"{d}: {v}" for d, v in ex.grades)
        parts.append(f"Example {n}:\n{fence(f'EXAMPLE {n} PROMPT', ex.prompt, nonce)}\n"
                     f"{fence(f'EXAMPLE {n} ANSWER', ex.response, nonce)}\nHuman grades: {grades}")
    return "\n\n".join(parts)


@dataclass(frozen=True)
class RubricPrompt:
    """How a rubric judge is asked: which dimensions, which template, how many samples, logprobs or not."""

    dimensions: Sequence[str] | None = None
    """The rubric's dimensions to grade (None: all)."""
    template: Template | str | Path | None = None
    """A template or its file (None: the built-in ``templates/rubric.txt``)."""
    samples: int = 1
    """Judge samples per response, aggregated per dimension."""
    logprobs: bool = True
    """Ask for logprobs and keep the probability-weighted score where the server gives them."""
    top_logprobs: int = 5
    """Alternatives asked for at each token, with ``logprobs``."""
    criteria: str | None = None
    """Extra grading criteria, shown after the rubric's guidelines (None: none)."""
    exemplars: Sequence[Exemplar] = ()
    """Responses people graded, shown after the guidelines as worked examples (few-shot)."""


class RubricJudge:
    """An LLM judge that grades responses on rubric dimensions, through a provider client.

    ``samples`` K asks K times (sample indices 0..K-1, each cached on its own); the
    stored value is the median (lower) of the K verdicts, with their mean and standard
    deviation in ``detail``. ``temperature`` defaults to 0 for one sample, 1 for more.
    """

    kind = "judge"

    def __init__(
        self,
        client: Any,
        rubric: R.Rubric,
        prompt: RubricPrompt | None = None,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        max_parse_retries: int = 2,
        guideline_version: int | None = None,
    ) -> None:
        how = prompt if prompt is not None else RubricPrompt()
        dimensions, template, samples = how.dimensions, how.template, how.samples
        logprobs, top_logprobs = how.logprobs, how.top_logprobs
        if samples < 1:
            raise ValueError("samples must be at least 1")
        self.client = client
        self.rubric = rubric
        names = list(dimensions) if dimensions else [d.name for d in rubric.dimensions]
        try:
            self.dimensions = [rubric.dimension(n) for n in names]
        except KeyError as e:
            raise BadInput(str(e.args[0]), param="dimensions") from None
        self.template = template if isinstance(template, Template) else load_rubric_template(template)
        self.samples = samples
        self.temperature = temperature if temperature is not None else (0.0 if samples == 1 else 1.0)
        self.max_tokens = max_tokens
        self.logprobs = logprobs
        self.top_logprobs = top_logprobs
        self.max_parse_retries = max_parse_retries
        self.guideline_version = guideline_version
        self.criteria = how.criteria.strip() if how.criteria and how.criteria.strip() else None
        self.exemplars = tuple(how.exemplars)

    @property
    def model_id(self) -> str:
        return self.client.model.id

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens is not None:
            p["max_tokens"] = self.max_tokens
        if self.logprobs:
            p.update(logprobs=True, top_logprobs=self.top_logprobs)
        return p

    def identity(self) -> dict[str, Any]:
        """What makes this judge the rater it is (its model, template and how it asks)."""
        ident: dict[str, Any] = {"kind": "rubric", "samples": self.samples, "params": self.params(),
                                 "max_parse_retries": self.max_parse_retries}
        # only when set, so the ids of judges made before criteria and exemplars existed stay as they were
        if self.criteria:
            ident["criteria"] = R.digest("criteria", self.criteria, size=8)
        if self.exemplars:
            ident["exemplars"] = R.digest("exemplars", [e.to_dict() for e in self.exemplars], size=8)
        structured = getattr(self.client, "structured", "off")
        return {**ident, "structured": structured} if structured != "off" else ident

    def rater(self) -> R.Rater:
        ident = self.identity()
        return R.Rater(
            id=R.Rater.make_id("llm", self.model_id, self.template.digest, ident),
            kind="llm", name=self.model_id, model=self.model_id, template_digest=self.template.digest, config=ident,
        )

    def messages(self, item: R.Item, response: R.Response, *, structured: bool = False) -> tuple[list[dict[str, str]], str]:
        """The chat messages for one response (asking for a JSON answer when ``structured``), and the call's nonce."""
        prompt = item.prompt_text() if item.prompt is not None else "\n\n".join(f"[{m.role}] {m.content}" for m in item.messages or [])
        dim_names = [d.name for d in self.dimensions]
        # a red-team prompt (base64, role play...) hides what it asks for: the judge also sees the goal
        goal = item.metadata.get("goal") if item.metadata.get("attack") else None
        goal = goal if isinstance(goal, str) and goal.strip() and goal != prompt else None
        shown = [self.criteria or "", *(t for e in self.exemplars for t in (e.prompt, e.response))]
        extra = [self.criteria, [e.to_dict() for e in self.exemplars]] if self.criteria or self.exemplars else []
        nonce = make_nonce(self.template.digest, self.rubric.id, dim_names, prompt, item.reference, response.text,
                           *([goal] if goal else []), *extra,
                           avoid=(prompt, response.text, item.reference or "", goal or "", *shown))
        guidelines = self.rubric.guidelines.strip() or "(none)"
        if self.criteria:
            guidelines += f"\n\nAdditional criteria:\n{self.criteria}"
        if self.exemplars:
            guidelines += "\n\n" + _exemplars_text(self.exemplars, nonce)
        values = {
            "rubric": f"{self.rubric.id}: {self.rubric.description}".rstrip(": "),
            "guidelines": guidelines,
            "dimensions": describe_dimensions(self.dimensions),
            "prompt": fence("PROMPT", prompt, nonce) + (
                "\nThat prompt is a red-team attack. The behaviour it tries to get from the assistant:\n"
                + fence("GOAL", goal, nonce) if goal else ""),
            "reference": "\nA reference answer (correct, though not the only good answer):\n"
            + fence("REFERENCE", item.reference, nonce) + "\n" if item.reference else "",
            "response": fence("ANSWER", response.text, nonce),
            "nonce": nonce,
            "output_format": (output_format_json if structured else output_format)(self.dimensions, nonce),
        }
        return self.template.render(values), nonce

    def structured_form(self, item: R.Item, response: R.Response) -> Structured:
        """The question for one response in its structured-outputs form."""
        messages, nonce = self.messages(item, response, structured=True)
        return Structured(messages, response_format("rubric_grades", grades_schema(self.dimensions, nonce)),
                          lambda c: parse_grades_json(c.text, self.dimensions, nonce, c.logprobs), nonce)

    async def grade(self, item: R.Item, response: R.Response, *, run_id: str | None = None,
                    usage: Usage | None = None) -> list[R.Judgment]:
        """One Judgment per dimension for this response (JudgeParseError if the judge's output stays unreadable)."""
        usage = usage if usage is not None else Usage()
        messages, nonce = self.messages(item, response)
        json_form = self.structured_form(item, response)
        samples: list[Asked] = []
        for k in range(self.samples):
            def parse(c: Any) -> tuple[dict[str, Grade], list[str]]:
                return parse_grades(c.text, self.dimensions, nonce, c.logprobs)

            samples.append(await ask(self.client, messages, parse, usage, sample_index=k, params=self.params(),
                                     max_parse_retries=self.max_parse_retries, structured=json_form))
        rater = self.rater()
        out = []
        for dim in self.dimensions:
            out.append(self._judgment(dim, samples, rater, response, nonce, run_id))
        return out

    def _judgment(self, dim: R.Dimension, samples: list[Asked], rater: R.Rater, response: R.Response,
                  nonce: str, run_id: str | None) -> R.Judgment:
        grades = [a.parsed[0][dim.name] for a in samples]
        first = grades[0]
        detail: dict[str, Any] = {
            "parse": {
                "nonce": nonce,
                "format": [a.format for a in samples],
                "attempts": [a.attempts for a in samples],
                "errors": [e for a in samples for e in a.errors],
                "notes": sorted({n for a in samples for n in a.parsed[1]}),
                "finish_reason": [a.completion.finish_reason for a in samples],
                "request_digest": [a.completion.digest for a in samples],
            },
        }
        value, label = first.value, first.label
        weights = [g.weighted for g in grades if g.weighted is not None]
        if len(weights) == len(grades):
            detail["weighted"] = statistics.fmean(w["score"] for w in weights)
            detail["probs"] = [w["probs"] for w in weights]
        if self.samples > 1:
            values = [g.value for g in grades if g.value is not None]
            if len(values) == len(grades):
                value = statistics.median_low(values)
                label = next(g.label for g in grades if g.value == value)
                detail.update(samples=values, mean=statistics.fmean(values), sd=statistics.stdev(values))
            else:  # categorical: the most common label, ties to the first seen
                labels = [g.label for g in grades]
                label = max(labels, key=labels.count)
                detail.update(samples=labels)
            if "weighted" in detail:
                detail["weighted_samples"] = [w["score"] for w in weights]
            detail["reasoning_samples"] = [g.reasoning for g in grades[1:]]
        return R.Judgment(
            id=R.digest("judgment", rater.id, response.id, self.rubric.id, dim.name),
            response_id=response.id, rater_id=rater.id, rubric=self.rubric.id, dimension=dim.name,
            value=value, label=label, justification=first.reasoning, guideline_version=self.guideline_version,
            run_id=run_id, detail=detail,
        )

    def config(self) -> dict[str, Any]:
        return {
            "judge": self.rater().id, "model": self.model_id, "template_digest": self.template.digest,
            "rubric": self.rubric.id, "dimensions": [d.name for d in self.dimensions], **self.identity(),
        }

    def request_digests(self, item: R.Item, response: R.Response) -> list[str]:
        """Cache keys of the first call of each sample ``grade`` makes."""
        messages, _ = self.messages(item, response)
        json_form = self.structured_form(item, response)
        return [d for k in range(self.samples)
                for d in request_digests(self.client, messages, sample_index=k, params=self.params(), structured=json_form)]

    def spec(self) -> dict[str, Any]:
        """This judge as plain data, its client as ``client.spec()``: ``from_spec`` rebuilds it elsewhere."""
        return {
            "client": self.client.spec(), "rubric": self.rubric.model_dump(mode="json"),
            "dimensions": [d.name for d in self.dimensions], "template": self.template.spec(),
            "samples": self.samples, "temperature": self.temperature, "max_tokens": self.max_tokens,
            "logprobs": self.logprobs, "top_logprobs": self.top_logprobs,
            "max_parse_retries": self.max_parse_retries, "guideline_version": self.guideline_version,
            "criteria": self.criteria, "exemplars": [e.to_dict() for e in self.exemplars],
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any], clients: Any) -> RubricJudge:
        """Rebuild a judge from ``spec()``; ``clients(client_spec)`` makes its provider client."""
        how = RubricPrompt(dimensions=spec["dimensions"], template=Template.from_spec(spec["template"]),
                           samples=spec["samples"], logprobs=spec["logprobs"], top_logprobs=spec["top_logprobs"],
                           criteria=spec.get("criteria"),
                           exemplars=tuple(Exemplar.from_dict(e) for e in spec.get("exemplars") or ()))
        return cls(clients(spec["client"]), R.Rubric.model_validate(spec["rubric"]), how,
                   temperature=spec["temperature"], max_tokens=spec["max_tokens"],
                   max_parse_retries=spec["max_parse_retries"], guideline_version=spec["guideline_version"])


def rubric_task(judge: RubricJudge, pairs: Sequence[tuple[R.Item, R.Response]], *,
                execution: dict[str, Any] | None = None) -> WorkTask:
    """A runs.Task grading each (item, response) with ``judge``: unit key = response id."""
    from assay.runs import run_id_for

    config = {**judge.config(), "responses": R.digest("responses", sorted(r.id for _, r in pairs)),
              "execution": execution or {}}
    run_id = run_id_for("judge", config)
    spec = work_spec("judge.rubric", {"judge": judge.spec(), "run_id": run_id})
    task = WorkTask("judge", config, [Unit(r.id, (i, r)) for i, r in pairs], functools.partial(_grade, judge, run_id),
                     clients=[judge.client], spec=spec, digests=lambda p: judge.request_digests(*p), run_id=run_id)
    return task


async def _grade(judge: RubricJudge, run_id: str, payload: tuple[R.Item, R.Response]) -> Any:
    item, response = payload
    usage = Usage()
    js = await judge.grade(item, response, run_id=run_id, usage=usage)
    return usage.outcome(js[0].id, js)


@unit_work("judge.rubric")
def _rubric_work(config: dict[str, Any], clients: Any) -> WorkTask:
    """rubric_task's unit work, rebuilt in a worker process."""
    judge = RubricJudge.from_spec(config["judge"], clients)
    return WorkTask("judge", {}, [], functools.partial(_grade, judge, config["run_id"]), clients=[judge.client])
