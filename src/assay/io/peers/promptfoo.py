"""promptfoo results (``promptfoo eval -o results.json``): prompts, outputs, and assertion results with reasons.

Each result (a test's vars rendered into one prompt, answered by one provider) gives an
item, matched by the rendered prompt's content (a chat prompt written as JSON becomes chat
messages), with the test's vars and description in its metadata, and a response of the
provider (its label, else its id, as ``NAME@EVAL``: the eval id is its version). Each
assertion's result becomes a judgment: pass or fail (its score in the detail) with the
assertion's reason, on the dimension named by the assertion's metric, else its type. A
model-graded assertion (``llm-rubric``, ``factuality``, ``g-eval``, ...) is an LLM judge's,
by the grading provider the config named (``promptfoo-default-grader`` when none); the
others are programs'. A result that errored without an output keeps its item, counted as failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assay import records as R
from assay.errors import BadInput
from assay.io.jsonlines import array_lines
from assay.io.peers._common import PeerLog, Sample, SampleError, Score, model_id

MODEL_GRADED = {"llm-rubric", "model-graded-closedqa", "model-graded-factuality", "factuality", "g-eval",
                "answer-relevance", "context-faithfulness", "context-recall", "context-relevance", "select-best",
                "search-rubric", "conversation-relevance", "pi", "classifier"}
"""Assertion types whose verdict comes from a model (their `not-` forms too)."""
DEFAULT_GRADER = "promptfoo-default-grader"
_ROLES = {"system", "user", "assistant", "tool", "developer"}


def _load(path: Path) -> tuple[str, dict[str, Any]]:
    if not path.exists():
        raise BadInput("no such file", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BadInput(f"invalid UTF-8 at offset {e.start}", file=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadInput(f"invalid JSON: {e.msg} at column {e.colno}", file=str(path), line=e.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise BadInput("not promptfoo results: expected an object with 'results' (promptfoo eval -o FILE.json)",
                       file=str(path), field="results")
    if not isinstance(data["results"].get("results"), list):
        raise BadInput("not promptfoo results (version 3 or later): 'results.results' is not a list",
                       file=str(path), field="results.results")
    return text, data


def _provider_name(p: Any) -> str | None:
    if isinstance(p, str):
        return p
    if isinstance(p, dict):
        return p.get("label") or p.get("id")
    return None


def _grader(assertion: dict[str, Any], test: dict[str, Any], default_test: dict[str, Any]) -> str:
    for src in (assertion, test.get("options") or {}, default_test.get("options") or {}):
        name = _provider_name(src.get("provider"))
        if name:
            return name
    return DEFAULT_GRADER


def _prompt(raw: Any) -> tuple[str | None, list[dict[str, str]] | None]:
    if not isinstance(raw, str) or not raw:
        raise SampleError("prompt.raw", "missing: the prompt as sent")
    if raw.lstrip().startswith("[{"):
        try:
            msgs = json.loads(raw)
        except json.JSONDecodeError:
            msgs = None
        if isinstance(msgs, list) and msgs and all(
                isinstance(m, dict) and m.get("role") in _ROLES and isinstance(m.get("content"), str) for m in msgs):
            return None, [{"role": m["role"], "content": m["content"]} for m in msgs]
    return raw, None


class _Raters:
    def __init__(self, version: str, eval_id: str, default_test: dict[str, Any]) -> None:
        self.version, self.eval_id, self.default_test = version, eval_id, default_test
        self.models: dict[str, R.Model] = {}

    def __call__(self, assertion: dict[str, Any], test: dict[str, Any]) -> R.Rater:
        kind = str(assertion.get("type"))
        name = f"promptfoo/{kind}"
        ident = {k: assertion.get(k) for k in ("type", "value", "threshold", "metric") if assertion.get(k) is not None}
        config = {"source": "promptfoo", "assertion": ident}
        if kind.removeprefix("not-") in MODEL_GRADED:
            judge = model_id(_grader(assertion, test, self.default_test), self.eval_id)
            self.models.setdefault(judge, R.Model(id=judge, provider="none"))
            return R.Rater(id=R.Rater.make_id("llm", name, judge, ident), kind="llm", name=name, model=judge,
                           config=config)
        return R.Rater(id=R.Rater.make_id("program", name, self.version, ident), kind="program", name=name,
                       program_version=f"promptfoo results v{self.version}"[:50], config=config)


def _scores(result: dict[str, Any], raters: _Raters) -> list[Score]:
    grading = result.get("gradingResult")
    if grading is None:
        return []
    if not isinstance(grading, dict):
        raise SampleError("gradingResult", f"expected an object, got {type(grading).__name__}")
    parts = grading.get("componentResults") or []
    if not isinstance(parts, list):
        raise SampleError("gradingResult.componentResults", "expected a list")
    test = result.get("testCase") if isinstance(result.get("testCase"), dict) else {}
    out = []
    for i, part in enumerate(parts):
        where = f"gradingResult.componentResults[{i}]"
        if not isinstance(part, dict):
            raise SampleError(where, "expected an object")
        assertion = part.get("assertion")
        if not isinstance(assertion, dict) or not isinstance(assertion.get("type"), str):
            if part.get("componentResults"):  # an assert-set: its own parts carry the assertions
                continue
            raise SampleError(f"{where}.assertion", "missing: which assertion this result is of")
        passed = part.get("pass")
        if not isinstance(passed, bool):
            raise SampleError(f"{where}.pass", f"expected true or false, got {passed!r}")
        meta = part.get("metadata") if isinstance(part.get("metadata"), dict) else {}
        detail: dict[str, Any] = {"score": part.get("score"), "assertion": assertion}
        if meta.get("renderedAssertionValue") is not None:
            detail["rendered_value"] = meta["renderedAssertionValue"]
        name = assertion.get("metric") or assertion["type"]
        out.append(Score(rater=raters(assertion, test), name=str(name), value=passed, number=float(passed),
                         justification=str(part.get("reason") or ""), detail=detail,
                         about=f"promptfoo assertion '{assertion['type']}'" + (
                             f" (metric {assertion['metric']})" if assertion.get("metric") else "")))
    return out


def _sample(result: dict[str, Any], raters: _Raters, eval_id: str, file: str) -> Sample:
    prompt = result.get("prompt") if isinstance(result.get("prompt"), dict) else {}
    text_prompt, messages = _prompt(prompt.get("raw"))
    provider = _provider_name(result.get("provider"))
    if not provider:
        raise SampleError("provider", "missing: which provider answered")
    response = result.get("response") if isinstance(result.get("response"), dict) else None
    output = response.get("output") if response else None
    if output is not None and not isinstance(output, str):
        output = json.dumps(output, ensure_ascii=False)
    test = result.get("testCase") if isinstance(result.get("testCase"), dict) else {}
    meta: dict[str, Any] = {}
    if isinstance(result.get("vars"), dict):
        meta["vars"] = result["vars"]
    if test.get("description"):
        meta["description"] = test["description"]
    if prompt.get("label"):
        meta["prompt_template"] = prompt["label"]
    rfields: dict[str, Any] = {}
    usage = (response or {}).get("tokenUsage") or {}
    if isinstance(usage.get("prompt"), int):
        rfields["prompt_tokens"] = usage["prompt"]
    if isinstance(usage.get("completion"), int):
        rfields["completion_tokens"] = usage["completion"]
    if isinstance(result.get("latencyMs"), (int, float)):
        rfields["latency_ms"] = float(result["latencyMs"])
    if isinstance(result.get("cost"), (int, float)):
        rfields["cost_usd"] = float(result["cost"])
    finish = (response or {}).get("finishReason")
    if isinstance(finish, str):
        rfields["finish_reason"] = finish[:50]
    rmeta = {"source": "promptfoo", "log": Path(file).name, "eval_id": eval_id, "result_id": result.get("id"),
             "test_index": result.get("testIdx"), "prompt_index": result.get("promptIdx"),
             "success": result.get("success")}
    if result.get("error") and output is None:
        rmeta["error"] = str(result["error"])
    return Sample(external_id=None, prompt=text_prompt, messages=messages, text=output,
                  model=model_id(provider, eval_id), item_metadata=meta, response_fields=rfields,
                  response_metadata=rmeta, scores=_scores(result, raters) if output is not None else [])


def read(path: str | Path) -> PeerLog:
    """promptfoo's results JSON as a :class:`PeerLog` (see the module's docstring for what becomes what)."""
    path = Path(path)
    text, data = _load(path)
    results = data["results"]["results"]
    if not results:
        raise BadInput("the results hold no results", file=str(path), field="results.results")
    eval_id = str(data.get("evalId") or data["results"].get("timestamp") or path.stem)
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    default_test = config.get("defaultTest") if isinstance(config.get("defaultTest"), dict) else {}
    raters = _Raters(str(data["results"].get("version", "?")), eval_id, default_test)
    lines = array_lines(text, ["results", "results"])
    desc = config.get("description")
    task = desc if isinstance(desc, str) and desc.strip() and len(desc) <= 120 else "promptfoo"

    def samples():  # noqa: ANN202
        for i, r in enumerate(results):
            where = ("line", lines[i]) if i < len(lines) else ("row", i + 1)
            if not isinstance(r, dict):
                yield where, SampleError(f"results.results[{i}]", f"expected an object, got {type(r).__name__}")
                continue
            try:
                yield where, _sample(r, raters, eval_id, str(path))
            except SampleError as e:
                e.field = f"results.results[{i}].{e.field}" if e.field else f"results.results[{i}]"
                yield where, e

    return PeerLog(source="promptfoo", file=str(path), task=task, about=f"promptfoo eval {eval_id}",
                   samples=samples(), models=raters.models)
