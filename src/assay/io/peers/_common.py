"""What the peer-log readers share: the samples they read, the scales scores become, one transaction.

A reader turns its tool's log into :class:`Sample` s (a prompt, one model's answer, the
scores that answer got), each with the place it came from. :func:`write_log` turns them
into items, responses, raters, a rubric with one dimension per score and judgments, and
writes them all in one transaction. A sample the reader cannot use is a :class:`SampleError`;
it stops the import with one line naming file, line (or row) and field, or with
``OnInvalid(skip=True)`` goes to the rejects file with its reason.

Scores have no rubric in these tools, so each log gets one: ``SOURCE.TASK`` (e.g.
``inspect.capitals``), a dimension per scorer or metric, its scale read from the values:
binary when every value is 0/1 (Inspect's C/I, a pass/fail), categorical for labels (C, P,
I, N keep their numbers as values), continuous otherwise. A later log of the same task
reuses a stored version whose dimensions include its own, else adds the next version.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay import records as R
from assay.errors import BadInput
from assay.io.guard import Unsafe, check_value
from assay.io.importer import ImportSummary, OnInvalid, _Rejects, rejects_writer
from assay.io.readers import Where
from assay.store import Store

WIDE = 1e12  # bounds of a continuous scale whose range the tool does not give


class SampleError(Exception):
    """A sample that cannot be imported: the field at fault (a dotted path) and why."""

    def __init__(self, fieldname: str | None, reason: str, *, file: str | None = None) -> None:
        super().__init__(reason)
        self.field, self.reason, self.file = fieldname, reason, file


@dataclass
class Score:
    """One score a tool gave one answer: by which rater, under which name, its value and its reasons."""

    rater: R.Rater
    name: str
    """The tool's name for it (scorer, metric, assertion): becomes a rubric dimension."""
    value: Any
    """As the tool gave it (kept in the judgment's detail)."""
    number: float | None
    """The tool's own numeric reading of the value (Inspect's C = 1, P = 0.5; a pass = 1), None for a pure label."""
    label: str | None = None
    """The value when it is a label (C, I, a category), else None."""
    justification: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    about: str = ""
    """What the score measures, for the dimension's description."""
    lower_is_better: bool = False


@dataclass
class Sample:
    """One answer to one prompt in a peer tool's log, with its scores."""

    external_id: str | None
    prompt: str | None
    messages: list[dict[str, str]] | None
    text: str | None
    """The answer; None when the tool's call failed (the item is kept, the sample counted as failed)."""
    model: str
    sample_index: int = 0
    reference: str | None = None
    item_metadata: dict[str, Any] = field(default_factory=dict)
    response_fields: dict[str, Any] = field(default_factory=dict)
    """prompt_tokens, completion_tokens, latency_ms, cost_usd, finish_reason, when the tool recorded them."""
    response_metadata: dict[str, Any] = field(default_factory=dict)
    scores: list[Score] = field(default_factory=list)
    task: str | None = None
    """The task it belongs to, when a log holds several (else the log's task)."""
    file: str | None = None
    """The file it was read from, when a log spans several files (else the log's file)."""


@dataclass
class PeerLog:
    """What a reader found in a log: where the samples come from, and the samples themselves."""

    source: str
    """inspect, lm-eval or promptfoo."""
    file: str
    task: str
    """The task (dataset default, and the rubric's name after the source)."""
    about: str
    """One line on where the log came from, for the rubric's description and the dataset's."""
    samples: Iterable[tuple[Where, Sample | SampleError]]
    models: dict[str, R.Model] = field(default_factory=dict)
    """Models other than the answering ones that the raters name (LLM judges)."""


@dataclass
class PeerImportSummary(ImportSummary):
    failed: int = 0
    """Samples whose answer the tool did not get (an error in its run): their items are stored, no response."""
    judgments_added: int = 0
    rubrics: list[str] = field(default_factory=list)
    raters: list[str] = field(default_factory=list)


def model_id(name: str, version: str) -> str:
    """``name@version`` (a name that already carries an @ keeps it: the version follows the last one)."""
    return f"{name}@{version}"


def check_model(model: str, param: str) -> str:
    try:
        R.split_model_id(model)
    except ValueError as e:
        raise BadInput(str(e), param=param) from None
    if len(model) > 300:
        raise BadInput(f"a model id has at most 300 characters, this one {len(model)}", param=param)
    return model


_NOT_NAME = re.compile(r"[^a-z0-9_\-]+")


