"""Label Studio, both ways: a campaign as a project (labelling config, tasks) and its JSON export back.

Export (:func:`export_label_studio`) writes three files into a folder:

``config.xml``
    The labelling config, generated from the campaign's rubric. Rating: the prompt and the
    response, then one question per dimension (``Rating`` for an ordinal scale, ``Choices``
    for binary and categorical ones, ``Number`` for a continuous one), each headed by its
    description and anchors. Comparing: both responses side by side and one ``Choices``
    question, A much better / slightly better / tie / both bad / B slightly / much better
    (stored as ``A>>B``, ``A>B``, ``tie``, ``both_bad``, ``B>A``, ``B>>A``). Ranking: the
    responses as a ``List`` ordered with a ``Ranker``. Always a required ``TextArea`` for the
    justification, optional flags (ambiguous, unclassifiable, novel) and a note.
``tasks.json``
    One task per unit (gold units too, unmarked), for Label Studio's task import. Each task's
    ``data`` holds the texts and ``assay``: the campaign id, the task's opaque key and the
    guideline version in force, which comes back with every annotation.
``project.json``
    A body for ``POST /api/projects``: title, the config, the guidelines as instructions,
    annotators per task (the campaign's overlap).

Import (:func:`read_label_studio`) reads Label Studio's JSON export (a list of tasks with their
annotations, as ``GET /api/projects/{id}/export?exportType=JSON`` or an export snapshot gives
it). Each submitted annotation becomes the annotator's submission: judgments (rating) or a
comparison (compare, rank), with the justification, flags, ``lead_time`` as time spent and the
task's guideline version. The annotator is the user's e-mail when the export has it (snapshots
do), else ``label-studio-user-ID`` unless ``annotators`` maps the id to a name. Cancelled
(skipped) annotations are counted and left out.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
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
    parse_time,
)
from assay.errors import BadInput
from assay.io.lined_json import line_of

SOURCE = "label-studio"


# ---- export --------------------------------------------------------------------------------


def _el(parent: ET.Element, tag: str, **attrs: Any) -> ET.Element:
    return ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})


def label_config(sheet: Sheet) -> str:
    """The labelling config (XML) for a campaign's units."""
    camp = sheet.campaign
    view = ET.Element("View")
    _el(view, "Header", value="Prompt")
    _el(view, "Text", name="prompt", value="$prompt")
    if camp.kind == "rate":
        target = "response"
        _el(view, "Header", value="Response" if camp.blind else "Response, by $model")
        _el(view, "Text", name="response", value="$response")
        for dim in sheet.dimensions:
            _el(view, "Header", value=f"{dim.name}: {dim.description}", size="5")
            _anchors(view, dim)
            _question(view, dim, target)
    elif camp.kind == "compare":
        target = "prompt"
        row = _el(view, "View", style="display: flex; gap: 1em;")
        for i in range(2):
            col = _el(row, "View", style="flex: 1; min-width: 0;")
            _el(col, "Header", value=f"Response {letter(i)}" + ("" if camp.blind else f", by $model_{letter(i).lower()}"))
            _el(col, "Text", name=f"response_{letter(i).lower()}", value=f"$response_{letter(i).lower()}")
        _el(view, "Header", value="Which response is better?" + _overall(sheet))
        ch = _el(view, "Choices", name="preference", toName="prompt", choice="single-radio", required="true")
        for alias, (text, _, _) in PREFERENCES.items():
            _el(ch, "Choice", value=text, alias=alias)
    else:
        target = "prompt"
        _el(view, "Header", value="Order the responses, best first." + _overall(sheet))
        _el(view, "List", name="responses", value="$responses", title="Responses")
        _el(view, "Ranker", name="ranking", toName="responses")
    need = max(1, camp.min_justification)
    _el(view, "Header", value="Justification" + (f" (at least {need} characters)" if need > 1 else ""))
    _el(view, "TextArea", name="justification", toName=target, required="true", maxSubmissions="1", editable="true",
        rows="4", placeholder="Why? Say what decided your answer.")
    _el(view, "Header", value="Flags (optional)", size="6")
    flags = _el(view, "Choices", name="flags", toName=target, choice="multiple", showInline="true")
    for f in R.FLAGS:
        _el(flags, "Choice", value=f, hint=FLAG_HINTS[f])
    _el(view, "TextArea", name="flag_note", toName=target, maxSubmissions="1", editable="true", rows="2",
        placeholder="If you flagged it: what is ambiguous or new?")
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def _overall(sheet: Sheet) -> str:
    dims = sheet.campaign.dimensions
    if not dims:
        return ""
    dim = sheet.rubric.dimension(dims[0])
    return f" Judge {dim.name}: {dim.description}"


