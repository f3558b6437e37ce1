"""Argilla, both ways: a campaign as a dataset (settings and records) and Argilla's exports back.

Export (:func:`export_argilla`) writes into a folder:

``.argilla/settings.json``
    The dataset's settings as the Argilla SDK writes them (``rg.Settings.from_json`` reads it):
    text fields for the prompt and the responses (``response``, or ``response_a``,
    ``response_b``, ...), one question per rubric dimension (``RatingQuestion`` for an ordinal
    scale, ``LabelQuestion`` for binary and categorical ones, a ``TextQuestion`` for a number
    on a continuous one), or for comparing a ``LabelQuestion`` ``preference`` (``A>>B`` ...
    ``B>>A``, ``tie``, ``both_bad``) and for ranking a ``RankingQuestion`` ``ranking``; a
    required ``TextQuestion`` for the justification, optional ``flags`` and ``flag_note``; the
    guidelines; hidden metadata ``assay_campaign``, ``assay_task``, ``assay_guideline_version``;
    the campaign's overlap as the task distribution.
``records.jsonl``
    One record per unit, flat (``id``, the fields, the metadata), the shape
    ``dataset.records.log`` takes.

Import (:func:`read_argilla`) reads the dataset exported with its answers, either the Hugging
Face layout (``dataset.to_hub`` / ``records.to_datasets()``: a folder of ``data/*.parquet``
with ``.argilla/settings.json``, a saved dataset folder, or one ``.parquet`` / ``.jsonl``
file; responses in columns ``QUESTION.responses``, ``.responses.users`` and
``.responses.status``), or the SDK's records JSON (``records.to_json`` / ``to_disk``:
records with ``responses: {QUESTION: [{value, user_id}]}``, which carries no status, so every
response in it counts as submitted). A user's answer to a record is imported when all their
responses to it are submitted; drafts and discarded ones are counted and left out. The
annotator is ``argilla-user-UUID`` unless ``annotators`` maps the id to a name. Argilla keeps
no time spent per response.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay import records as R
from assay.annotate.submit import Answer
from assay.annotate.tools.common import (
    FLAG_HINTS,
    PREFERENCES,
    Sheet,
    ToolAnswer,
    control_name,
    iter_list,
    letter,
    rating_help,
)
from assay.errors import BadInput

SOURCE = "argilla"
META = ("assay_campaign", "assay_task", "assay_guideline_version")


# ---- export --------------------------------------------------------------------------------


def _question(name: str, kind: str, settings: dict[str, Any], *, title: str, description: str | None,
              required: bool = True) -> dict[str, Any]:
    return {"id": None, "inserted_at": None, "updated_at": None, "name": name, "settings": {"type": kind, **settings},
            "title": title, "description": description, "required": required, "dataset_id": None, "type": kind}


def _options(labels: dict[str, str]) -> list[dict[str, str]]:
    return [{"text": text, "value": value} for value, text in labels.items()]


def _text_field(name: str, title: str) -> dict[str, Any]:
    return {"id": None, "inserted_at": None, "updated_at": None, "name": name,
            "settings": {"type": "text", "use_markdown": False}, "title": title, "required": True,
            "description": None, "dataset_id": None, "type": "text"}


def _responses_shown(sheet: Sheet) -> int:
    sizes = {len(u.shown) for u in sheet.units}
    if len(sizes) > 1:
        raise BadInput(f"Argilla's ranking question has one fixed set of options, but this campaign's units rank "
                       f"{min(sizes)} to {max(sizes)} responses: make one campaign per size")
    return sizes.pop()


def settings(sheet: Sheet) -> dict[str, Any]:
    """The dataset's settings, in the JSON the Argilla SDK's ``Settings.to_json`` writes."""
    camp = sheet.campaign
    n = _responses_shown(sheet)
    fields = [_text_field("prompt", "Prompt")]
    if camp.kind == "rate":
        fields.append(_text_field("response", "Response"))
    else:
        fields += [_text_field(f"response_{letter(i).lower()}", f"Response {letter(i)}") for i in range(n)]
    questions = []
    if camp.kind == "rate":
        for dim in sheet.dimensions:
            questions.append(_dimension_question(dim))
    elif camp.kind == "compare":
        questions.append(_question("preference", "label_selection",
                                   {"options": _options({k: v[0] for k, v in PREFERENCES.items()}),
                                    "visible_options": None},
                                   title="Which response is better?", description=_overall(sheet)))
    else:
        questions.append(_question("ranking", "ranking",
                                   {"options": _options({letter(i): f"Response {letter(i)}" for i in range(n)})},
                                   title="Order the responses, best first", description=_overall(sheet)))
    need = max(1, camp.min_justification)
    questions.append(_question("justification", "text", {"use_markdown": False}, title="Justification",
                               description="Why? Say what decided your answer."
                               + (f" At least {need} characters." if need > 1 else "")))
    questions.append(_question("flags", "multi_label_selection",
                               {"options": _options(dict(FLAG_HINTS)), "visible_options": None,
                                "options_order": "natural"}, title="Flags (optional)", description=None,
                               required=False))
    questions.append(_question("flag_note", "text", {"use_markdown": False}, title="If you flagged it: what is "
                               "ambiguous or new?", description=None, required=False))
    meta = [{"id": None, "inserted_at": None, "updated_at": None, "name": name,
             "settings": {"visible_for_annotators": False, "type": kind, **extra}, "title": name,
             "visible_for_annotators": False, "dataset_id": None}
            for name, kind, extra in (("assay_campaign", "terms", {"values": None}),
                                      ("assay_task", "terms", {"values": None}),
                                      ("assay_guideline_version", "integer", {"min": None, "max": None}))]
    return {"guidelines": f"Guidelines, version {sheet.guideline_version}\n\n{sheet.guidelines}",
            "questions": questions, "fields": fields, "vectors": [], "metadata": meta,
            "allow_extra_metadata": False,
            "distribution": {"strategy": "overlap", "min_submitted": 1 if camp.calibration else camp.overlap},
            "mapping": None}


def _overall(sheet: Sheet) -> str | None:
    dims = sheet.campaign.dimensions
    return rating_help(sheet.rubric.dimension(dims[0])) if dims else None


def _dimension_question(dim: R.Dimension) -> dict[str, Any]:
    name, s = control_name(dim.name), dim.scale
    if s.kind == "ordinal":
        return _question(name, "rating", {"options": [{"value": lv.value} for lv in s.levels]}, title=dim.name,
                         description=rating_help(dim))
    if s.kind == "continuous":
        return _question(name, "text", {"use_markdown": False}, title=dim.name, description=rating_help(dim))
    labels = {s.true_label: s.true_label, s.false_label: s.false_label} if s.kind == "binary" \
        else {c.name: c.name for c in s.categories}
    return _question(name, "label_selection", {"options": _options(labels), "visible_options": None}, title=dim.name,
                     description=rating_help(dim))


def records(sheet: Sheet) -> list[dict[str, Any]]:
    """One flat record per unit: id, fields, metadata."""
    camp, out = sheet.campaign, []
    for u in sheet.units:
        row: dict[str, Any] = {"id": u.key, "prompt": u.prompt}
        if camp.kind == "rate":
            row["response"] = u.shown[0].text
        else:
            row.update({f"response_{letter(i).lower()}": r.text for i, r in enumerate(u.shown)})
        row.update({"assay_campaign": camp.id, "assay_task": u.key, "assay_guideline_version": sheet.guideline_version})
        out.append(row)
    return out


def export_argilla(sheet: Sheet, out: Path) -> dict[str, Any]:
    """Write .argilla/settings.json and records.jsonl into ``out``; a summary of what was written."""
    s = settings(sheet)
    (out / ".argilla").mkdir(parents=True, exist_ok=True)
    (out / ".argilla" / "settings.json").write_text(json.dumps(s, ensure_ascii=False, indent=1) + "\n",
                                                    encoding="utf-8")
    recs = records(sheet)
    with open(out / "records.jsonl", "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return {"format": SOURCE, "tasks": len(recs), "files": [".argilla/settings.json", "records.jsonl"],
            "guideline_version": sheet.guideline_version}


# ---- import --------------------------------------------------------------------------------


def _rows(path: Path) -> Iterator[tuple[str, tuple[str, int], dict[str, Any], bool]]:
    """(file, where, record, nested?) for every record of an export, whichever layout it has."""
    from assay.io.lined_json import line_of, load
    from assay.io.readers import read_rows

    def flat(files: list[Path], fmt: str | None = None) -> Iterator[tuple[str, tuple[str, int], dict, bool]]:
        for f in files:
            for where, row in read_rows(f, fmt=fmt):
                yield str(f), where, row, False

    if path.is_dir():
        nested = path / ".argilla" / "records.json"
        if nested.exists():
            yield from _rows(nested)
            return
        for pattern in ("data/**/*.parquet", "*.parquet", "data/**/*.jsonl", "*.jsonl"):
            files = sorted(p for p in path.glob(pattern) if p.is_file())
            if files:
                yield from flat(files)
                return
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            yield from flat([path], "hf")
            return
        raise BadInput("no Argilla records here: expected data/*.parquet (a Hugging Face export), a saved dataset "
                       "or .argilla/records.json", file=str(path))
    if path.suffix.lower() == ".json":
        data = load(path)
        for i, rec in iter_list(data, file=str(path), what="Argilla records"):
            if not isinstance(rec, dict):
                raise BadInput("a record is a JSON object", file=str(path), line=line_of(rec, 1), field=f"[{i}]")
            yield str(path), ("line", line_of(rec, 1)), rec, "fields" in rec or "responses" in rec
        return
    yield from flat([path])


def read_argilla(path: Path, sheet: Sheet, *, annotators: dict[str, str] | None = None,
                 counts: dict[str, int] | None = None) -> Iterator[ToolAnswer | BadInput]:
    """The submitted answers of an exported Argilla dataset, one per user and record."""
    counts = counts if counts is not None else {}
    # an unreadable file or row raises: it stops the import even with --skip-invalid, since
    # nothing after it could be read
    for file, where, rec, nested in _rows(path):
        counts["tasks"] = counts.get("tasks", 0) + 1
        try:
            yield from _record_answers(file, where, rec, nested, sheet, annotators or {}, counts)
        except BadInput as e:
            yield e


@dataclass(frozen=True)
class _Place:
    """Where a record was read: the file, and its line (JSON) or row (Parquet), for messages."""

    file: str
    line: int | None
    row: int | None

    def error(self, reason: str, fieldname: str) -> BadInput:
        return BadInput(reason, file=self.file, line=self.line, row=self.row, field=fieldname)


_Err = Callable[[str, str], BadInput]


def _record_answers(file: str, where: tuple[str, int], rec: dict[str, Any], nested: bool, sheet: Sheet,
                    annotators: dict[str, str], counts: dict[str, int]) -> Iterator[ToolAnswer | BadInput]:
    place = _Place(file, *((where[1], None) if where[0] == "line" else (None, where[1])))
    camp = sheet.campaign
    err = place.error

    meta = rec.get("metadata") if nested else rec
    mpath = "metadata." if nested else ""
    if not isinstance(meta, dict) or not meta.get("assay_task"):
        raise err("not a record exported by `assay campaign export --format argilla` (no assay_task)",
                  f"{mpath}assay_task")
    if meta.get("assay_campaign") != camp.id:
        raise err(f"record of campaign {meta.get('assay_campaign')!r}, not of {camp.name} ({camp.id})",
                  f"{mpath}assay_campaign")
    gv = meta.get("assay_guideline_version")
    if not isinstance(gv, int) or isinstance(gv, bool):
        raise err("must be the guideline version (a whole number)", f"{mpath}assay_guideline_version")
    by_user = _by_user(rec, nested, err)
    for user, answers in by_user.items():
        statuses = {st for _, _, st in answers.values()}
        if statuses - {"submitted", None}:
            counts["not_submitted"] = counts.get("not_submitted", 0) + 1
            continue
        try:
            yield _answer(place, meta["assay_task"], gv, user, answers, sheet, annotators)
        except BadInput as e:
            yield e


def _by_user(rec: dict[str, Any], nested: bool, err: _Err) -> dict[str, dict[str, tuple[Any, str, str | None]]]:
    """user id -> question -> (value, where it is, status)."""
    out: dict[str, dict[str, tuple[Any, str, str | None]]] = {}
    if nested:
        responses = rec.get("responses") or {}
        if not isinstance(responses, dict):
            raise err("must be an object of question: responses", "responses")
        for q, items in responses.items():
            if not isinstance(items, list):
                raise err("must be a list of responses", f"responses.{q}")
            for k, it in enumerate(items):
                if not isinstance(it, dict) or not it.get("user_id"):
                    raise err("a response is an object with 'value' and 'user_id'", f"responses.{q}[{k}]")
                out.setdefault(str(it["user_id"]), {})[q] = (it.get("value"), f"responses.{q}[{k}].value",
                                                             it.get("status"))
        return out
    for col in rec:
        if not col.endswith(".responses"):
            continue
        q = col.removesuffix(".responses")
        values, users, status = rec[col], rec.get(f"{col}.users"), rec.get(f"{col}.status")
        if values is None:
            continue
        if not isinstance(values, list) or not isinstance(users, list) or len(users) != len(values):
            raise err("responses and their users must be lists of the same length", f"{col}.users")
        if status is not None and (not isinstance(status, list) or len(status) != len(values)):
            raise err("must give one status per response", f"{col}.status")
        for k, (v, u) in enumerate(zip(values, users)):
            out.setdefault(str(u), {})[q] = (v, f"{col}[{k}]", status[k] if status else None)
    return out


def _answer(place: _Place, task: str, gv: int, user: str, answers: dict[str, tuple[Any, str, str | None]],
            sheet: Sheet, annotators: dict[str, str]) -> ToolAnswer:
    """One user's answer on one record; ``place`` is where the record was read."""
    err = place.error

    def get(q: str) -> Any:
        return answers[q][0] if q in answers else None

    def text(q: str) -> str:
        v = get(q)
        if v is not None and not isinstance(v, str):
            raise err("must be text", answers[q][1])
        return v or ""

    flags = get("flags") or []
    if not (isinstance(flags, list) and all(isinstance(f, str) for f in flags)):
        raise err("must be a list of flags", answers["flags"][1])
    answer = Answer(justification=text("justification"), flags=list(flags), flag_note=text("flag_note"))
    fields = {k: answers[k][1] if k in answers else f"{k}.responses" for k in ("justification", "flags", "flag_note")}
    winner = ranking = None
    camp = sheet.campaign
    if camp.kind == "rate":
        for dim in sheet.dimensions:
            q = control_name(dim.name)
            fields[dim.name] = answers[q][1] if q in answers else f"{q}.responses"
            v = get(q)
            if v is not None and dim.scale.kind == "continuous":
                try:
                    v = float(str(v).strip())
                except ValueError:
                    raise err(f"{v!r} is not a number", fields[dim.name]) from None
            elif v is not None and dim.scale.kind == "binary":
                s = dim.scale
                if v not in (s.true_label, s.false_label):
                    raise err(f"{v!r} is neither {s.true_label!r} nor {s.false_label!r}", fields[dim.name])
                v = 1 if v == s.true_label else 0
            if v is not None:
                answer.values[dim.name] = v
    elif camp.kind == "compare":
        fields["choice"] = fields["strength"] = answers["preference"][1] if "preference" in answers \
            else "preference.responses"
        pick = get("preference")
        if pick not in PREFERENCES:
            raise err("no preference given" if pick is None else f"{pick!r} is not one of {list(PREFERENCES)}",
                      fields["choice"])
        _, winner, answer.strength = PREFERENCES[pick]
        answer.choice = pick if winner is None else None
    else:
        fields["ranking"] = answers["ranking"][1] if "ranking" in answers else "ranking.responses"
        ranking = _ranking(get("ranking"), lambda reason: err(reason, fields["ranking"]))
    return ToolAnswer(file=place.file, line=place.line, row=place.row, where="", task_key=str(task),
                      annotator=annotators.get(user, f"argilla-user-{user}"), answer=answer, guideline_version=gv,
                      fields=fields, winner_position=winner, ranking_positions=ranking,
                      detail={"source": SOURCE, "user_id": user})


def _ranking(v: Any, err) -> list[int]:  # noqa: ANN001
    """Letters best first, from a list of values or Argilla's ``[{value, rank}]``."""
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        ranks = [x.get("rank") for x in v]
        if len(set(ranks)) != len(ranks):
            raise err("a ranking may not put two responses at the same rank")
        v = [x.get("value") for x in sorted(v, key=lambda x: x.get("rank") or 0)]
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and len(x) == 1 and x.isupper() for x in v):
        raise err("must order the responses by their letters, best first")
    return [ord(x) - 65 for x in v]