def dimension_name(name: str, taken: set[str]) -> str:
    """A rubric dimension name for a tool's score name (lower case, letters, digits, _ and -), unique in ``taken``."""
    base = _NOT_NAME.sub("-", name.lower()).strip("-") or "score"
    if not base[0].isalpha():
        base = f"m-{base}"
    base = base[:90]
    out, n = base, 2
    while out in taken:
        out, n = f"{base}-{n}", n + 1
    return out


def rubric_name(source: str, task: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-\.]+", "-", f"{source}.{task}").strip("-")[:200]


def _scale(scores: list[Score]) -> R.Scale:
    """The scale a score's values lie on (see the module's docstring)."""
    if any(s.number is None for s in scores):
        cats = sorted({s.label if s.label is not None else str(s.value) for s in scores})
        if len(cats) < 2:
            cats.append("(other)")
        return R.Scale(kind="categorical", categories=[R.Category(name=c[:200]) for c in cats])
    numbers = {s.number for s in scores if s.number is not None}  # every score has one: see above
    labels = {s.label for s in scores} - {None}
    if numbers <= {0.0, 1.0}:
        true = next((s.label for s in scores if s.number == 1.0 and s.label), "pass")
        false = next((s.label for s in scores if s.number == 0.0 and s.label), "fail")
        if true == false:
            true, false = "pass", "fail"
        return R.Scale(kind="binary", true_label=true, false_label=false)
    if labels:
        # Inspect's letters with a partial or no answer: keep the letters, each with its number
        order = sorted(labels, key=lambda lab: -max(s.number for s in scores
                                                    if s.label == lab and s.number is not None))
        return R.Scale(kind="categorical", categories=[R.Category(name=c[:200]) for c in order])
    lo, hi = min(numbers), max(numbers)
    if 0.0 <= lo and hi <= 1.0:
        return R.Scale(kind="continuous", min=0.0, max=1.0)
    return R.Scale(kind="continuous", min=-WIDE, max=WIDE)


def _point(scale: R.Scale, s: Score) -> tuple[float | None, str | None]:
    if scale.kind == "binary":
        return s.number, (scale.true_label if s.number == 1.0 else scale.false_label)
    if scale.kind == "categorical":
        return s.number, (s.label if s.label is not None else str(s.value))[:200]
    return s.number, None


def choose_rubric(store: Store, name: str, description: str, dims: list[R.Dimension]) -> tuple[R.Rubric, bool]:
    """The stored version of ``name`` whose dimensions include ``dims`` as they are, else the next version (new)."""
    version = 1
    while (old := store.find(R.Rubric, name, version)) is not None:
        have = {d.name: d for d in old.dimensions}
        if all(have.get(d.name) == d for d in dims):
            return old, False
        version += 1
    guidelines = ("Imported scores; each dimension is one score of the tool, on the scale its values showed. "
                  "See each rater's name and configuration.")
    return R.Rubric(name=name, version=version, description=description, guidelines=guidelines,
                    dimensions=dims), True


def _fail(file: str, where: Where, e: SampleError) -> BadInput:
    return BadInput(e.reason, file=e.file or file, field=e.field, **{where[0]: where[1]})


