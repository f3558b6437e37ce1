"""lm-evaluation-harness output: ``results_TS.json`` and the ``samples_TASK_TS.jsonl`` that ``--log_samples`` writes.

Give the results file (its samples files are found beside it by the run's timestamp), one
samples file (its results file is found the same way: it names the model), or the folder
holding one run. Each document (``doc_id``) of a task becomes an item of the dataset named
after the task: the prompt exactly as the model got it (chat messages when a chat template
was applied), the target as the reference, the document in the metadata. The model's
answers become responses (``repeats`` gives samples 0..k-1): the generated text; for
multiple choice and log-likelihood tasks, the continuation the model scored highest (what
``acc`` checks), with every choice's log-likelihood in the metadata. Each per-sample metric
becomes a judgment by the task's program rater on the first sample; a filter other than
``none`` names its own dimension (``exact_match-strict-match``), and the filtered answer it
judged is in the detail. The model is ``MODEL@TS`` unless ``--model`` renames it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from assay import records as R
from assay.errors import BadInput
from assay.io.peers._common import PeerLog, Sample, SampleError, Score, model_id
from assay.io.readers import Where

_RESULTS = re.compile(r"^results_(?P<ts>.+)\.json$")
_SAMPLES = re.compile(r"^samples_(?P<task>.+)_(?P<ts>[^_]+)\.jsonl$")
_ROLES = {"system", "user", "assistant", "tool", "developer"}


def _files(path: Path) -> tuple[Path, list[tuple[str, Path]]]:
    """The run's results file and its (task, samples file) pairs."""
    if not path.exists():
        raise BadInput("no such file", file=str(path))
    if path.is_dir():
        found = sorted(path.glob("results_*.json"))
        if len(found) != 1:
            raise BadInput(f"expected one lm-eval results_*.json in the folder, found {len(found)}: give the file",
                           file=str(path))
        path = found[0]
    m = _RESULTS.match(path.name)
    if m is None:
        s = _SAMPLES.match(path.name)
        if s is None:
            raise BadInput("not lm-eval output: expected results_TIMESTAMP.json or samples_TASK_TIMESTAMP.jsonl",
                           file=str(path))
        results = path.with_name(f"results_{s['ts']}.json")
        if not results.exists():
            raise BadInput(f"lm-eval's {results.name} (it names the model) is not beside the samples file",
                           file=str(path))
        return results, [(s["task"], path)]
    ts = m["ts"]
    pairs = []
    for f in sorted(path.parent.glob(f"samples_*_{ts}.jsonl")):
        s = _SAMPLES.match(f.name)
        if s is not None and s["ts"] == ts:
            pairs.append((s["task"], f))
    if not pairs:
        raise BadInput(f"no samples_*_{ts}.jsonl beside the results: run lm_eval with --log_samples",
                       file=str(path))
    return path, pairs