def _anchors(view: ET.Element, dim: R.Dimension) -> None:
    """The scale's anchors, folded away under the question's heading."""
    s = dim.scale
    if s.kind == "ordinal":
        lines = [f"{lv.value} = {lv.label}: {lv.anchor}" for lv in s.levels]
    elif s.kind == "categorical":
        lines = [c.name + (f": {c.description}" if c.description else "") for c in s.categories]
    else:
        return
    panel = _el(_el(view, "Collapse"), "Panel", value=f"What each {'level' if s.kind == 'ordinal' else 'label'} means")
    for text in lines:
        _el(panel, "Header", value=text, size="6", underline="false")


def _question(view: ET.Element, dim: R.Dimension, target: str) -> None:
    name, s = control_name(dim.name), dim.scale
    if s.kind == "ordinal":
        _el(view, "Rating", name=name, toName=target, maxRating=len(s.levels), required="true")
    elif s.kind == "continuous":
        _el(view, "Number", name=name, toName=target, min=f"{s.min:g}", max=f"{s.max:g}", step="any",
            required="true")
    else:
        ch = _el(view, "Choices", name=name, toName=target, choice="single-radio", required="true", showInline="true")
        if s.kind == "binary":
            for label in (s.true_label, s.false_label):
                _el(ch, "Choice", value=label)
        else:
            for c in s.categories:
                _el(ch, "Choice", value=c.name, hint=c.description or None)


def tasks(sheet: Sheet) -> list[dict[str, Any]]:
    """One Label Studio task per unit."""
    camp, out = sheet.campaign, []
    for u in sheet.units:
        data: dict[str, Any] = {"prompt": u.prompt}
        if camp.kind == "rate":
            data["response"] = u.shown[0].text
            if not camp.blind:
                data["model"] = u.shown[0].model
        elif camp.kind == "compare":
            for i, r in enumerate(u.shown):
                data[f"response_{letter(i).lower()}"] = r.text
                if not camp.blind:
                    data[f"model_{letter(i).lower()}"] = r.model
        else:
            data["responses"] = [{"id": letter(i), "title": f"Response {letter(i)}"
                                  + ("" if camp.blind else f", by {r.model}"), "body": r.text}
                                 for i, r in enumerate(u.shown)]
        data["assay"] = {"campaign": camp.id, "task": u.key, "guideline_version": sheet.guideline_version}
        out.append({"data": data})
    return out


def project(sheet: Sheet, config: str) -> dict[str, Any]:
    """A body for Label Studio's ``POST /api/projects``."""
    camp = sheet.campaign
    body = {"title": camp.name[:50], "description": f"assay campaign {camp.id}: {camp.kind}, rubric {camp.rubric}, "
                                                     f"guidelines version {sheet.guideline_version}",
            "label_config": config, "show_instruction": True, "show_skip_button": True,
            "enable_empty_annotation": False,
            "expert_instruction": f"<h3>Guidelines, version {sheet.guideline_version}</h3>"
                                  f"<pre style=\"white-space: pre-wrap\">{html.escape(sheet.guidelines)}</pre>"}
    if not camp.calibration:
        body["maximum_annotations"] = camp.overlap
    return body