def write_log(
    store: Store,
    log: PeerLog,
    *,
    dataset: str | None = None,
    model: str | None = None,
    on_invalid: OnInvalid = OnInvalid(),
) -> PeerImportSummary:
    """Store a peer log's samples as items, responses and judgments, in one transaction.

    ``model`` (NAME@VERSION) renames the log's one answering model; ``dataset`` names the
    dataset (default: each sample's task).
    """
    if dataset is not None and len(dataset) > 200:
        raise BadInput(f"a dataset name has at most 200 characters, this one {len(dataset)}", param="dataset")
    if model is not None:
        check_model(model, "model")
    path = Path(log.file)
    summary = PeerImportSummary(file=log.file, dataset=dataset or log.task)
    rejects = rejects_writer(on_invalid, path.with_name(path.name + ".rejects.jsonl"))
    try:
        good: list[tuple[Where, Sample]] = []
        for where, s in log.samples:
            summary.rows += 1
            if isinstance(s, SampleError):
                if rejects is None:
                    raise _fail(log.file, where, s)
                rejects.file = s.file
                rejects.add(where, s.field, s.reason, None)
                continue
            good.append((where, s))
        answering = sorted({s.model for _, s in good})
        if model is not None and len(answering) > 1:
            raise BadInput(f"the log holds answers of {len(answering)} models ({', '.join(answering)}): "
                           f"--model can rename only one", param="model", file=log.file)
        tasks = sorted({s.task or log.task for _, s in good})
        if dataset is not None and len(tasks) > 1:
            raise BadInput(f"the log holds {len(tasks)} tasks ({', '.join(tasks)}), each its own dataset: "
                           f"leave out --dataset", param="dataset", file=log.file)
        rename = (lambda m: model) if model is not None else (lambda m: m)
        records = _records(store, log, dataset, good, rename, rejects, summary)
        before = {k: store.count(k) for k in ("items", "responses", "judgments")}
        with store.transaction() as conn:
            store.add(records["datasets"], conn)
            store.add(records["models"], conn)
            store.add(records["raters"], conn)
            store.add(records["rubrics"], conn)
            store.add(records["items"], conn)
            store.add(records["responses"], conn)
            store.add(records["judgments"], conn)
    finally:
        if rejects is not None:
            rejects.close()
    summary.items_added = store.count("items") - before["items"]
    summary.responses_added = store.count("responses") - before["responses"]
    summary.judgments_added = summary.records_added = store.count("judgments") - before["judgments"]
    summary.rejected = rejects.count if rejects else 0
    summary.rejects_file = str(rejects.path) if rejects and rejects.count else None
    summary.models = sorted({rename(m) for m in answering})
    summary.raters = sorted({r.id for r in records["raters"]})
    summary.rubrics = sorted(r.id for r in records["used_rubrics"])
    summary.dataset = ", ".join(sorted({d.name for d in records["datasets"]})) or summary.dataset
    summary.duplicates = len(records["responses"]) - summary.responses_added
    return summary


def _rubrics(store: Store, log: PeerLog, good: list[tuple[Where, Sample]]
             ) -> tuple[dict[tuple[str, str, str], tuple[R.Rubric, R.Dimension]], list[R.Record], list[R.Rubric]]:
    """A rubric per task, a dimension per score name, in order of first appearance.

    Returns (task, rater, score name) -> (rubric, dimension), the records of new rubrics,
    and every rubric used.
    """
    by_task: dict[str, dict[str, list[Score]]] = {}
    names: dict[tuple[str, str, str], str] = {}
    for _, s in good:
        task = s.task or log.task
        dims = by_task.setdefault(task, {})
        for sc in s.scores:
            key = (task, sc.rater.id, sc.name)
            if key not in names:
                same = [d for (t, _, n), d in names.items() if t == task and n == sc.name]
                names[key] = same[0] if same else dimension_name(sc.name, set(dims))
                dims.setdefault(names[key], [])
            dims[names[key]].append(sc)
    where: dict[tuple[str, str, str], tuple[R.Rubric, R.Dimension]] = {}
    new: list[R.Record] = []
    used: list[R.Rubric] = []
    for task, dims in by_task.items():
        if not dims:
            continue
        built = [R.Dimension(name=d, description=scs[0].about or f"{log.source} score '{scs[0].name}'",
                             scale=_scale(scs),
                             direction="lower_is_better" if scs[0].lower_is_better else "higher_is_better")
                 for d, scs in dims.items()]
        rubric, is_new = choose_rubric(store, rubric_name(log.source, task),
                                       f"Scores of {log.source} task {task} (imported)", built)
        used.append(rubric)
        if is_new:
            new += [rubric, R.GuidelineVersion(rubric=rubric.id, version=1, text=rubric.guidelines,
                                               note="initial guidelines (imported)")]
        by_name = {d.name: d for d in built}
        for key, d in names.items():
            if key[0] == task:
                where[key] = (rubric, by_name[d])
    return where, new, used