def _load_results(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise BadInput(f"invalid UTF-8 at offset {e.start}", file=str(path)) from None
    except json.JSONDecodeError as e:
        raise BadInput(f"invalid JSON: {e.msg}", file=str(path), line=e.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("configs"), dict):
        raise BadInput("not an lm-eval results file: no 'configs'", file=str(path), field="configs")
    return data


def _model_name(res: dict[str, Any], file: str) -> str:
    name = res.get("model_name")
    if not name:
        args = (res.get("config") or {}).get("model_args")
        if isinstance(args, str):
            args = dict(kv.split("=", 1) for kv in args.split(",") if "=" in kv)
        name = (args or {}).get("pretrained") or (args or {}).get("model")
    if not isinstance(name, str) or not name:
        raise BadInput("the results name no model (model_name, config.model_args)", file=file, field="model_name")
    return name


def _prompt(arg0: Any, fieldname: str) -> tuple[str | None, list[dict[str, str]] | None]:
    if isinstance(arg0, list) and len(arg0) == 1:
        arg0 = arg0[0]  # a chat prompt: lm-eval logs its JSON text inside a list
    if not isinstance(arg0, str):
        raise SampleError(fieldname, f"expected the prompt as text, got {type(arg0).__name__}")
    if arg0.startswith("[{"):
        try:
            msgs = json.loads(arg0)
        except json.JSONDecodeError:
            msgs = None
        if isinstance(msgs, list) and msgs and all(
                isinstance(m, dict) and m.get("role") in _ROLES and isinstance(m.get("content"), str) for m in msgs):
            return None, [{"role": m["role"], "content": m["content"]} for m in msgs]
    return arg0, None


def _args(row: dict[str, Any]) -> list[list[Any]]:
    """The request arguments, one list per request (gen_args_0, gen_args_1, ...), in order."""
    args = row.get("arguments")
    if not isinstance(args, dict) or not args:
        raise SampleError("arguments", "missing: the request lm-eval sent")
    out = []
    for i in range(len(args)):
        a = args.get(f"gen_args_{i}")
        if not isinstance(a, dict) or "arg_0" not in a:
            raise SampleError(f"arguments.gen_args_{i}", "missing")
        out.append([a.get(f"arg_{k}") for k in range(len(a))])
    return out


def _answers(row: dict[str, Any], output_type: str, args: list[list[Any]]) -> tuple[list[str], dict[str, Any]]:
    """The model's answers (one per repeat) and what else its output says."""
    resps = row.get("resps")
    if not isinstance(resps, list) or not resps:
        raise SampleError("resps", "missing: the model's outputs")
    if output_type == "generate_until":
        first = resps[0]
        texts = first if isinstance(first, list) else [first]
        if not texts or not all(isinstance(t, str) for t in texts):
            raise SampleError("resps[0]", "expected the generated texts")
        return texts, {}
    if output_type in ("multiple_choice", "loglikelihood"):
        lls = []
        for i, r in enumerate(resps):
            r = r[0] if isinstance(r, list) and r and isinstance(r[0], list) else r
            if not (isinstance(r, list) and r and isinstance(r[0], (int, float))):
                raise SampleError(f"resps[{i}]", "expected [log-likelihood, is_greedy]")
            lls.append(float(r[0]))
        conts = [a[1] if len(a) > 1 and isinstance(a[1], str) else "" for a in args]
        best = max(range(len(lls)), key=lls.__getitem__)
        return [conts[best].strip() if output_type == "multiple_choice" else conts[best]], \
            {"choices": conts, "loglikelihoods": lls, "chosen": best}
    raise SampleError("resps", f"lm-eval output type {output_type!r} has no answers to import")


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) or isinstance(v, bool)


def _doc_samples(rows: list[tuple[Where, dict[str, Any]]], task: str, conf: dict[str, Any], model: str,
                 rater: R.Rater, lower: dict[str, bool]) -> list[Sample]:
    output_type = conf.get("output_type", "generate_until")
    where, first = rows[0]
    args = _args(first)
    prompt, messages = _prompt(args[0][0], "arguments.gen_args_0.arg_0")
    texts, extra = _answers(first, output_type, args)
    target = first.get("target")
    if isinstance(target, int) and not isinstance(target, bool) and extra.get("choices") \
            and 0 <= target < len(extra["choices"]):
        reference = extra["choices"][target].strip()
    elif isinstance(target, (str, int, float)) and not isinstance(target, bool):
        reference = str(target)
    else:
        reference = None
    meta = {k: first[k] for k in ("doc", "doc_hash", "prompt_hash", "target_hash") if k in first}
    meta["lm_eval_task"] = task
    if isinstance(target, list):
        meta["references"] = target
    scores = []
    for _, row in rows:
        filt = row.get("filter", "none")
        names = row.get("metrics")
        if not isinstance(names, list):
            raise SampleError("metrics", "missing: the names of the per-sample metrics")
        for name in names:
            if name not in row:
                raise SampleError(name, "a metric named in 'metrics' has no value")
            v = row[name]
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                continue  # lm-eval could not compute it for this document
            if not _finite(v):
                raise SampleError(name, f"expected a number, got {type(v).__name__}")
            full = name if filt in (None, "none") else f"{name}-{filt}"
            detail: dict[str, Any] = {"filter": filt, "filtered_response": row.get("filtered_resps")}
            if len(texts) > 1:
                detail["over_repeats"] = len(texts)
            scores.append(Score(rater=rater, name=full, value=v, number=float(v), detail=detail,
                                about=f"lm-eval metric '{name}'" + (f" after filter '{filt}'" if full != name else ""),
                                lower_is_better=lower.get(name) is False))
    out = []
    for k, text in enumerate(texts):
        out.append(Sample(
            external_id=str(first.get("doc_id")), prompt=prompt, messages=messages, text=text, model=model,
            sample_index=k, reference=reference, item_metadata=meta,
            response_metadata={"source": "lm-eval", "task": task, "doc_id": first.get("doc_id"), **extra},
            scores=scores if k == 0 else []))
    return out