def export_label_studio(sheet: Sheet, out: Path) -> dict[str, Any]:
    """Write config.xml, tasks.json and project.json into ``out``; a summary of what was written."""
    out.mkdir(parents=True, exist_ok=True)
    config = label_config(sheet)
    (out / "config.xml").write_text(config, encoding="utf-8")
    ts = tasks(sheet)
    (out / "tasks.json").write_text(json.dumps(ts, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "project.json").write_text(json.dumps(project(sheet, config), ensure_ascii=False, indent=1) + "\n",
                                      encoding="utf-8")
    return {"format": SOURCE, "tasks": len(ts), "files": ["config.xml", "tasks.json", "project.json"],
            "guideline_version": sheet.guideline_version}


# ---- import --------------------------------------------------------------------------------


def read_label_studio(data: Any, sheet: Sheet, *, file: str, annotators: dict[str, str] | None = None,
                      counts: dict[str, int] | None = None) -> Iterator[ToolAnswer | BadInput]:
    """The submitted annotations of a parsed JSON export, one answer each; a BadInput for a bad one.

    ``counts`` gets ``tasks`` and ``not_submitted`` (cancelled annotations) added up.
    """
    counts = counts if counts is not None else {}
    camp = sheet.campaign
    for t, task in iter_list(data, file=file, what="Label Studio tasks"):
        counts["tasks"] = counts.get("tasks", 0) + 1
        line = line_of(task, 1)
        if not isinstance(task, dict):
            yield BadInput("a task is a JSON object", file=file, line=line, field=f"[{t}]")
            continue
        meta = (task.get("data") or {}).get("assay") if isinstance(task.get("data"), dict) else None
        if not isinstance(meta, dict):
            yield BadInput("not a task exported by `assay campaign export --format label-studio` (no data.assay)",
                           file=file, line=line, field="data.assay")
            continue
        if meta.get("campaign") != camp.id:
            yield BadInput(f"task of campaign {meta.get('campaign')!r}, not of {camp.name} ({camp.id})",
                           file=file, line=line_of(meta, line), field="data.assay.campaign")
            continue
        gv = meta.get("guideline_version")
        if not isinstance(gv, int) or isinstance(gv, bool):
            yield BadInput("must be the guideline version (a whole number)", file=file, line=line_of(meta, line),
                           field="data.assay.guideline_version")
            continue
        anns = task.get("annotations", [])
        if not isinstance(anns, list):
            yield BadInput("must be a list of annotations", file=file, line=line, field="annotations")
            continue
        for i, ann in enumerate(anns):
            if not isinstance(ann, dict):
                yield BadInput("an annotation is a JSON object", file=file, line=line, field=f"annotations[{i}]")
                continue
            if ann.get("was_cancelled"):
                counts["not_submitted"] = counts.get("not_submitted", 0) + 1
                continue
            try:
                yield _answer(ann, i, task, meta, gv, sheet, file, annotators or {})
            except BadInput as e:
                yield e


def _annotator(ann: dict, annotators: dict[str, str], err) -> str:  # noqa: ANN001
    who = ann.get("completed_by")
    if isinstance(who, dict):
        uid, name = who.get("id"), who.get("email") or who.get("username")
    else:
        uid, name = who, None
    if uid is not None and str(uid) in annotators:
        return annotators[str(uid)]
    if isinstance(name, str) and name.strip():
        return name.strip()
    if isinstance(uid, int) and not isinstance(uid, bool):
        return f"label-studio-user-{uid}"
    raise err("must name the annotator: a user id or an object with 'email'", "completed_by")


def _answer(ann: dict, i: int, task: dict, meta: dict, gv: int, sheet: Sheet, file: str,
            annotators: dict[str, str]) -> ToolAnswer:
    where = f"annotations[{i}]"
    line = line_of(ann, line_of(task, 1))

    def err(reason: str, fieldname: str) -> BadInput:
        return BadInput(reason, file=file, line=line, field=f"{where}.{fieldname}")

    results = ann.get("result")
    if not isinstance(results, list):
        raise err("must be the list of the annotation's results", "result")
    by_name: dict[str, Any] = {}
    for k, r in enumerate(results):
        if not isinstance(r, dict) or not isinstance(r.get("from_name"), str) or not isinstance(r.get("value"), dict):
            raise err("a result is an object with 'from_name' and 'value'", f"result[{k}]")
        by_name[r["from_name"]] = r["value"]
    path = {name: f"{where}.result.{name}" for name in by_name}

    def value(name: str, key: str) -> Any:
        v = by_name.get(name, {}).get(key)
        return v

    def one_choice(name: str) -> str | None:
        v = value(name, "choices")
        if v is None:
            return None
        if not (isinstance(v, list) and len(v) == 1 and isinstance(v[0], str)):
            raise err("must be one choice", f"result.{name}")
        return v[0]

    def text(name: str) -> str:
        v = value(name, "text")
        if v is None:
            return ""
        if isinstance(v, str):
            return v
        if not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            raise err("must be text", f"result.{name}")
        return "\n".join(v)

    flags = value("flags", "choices") or []
    if not (isinstance(flags, list) and all(isinstance(f, str) for f in flags)):
        raise err("must be a list of flags", "result.flags")
    lead = ann.get("lead_time")
    if lead is not None and (isinstance(lead, bool) or not isinstance(lead, (int, float)) or lead < 0):
        raise err("must be the seconds spent (a number, 0 or more)", "lead_time")
    answer = Answer(justification=text("justification"), flags=list(flags), flag_note=text("flag_note"),
                    time_spent_s=float(lead) if lead is not None else None)
    fields = {"justification": f"{where}.result.justification", "flags": f"{where}.result.flags",
              "flag_note": f"{where}.result.flag_note"}
    winner = ranking = None
    camp = sheet.campaign
    if camp.kind == "rate":
        for dim in sheet.dimensions:
            name = control_name(dim.name)
            fields[dim.name] = path.get(name, f"{where}.result.{name}")
            raw = _dimension_value(dim, name, value, one_choice, err)
            if raw is not None:
                answer.values[dim.name] = raw
    elif camp.kind == "compare":
        fields["choice"] = fields["strength"] = f"{where}.result.preference"
        pick = one_choice("preference")
        if pick is None:
            raise err("no preference given", "result.preference")
        if pick not in PREFERENCES:
            raise err(f"{pick!r} is not one of {list(PREFERENCES)}", "result.preference")
        _, winner, answer.strength = PREFERENCES[pick]
        answer.choice = pick if winner is None else None
    else:
        fields["ranking"] = f"{where}.result.ranking"
        ranking = _ranking(value("ranking", "ranker"), err)
    time = parse_time(ann.get("updated_at")) or parse_time(ann.get("created_at"))
    return ToolAnswer(file=file, line=line, row=None, where=where, task_key=str(meta.get("task")),
                      annotator=_annotator(ann, annotators, err), answer=answer, guideline_version=gv,
                      submitted_at=time, fields=fields, winner_position=winner, ranking_positions=ranking,
                      detail={"source": SOURCE, "task_id": task.get("id"), "annotation_id": ann.get("id")})


def _dimension_value(dim: R.Dimension, name: str, value, one_choice, err) -> Any:  # noqa: ANN001
    s = dim.scale
    if s.kind == "ordinal":
        return value(name, "rating")
    if s.kind == "continuous":
        return value(name, "number")
    label = one_choice(name)
    if label is None or s.kind == "categorical":
        return label
    if label not in (s.true_label, s.false_label):
        raise err(f"{label!r} is neither {s.true_label!r} nor {s.false_label!r}", f"result.{name}")
    return 1 if label == s.true_label else 0


def _ranking(v: Any, err) -> list[int]:  # noqa: ANN001
    if not isinstance(v, dict) or not v:
        raise err("no ranking given", "result.ranking")
    order = v.get("ranking", next(iter(v.values())) if len(v) == 1 else None)
    if not isinstance(order, list) or not all(isinstance(x, str) and len(x) == 1 and x.isupper() for x in order):
        raise err("must order the responses by their letters, best first", "result.ranking")
    return [ord(x) - 65 for x in order]