def _records(store: Store, log: PeerLog, dataset: str | None, good: list[tuple[Where, Sample]],
             rename: Callable[[str], str], rejects: _Rejects | None, summary: PeerImportSummary
             ) -> dict[str, list[Any]]:
    """Every record of the import, validated; samples that fail validation are rejected (or raise)."""
    dims, new_rubrics, used = _rubrics(store, log, good)
    out: dict[str, list[Any]] = {k: [] for k in ("datasets", "models", "raters", "items", "responses", "judgments")}
    out["rubrics"], out["used_rubrics"] = new_rubrics, used
    models: dict[str, R.Model] = dict(log.models)
    raters: dict[str, R.Rater] = {}
    datasets: dict[str, R.Dataset] = {}
    now = R.utcnow()

    def reject(where: Where, s: Sample, fieldname: str | None, reason: str) -> None:
        if rejects is None:
            raise BadInput(reason, file=s.file or log.file, field=fieldname, **{where[0]: where[1]})
        rejects.file = s.file
        rejects.add(where, fieldname, reason, None)

    built_all: list[tuple[Where, Sample, str, R.Item, list[R.Response | R.Judgment]]] = []
    for where, s in good:
        task = s.task or log.task
        ds = dataset or task
        try:
            item, rest = _sample_records(s, ds, task, rename, dims, now)
            for rec in (item, *rest):
                check_value(rec.model_dump(mode="json"))
        except SampleError as e:
            reject(where, s, e.field, e.reason)
            continue
        except Unsafe as e:
            reject(where, s, e.path, e.reason)
            continue
        built_all.append((where, s, ds, item, rest))
    clash = _clashes(store, [b[3] for b in built_all])
    for where, s, ds, item, rest in built_all:
        if item.id in clash:
            reject(where, s, "id", f"item {s.external_id!r} of dataset {ds!r} is {clash[item.id]} with another "
                                   f"prompt: name another dataset (--dataset)")
            continue
        if s.text is None:
            summary.failed += 1
        datasets.setdefault(ds, R.Dataset(name=ds, description=log.about, source=s.file or log.file))
        m = rename(s.model)
        models.setdefault(m, R.Model(id=m, provider="none"))
        for sc in s.scores:
            raters.setdefault(sc.rater.id, sc.rater)
            if sc.rater.model:
                models.setdefault(sc.rater.model, R.Model(id=sc.rater.model, provider="none"))
        out["items"].append(item)
        for rec in rest:
            out["responses" if isinstance(rec, R.Response) else "judgments"].append(rec)
    out["datasets"] = list(datasets.values())
    out["models"] = list(models.values())
    out["raters"] = list(raters.values())
    return out


def _clashes(store: Store, items: list[R.Item]) -> dict[str, str]:
    """Item ids whose prompt differs from the same id's elsewhere in this log or in the store, with where."""
    prompt = lambda it: (it.prompt, [m.model_dump() for m in it.messages] if it.messages else None)  # noqa: E731
    seen: dict[str, Any] = {}
    out: dict[str, str] = {}
    for it in items:
        if seen.setdefault(it.id, prompt(it)) != prompt(it):
            out[it.id] = "earlier in this log"
    ids = sorted(seen)
    for i in range(0, len(ids), 500):
        for old in store.iter(R.Item, id=ids[i : i + 500]):
            if prompt(old) != seen[old.id]:
                out.setdefault(old.id, "already stored")
    return out


def _sample_records(s: Sample, dataset: str, task: str, rename: Callable[[str], str],
                    dims: dict[tuple[str, str, str], tuple[R.Rubric, R.Dimension]], now: Any
                    ) -> tuple[R.Item, list[R.Response | R.Judgment]]:
    """A sample's item, and its response with the response's judgments (none when the sample has no answer)."""
    from pydantic import ValidationError

    model = rename(s.model)
    try:
        R.split_model_id(model)
    except ValueError as e:
        raise SampleError("model", str(e)) from None
    try:
        item = R.Item(id=R.Item.make_id(dataset, s.external_id, s.prompt, s.messages), dataset=dataset,
                      external_id=s.external_id, prompt=s.prompt, messages=s.messages, reference=s.reference,
                      metadata=s.item_metadata)
        resp = None if s.text is None else R.Response(
            id=R.Response.make_id(item.id, model, s.sample_index), item_id=item.id, model=model,
            sample_index=s.sample_index, text=s.text, metadata=s.response_metadata, created_at=now,
            **s.response_fields)
    except ValidationError as e:
        err = e.errors()[0]
        raise SampleError(".".join(map(str, err["loc"])) or None, err["msg"]) from None
    if resp is None:
        return item, []
    out: list[R.Response | R.Judgment] = [resp]
    for sc in s.scores:
        rubric, dim = dims[(task, sc.rater.id, sc.name)]
        value, label = _point(dim.scale, sc)
        out.append(R.Judgment(
            id=R.digest("judgment", sc.rater.id, resp.id, rubric.id, dim.name), response_id=resp.id,
            rater_id=sc.rater.id, rubric=rubric.id, dimension=dim.name, value=value, label=label,
            justification=sc.justification or "", detail={"value": sc.value, **sc.detail}, created_at=now))
    return item, out