def _read_lines(path: Path) -> list[tuple[Where, dict[str, Any] | SampleError]]:
    out: list[tuple[Where, dict[str, Any] | SampleError]] = []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                out.append((("line", n), SampleError(None, f"invalid UTF-8 at column {e.start + 1}")))
                continue
            except json.JSONDecodeError as e:
                out.append((("line", n), SampleError(None, f"invalid JSON: {e.msg} at column {e.colno}")))
                continue
            if not isinstance(row, dict):
                out.append((("line", n), SampleError(None, f"expected a JSON object, got {type(row).__name__}")))
                continue
            if not isinstance(row.get("doc_id"), int) or isinstance(row.get("doc_id"), bool):
                out.append((("line", n), SampleError("doc_id", "missing: each sample has its document's index")))
                continue
            out.append((("line", n), row))
    if not out:
        raise BadInput("empty file: no samples", file=str(path))
    return out


def read(path: str | Path) -> PeerLog:
    """One lm-eval run as a :class:`PeerLog` (see the module's docstring for what becomes what)."""
    results_path, pairs = _files(Path(path))
    res = _load_results(results_path)
    named = _RESULTS.match(results_path.name)
    if named is None:  # _files picks only files named so
        raise BadInput("an lm-eval results file is named results_<time>.json", file=str(results_path))
    ts = named["ts"]
    model = model_id(_model_name(res, str(results_path)), ts)
    version = str(res.get("lm_eval_version") or "unknown")
    tasks = [t for t, _ in pairs]
    files = {t: p for t, p in pairs}
    shown = pairs[0][1] if len(pairs) == 1 else results_path

    def samples():  # noqa: ANN202
        for task, f in pairs:
            conf = res["configs"].get(task)
            if not isinstance(conf, dict):
                raise BadInput(f"the results have no config for task {task!r}", file=str(results_path),
                               field=f"configs.{task}")
            rater = R.Rater(
                id=R.Rater.make_id("program", f"lm-eval/{task}", version, (res.get("versions") or {}).get(task),
                                   conf.get("metric_list")),
                kind="program", name=f"lm-eval/{task}", program_version=f"lm_eval {version}"[:50],
                config={"source": "lm-eval", "task": task, "task_version": (res.get("versions") or {}).get(task),
                        "metric_list": conf.get("metric_list"), "output_type": conf.get("output_type"),
                        "n_shot": (res.get("n-shot") or {}).get(task),
                        "task_hash": (res.get("task_hashes") or {}).get(task)})
            lower = (res.get("higher_is_better") or {}).get(task) or {}
            docs: dict[int, list[tuple[Where, dict[str, Any]]]] = {}
            for where, row in _read_lines(files[task]):
                if isinstance(row, SampleError):
                    row.file = str(files[task])
                    yield where, row
                    continue
                docs.setdefault(row["doc_id"], []).append((where, row))
            for rows in docs.values():
                try:
                    built = _doc_samples(rows, task, conf, model, rater, lower)
                except SampleError as e:
                    e.file = str(files[task])
                    yield rows[0][0], e
                    continue
                for s in built:
                    s.task, s.file = task, str(files[task])
                    yield rows[0][0], s

    return PeerLog(source="lm-eval", file=str(shown), task=tasks[0] if len(tasks) == 1 else "+".join(tasks),
                   about=f"lm-evaluation-harness run {ts} of {model.rsplit('@', 1)[0]} on {', '.join(tasks)}",
                   samples=samples())
