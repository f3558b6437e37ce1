"""Inspect logs (``.eval`` or ``.json``), read with Inspect's own public API (``inspect_ai.log.read_eval_log``).

Each sample becomes an item (its input, target, choices and metadata) of the dataset named
after the task, and its output a response of the evaluated model (epoch N is sample N-1).
Each score becomes a judgment with the score's explanation as its justification and the
answer the scorer extracted in its detail: by an LLM judge when the scorer graded with a
model (a ``model`` argument, or grading messages in its metadata), else by a program.
Models are named ``NAME@RUN`` (Inspect's model name, the log's run id): Inspect records no
model version, and two runs of one model must not merge; ``--model`` renames the evaluated one.
A sample that failed in Inspect keeps its item, without a response, counted as failed.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from assay import records as R
from assay.errors import BadInput, require_extra
from assay.io.jsonlines import array_lines
from assay.io.peers._common import PeerLog, Sample, SampleError, Score, model_id

ROLES = {"system", "user", "assistant", "tool"}
_LETTERS = {"C": 1.0, "P": 0.5, "I": 0.0, "N": 0.0}  # Inspect's CORRECT, PARTIAL, INCORRECT, NOANSWER
_UNION_TAG = re.compile(r"^(str|int|float|bool|list\[.*\]|dict\[.*\]|none)$")


def _number(value: Any) -> tuple[float | None, str | None]:
    """(number, label) for a score value, by Inspect's ``value_to_float`` rules; a label it cannot read has no number."""
    if isinstance(value, bool):
        return float(value), None
    if isinstance(value, (int, float)):
        return float(value), None
    if isinstance(value, str):
        if value in _LETTERS:
            return _LETTERS[value], value
        low = value.strip().lower()
        if low in ("yes", "true"):
            return 1.0, value
        if low in ("no", "false"):
            return 0.0, value
        try:
            x = float(low)
        except ValueError:
            return None, value
        return (x, None) if math.isfinite(x) else (None, value)
    return None, None


def _read(path: Path) -> Any:
    (log_mod,) = require_extra("inspect", "reading Inspect logs (--from inspect)", "inspect_ai.log")
    from pydantic import ValidationError

    if path.suffix.lower() not in (".eval", ".json"):
        raise BadInput("not an Inspect log: give a .eval or .json file written by `inspect eval`", file=str(path))
    try:
        return log_mod.read_eval_log(str(path))
    except ValidationError as e:
        err = e.errors()[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and _UNION_TAG.match(p))]
        line = None
        if path.suffix.lower() == ".json" and len(loc) >= 2 and loc[0] == "samples" and isinstance(loc[1], int):
            lines = array_lines(path.read_text(encoding="utf-8", errors="replace"), ["samples"])
            line = lines[loc[1]] if loc[1] < len(lines) else None
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        raise BadInput(f"not a valid Inspect log: {err['msg']}", file=str(path), line=line, field=where or None) from None
    except json.JSONDecodeError as e:
        raise BadInput(f"not an Inspect log: invalid JSON: {e.msg}", file=str(path), line=e.lineno) from None
    except Exception as e:  # noqa: BLE001 - Inspect raises many kinds for a file that is not its log
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise BadInput(f"not an Inspect log ({type(e).__name__}: {first})", file=str(path)) from None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [getattr(c, "text", None) or getattr(c, "reasoning", None) or "" for c in content or []]
    return "\n".join(p for p in parts if p)


def _judge_model(spec: Any, score: Any, log: Any) -> str | None:
    """The model that graded a score (Inspect's name), or None when the scorer used no model."""
    params = dict(getattr(spec, "params", None) or {})
    for key in ("model", "grader_model", "judge_model"):
        m = params.get(key)
        if isinstance(m, str) and m:
            return m
        if isinstance(m, list) and m and all(isinstance(x, str) for x in m):
            return ",".join(m)
    grading = (score.metadata or {}).get("grading") if isinstance(score.metadata, dict) else None
    if grading or params.get("model_role"):
        roles = getattr(log.eval, "model_roles", None) or {}
        role = roles.get(params.get("model_role") or "grader")
        return getattr(role, "model", None) or log.eval.model
    return None


class _Raters:
    """One rater per scorer (and judge model), built once."""

    def __init__(self, log: Any, version: str, run: str) -> None:
        self.log, self.version, self.run = log, version, run
        self.specs = {s.name: s for s in (log.results.scores if log.results else [])}
        self.models: dict[str, R.Model] = {}
        self.cache: dict[tuple[str, str | None], R.Rater] = {}

    def __call__(self, name: str, score: Any) -> R.Rater:
        spec = self.specs.get(name)
        judge = _judge_model(spec, score, self.log)
        key = (name, judge)
        if key in self.cache:
            return self.cache[key]
        scorer = getattr(spec, "scorer", None) or name
        params = dict(getattr(spec, "params", None) or {})
        config = {"source": "inspect", "scorer": scorer, "params": params, "task": self.log.eval.task}
        rname = f"inspect/{name}"
        if judge is None:
            rater = R.Rater(id=R.Rater.make_id("program", rname, self.version, params), kind="program",
                            name=rname, program_version=f"inspect_ai {self.version}"[:50], config=config)
        else:
            mid = model_id(judge, self.run)
            self.models.setdefault(mid, R.Model(id=mid, provider="none"))
            rater = R.Rater(id=R.Rater.make_id("llm", rname, mid, params), kind="llm", name=rname, model=mid,
                            config=config)
        self.cache[key] = rater
        return rater


def _scores(sample: Any, raters: _Raters) -> list[Score]:
    out = []
    for name, sc in (sample.scores or {}).items():
        values = sc.value.items() if isinstance(sc.value, dict) else [(None, sc.value)]
        for key, v in values:
            full = name if key is None else f"{name}/{key}"
            if isinstance(v, (list, dict)) or v is None:
                raise SampleError(f"scores.{full}.value", f"a score value must be a number, a boolean or a "
                                                          f"label, got {type(v).__name__}")
            number, label = _number(v)
            rater = raters(name, sc)
            spec = raters.specs.get(name)
            about = f"Inspect scorer '{getattr(spec, 'scorer', None) or name}'" + (f", value '{key}'" if key else "")
            detail: dict[str, Any] = {"answer": sc.answer}
            if sc.metadata:
                detail["metadata"] = sc.metadata
            out.append(Score(rater=rater, name=full, value=v, number=number, label=label,
                             justification=sc.explanation or "", detail=detail, about=about))
    return out


def _sample(sample: Any, log: Any, raters: _Raters, run: str, file: str) -> Sample:
    inp = sample.input
    prompt, messages = None, None
    if isinstance(inp, str):
        prompt = inp
    else:
        messages = []
        for i, m in enumerate(inp):
            role = getattr(m, "role", None)
            if role not in ROLES:
                raise SampleError(f"input[{i}].role", f"role must be one of {sorted(ROLES)}, got {role!r}")
            messages.append({"role": role, "content": _text(m.content)})
    if not prompt and not messages:
        raise SampleError("input", "the sample has no input")
    target = sample.target
    refs = [target] if isinstance(target, str) else list(target or [])
    meta: dict[str, Any] = dict(sample.metadata or {})
    if len(refs) > 1:
        meta["references"] = refs
    if sample.choices:
        meta["choices"] = list(sample.choices)
    out = sample.output
    text = out.completion if out is not None and (out.choices or out.completion) else None
    rfields: dict[str, Any] = {}
    if out is not None:
        if out.usage is not None:
            rfields.update(prompt_tokens=out.usage.input_tokens, completion_tokens=out.usage.output_tokens)
        if getattr(out, "time", None) is not None:
            rfields["latency_ms"] = out.time * 1000
        if out.choices:
            rfields["finish_reason"] = str(out.choices[0].stop_reason)[:50]
    rmeta = {"source": "inspect", "log": Path(file).name, "task": log.eval.task, "task_id": log.eval.task_id,
             "run_id": run, "sample_id": sample.id, "epoch": sample.epoch}
    if sample.error is not None:
        rmeta["error"] = sample.error.message
    return Sample(
        external_id=str(sample.id) if sample.id is not None else None, prompt=prompt, messages=messages,
        text=text, model=model_id(log.eval.model, run), sample_index=max(0, int(sample.epoch) - 1),
        reference=refs[0] if refs else None, item_metadata=meta, response_fields=rfields, response_metadata=rmeta,
        scores=_scores(sample, raters) if text is not None else [])


def read(path: str | Path) -> PeerLog:
    """An Inspect log as a :class:`PeerLog` (its samples are read as they are asked for)."""
    path = Path(path)
    if not path.exists():
        raise BadInput("no such file", file=str(path))
    log = _read(path)
    if not log.samples:
        raise BadInput(f"the log holds no samples (status {log.status}); was it written with --no-log-samples?",
                       file=str(path), field="samples")
    run = log.eval.run_id or log.eval.eval_id
    version = str((log.eval.packages or {}).get("inspect_ai", "unknown"))
    raters = _Raters(log, version, run)
    lines = array_lines(path.read_text(encoding="utf-8", errors="replace"), ["samples"]) \
        if path.suffix.lower() == ".json" else None

    def samples():  # noqa: ANN202
        for i, s in enumerate(log.samples):
            where = ("line", lines[i]) if lines and i < len(lines) else ("row", i + 1)
            try:
                yield where, _sample(s, log, raters, run, str(path))
            except SampleError as e:
                e.field = f"samples[{i}].{e.field}" if e.field else f"samples[{i}]"
                yield where, e

    status = "" if log.status == "success" else f" (status {log.status})"
    return PeerLog(source="inspect", file=str(path), task=log.eval.task,
                   about=f"Inspect task {log.eval.task}, run {run} of {log.eval.model}{status}", samples=samples(),
                   models=raters.models)
