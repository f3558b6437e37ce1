"""What every annotation tool's export and import share: a campaign's units as a tool shows them,
and answers made in the tool written back as the campaign's own submissions.

A unit goes out under an opaque task key (a keyed hash of the campaign and unit, so a task
never names its responses, whose ids could be matched against model names) with its responses
in a fixed shown order computed from that key. An answer comes back with the task key, the
annotator, the guideline version the task was exported under and, where the tool records it,
the time spent; it is checked by the same rules as an answer in assay's own rating app
(:func:`assay.annotate.submit.build_records`) and written exactly as the app writes one: a done
assignment (the same id the app would give that rater on that unit), its claim, a submission
row and the judgments or comparison, all files' answers in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from assay import records as R
from assay.annotate.campaigns import campaign_dimensions, rubric_of
from assay.annotate.queue import assignment_id, shown_order
from assay.annotate.submit import Answer, build_records, edge_records
from assay.errors import BadInput
from assay.store import Store
from assay.store import rating as S

RESERVED = ("prompt", "response", "responses", "justification", "flags", "flag_note", "preference", "ranking")
"""Names of the fixed parts of a generated form; a dimension of the same name gets a prefix."""

PREFERENCES = {"A>>B": ("A is much better", 0, 2), "A>B": ("A is slightly better", 0, 1),
               "tie": ("Tie: equally good", None, None), "both_bad": ("Both are bad", None, None),
               "B>A": ("B is slightly better", 1, 1), "B>>A": ("B is much better", 1, 2)}
"""A pairwise answer as stored by a tool -> (what the annotator reads, shown position of the winner, strength)."""

FLAG_HINTS = {"ambiguous": "the guidelines do not settle this case", "unclassifiable": "no answer fits",
              "novel": "a kind of case the guidelines do not mention"}


def control_name(dim: str) -> str:
    """The name of a dimension's question in a generated form (never one of :data:`RESERVED`)."""
    return f"dimension_{dim}" if dim in RESERVED else dim


def letter(i: int) -> str:
    return chr(65 + i)


@dataclass(frozen=True)
class ToolUnit:
    """One campaign unit as an annotation tool shows it."""

    key: str
    unit_id: str
    item_id: str
    prompt: str
    shown: tuple[R.Response, ...]  # in the order the tool shows them (A, B, ...)
    is_gold: bool


@dataclass(frozen=True)
class Sheet:
    """A campaign, its rubric's questions and its units, ready to write out in a tool's format."""

    campaign: R.Campaign
    rubric: R.Rubric
    dimensions: list[R.Dimension]
    guideline_version: int
    guidelines: str
    units: list[ToolUnit]


def _secret(store: Store) -> str:
    return S.app_secret(store)


def task_key(secret: str, campaign_id: str, unit_id: str) -> str:
    """The opaque key a unit travels under: a keyed hash, so a task never names its responses."""
    return hashlib.sha256(f"external\x1f{secret}\x1f{campaign_id}\x1f{unit_id}\x1f".encode()).hexdigest()[:24]


def _shown(secret: str, camp: R.Campaign, key: str, ids: list[str]) -> list[str]:
    return shown_order(camp.id, f"external:{key}", ids, key=secret)


def prompt_as_text(item: R.Item) -> str:
    """The whole prompt as one text: a chat becomes its turns, each headed by its role."""
    if item.prompt is not None:
        return item.prompt
    return "\n\n".join(f"[{m.role}]\n{m.content}" for m in item.messages or [])


def campaign_sheet(store: Store, camp: R.Campaign) -> Sheet:
    """The campaign's units (gold ones too, not marked) with prompts, responses and the current guidelines."""
    secret = _secret(store)
    units = S.units(store, camp.id)
    resp_ids = sorted({r for u in units for r in u["response_ids"]})
    resp: dict[str, R.Response] = {}
    for start in range(0, len(resp_ids), 500):
        resp.update({r.id: r for r in store.iter(R.Response, id=resp_ids[start:start + 500])})
    item_ids = sorted({u["item_id"] for u in units})
    items: dict[str, R.Item] = {}
    for start in range(0, len(item_ids), 500):
        items.update({i.id: i for i in store.iter(R.Item, id=item_ids[start:start + 500])})
    out = []
    for u in units:
        key = task_key(secret, camp.id, u["unit_id"])
        order = _shown(secret, camp, key, list(u["response_ids"])) if len(u["response_ids"]) > 1 \
            else list(u["response_ids"])
        out.append(ToolUnit(key=key, unit_id=u["unit_id"], item_id=u["item_id"],
                            prompt=prompt_as_text(items[u["item_id"]]), shown=tuple(resp[r] for r in order),
                            is_gold=bool(u["is_gold"])))
    gv = store.guideline(camp.rubric, camp.guideline_version)
    rub = rubric_of(store, camp.rubric)
    return Sheet(campaign=camp, rubric=rub, dimensions=campaign_dimensions(store, camp),
                 guideline_version=camp.guideline_version, guidelines=gv.text if gv else rub.guidelines, units=out)


def rating_help(dim: R.Dimension) -> str:
    """A dimension's description and its scale's anchors, as one text for a form's help line."""
    s = dim.scale
    if s.kind == "ordinal":
        anchors = "; ".join(f"{lv.value} = {lv.label}: {lv.anchor}" for lv in s.levels)
    elif s.kind == "categorical":
        anchors = "; ".join(f"{c.name}" + (f": {c.description}" if c.description else "") for c in s.categories)
    elif s.kind == "continuous":
        anchors = f"a number from {s.min:g} to {s.max:g}"
    else:
        anchors = f"{s.true_label} or {s.false_label}"
    return f"{dim.description} ({anchors})"


# ---- answers coming back ------------------------------------------------------------------


@dataclass
class ToolAnswer:
    """One annotator's answer to one task, read from a tool's export.

    ``fields`` maps the names :func:`build_records` reports (a dimension, ``justification``,
    ``choice``, ``strength``, ``ranking``, ``flags``, ``flag_note``) to where that answer is in
    the file, so a refusal names the tool's own field.
    """

    file: str
    line: int | None
    row: int | None
    where: str  # the field path of the answer inside its record ("annotations[2]")
    task_key: str
    annotator: str
    answer: Answer
    guideline_version: int
    submitted_at: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    winner_position: int | None = None  # compare: the preferred response's place as shown (0 = A)
    ranking_positions: list[int] | None = None  # rank: places as shown, best first

    def error(self, reason: str, fieldname: str | None = None) -> BadInput:
        default = ".".join(p for p in (self.where, fieldname) if p) or None
        path = self.fields.get(fieldname or "", default)
        return BadInput(reason, file=self.file, line=self.line, row=self.row if self.line is None else None,
                        field=path)


@dataclass
class ToolImport:
    """What an import did."""

    file: str
    campaign: str  # the campaign's id
    source: str  # label-studio or argilla
    tasks: int = 0  # tasks (records) read
    answers: int = 0  # submitted answers read, one per annotator and task
    added: int = 0  # answers stored as new submissions
    duplicates: int = 0  # answers already stored (the same annotator on the same unit)
    not_submitted: int = 0  # skipped (Label Studio) or draft and discarded (Argilla): left out
    rejected: int = 0  # refused with --skip-invalid, written to rejects_file
    records_added: int = 0  # judgments or comparisons stored
    edge_cases: int = 0  # edge cases opened by flagged answers
    raters: list[str] = field(default_factory=list)  # rater ids of the annotators whose answers were accepted
    rejects_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Rejects:
    """Where ``OnInvalid(skip=True)`` writes refused answers, one JSON line each: place, field, reason."""

    def __init__(self, path: Path) -> None:
        self.path, self.count, self._f = path, 0, None

    def add(self, err: BadInput, record: Any = None) -> None:
        if self._f is None:
            self._f = open(self.path, "w", encoding="utf-8")
        self.count += 1
        self._f.write(json.dumps({"file": err.file, "line": err.line, "row": err.row, "field": err.field,
                                  "reason": err.reason, "record": record}, ensure_ascii=False, default=str) + "\n")

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


def parse_time(value: Any) -> datetime | None:
    """An ISO time from a tool's export (``Z`` allowed), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=R.utcnow().tzinfo)


def write_answers(store: Store, camp: R.Campaign, answers: Iterable[ToolAnswer | BadInput], summary: ToolImport,
                  *, rejects: Rejects | None = None) -> ToolImport:
    """Check every answer like the rating app does and write the good ones in one transaction.

    A BadInput in ``answers`` (a record the reader refused) and any answer that fails a check
    stops the import with nothing written, unless ``rejects`` is given: then it is written there
    and the rest goes in. An answer already stored (the same annotator on the same unit, from an
    earlier import or the app) is counted as a duplicate and left as it was.
    """
    secret = _secret(store)
    units = {task_key(secret, camp.id, u["unit_id"]): u for u in S.units(store, camp.id)}
    versions: dict[int, bool] = {}
    seen: dict[tuple[str, str], ToolAnswer] = {}
    batch: list[tuple[str, R.Assignment, list[R.Judgment | R.Comparison], list[R.EdgeCase]]] = []
    raters: dict[str, R.Rater] = {}

    def refuse(err: BadInput) -> None:
        if rejects is None:
            raise err
        rejects.add(err)

    for a in answers:
        if isinstance(a, BadInput):
            refuse(a)
            continue
        summary.answers += 1
        try:
            batch.append(_check(store, camp, a, units, versions, seen, secret, raters))
        except BadInput as e:
            refuse(e)
    summary.rejected = rejects.count if rejects else 0
    if batch:
        summary.added, summary.duplicates, summary.records_added, summary.edge_cases = \
            S.record_imported(store, list(raters.values()), batch)
    summary.raters = sorted(raters)
    return summary


def _check(store: Store, camp: R.Campaign, a: ToolAnswer, units: dict[str, dict], versions: dict[int, bool],
           seen: dict[tuple[str, str], ToolAnswer], secret: str, raters: dict[str, R.Rater],
           ) -> tuple[str, R.Assignment, list[R.Judgment | R.Comparison], list[R.EdgeCase]]:
    unit = units.get(a.task_key)
    if unit is None:
        raise a.error(f"no unit of campaign {camp.name} has task key {a.task_key!r} (exported from another "
                      "campaign or store?)", "task")
    if a.guideline_version not in versions:
        versions[a.guideline_version] = store.guideline(camp.rubric, a.guideline_version) is not None
    if not versions[a.guideline_version]:
        raise a.error(f"rubric {camp.rubric} has no guideline version {a.guideline_version}", "guideline_version")
    name = a.annotator.strip()
    if not name:
        raise a.error("the annotator is not named", "annotator")
    rater = R.Rater(id=R.Rater.make_id("human", name), kind="human", name=name)
    first = seen.get((unit["unit_id"], rater.id))
    if first is not None:
        where = f"line {first.line}" if first.line is not None else f"row {first.row}"
        raise a.error(f"{name} answered this task twice (the other answer is at {where})", "annotator")
    ids = list(unit["response_ids"])
    order = _shown(secret, camp, a.task_key, ids) if len(ids) > 1 else ids
    when = a.submitted_at or R.utcnow()
    asg = R.Assignment(id=assignment_id(camp.id, unit["unit_id"], rater.id, key=secret), campaign_id=camp.id,
                       rater_id=rater.id, response_ids=ids, shown_order=order, is_gold=bool(unit["is_gold"]),
                       status="done", created_at=when, submitted_at=when)
    ans = a.answer
    if a.winner_position is not None:
        ans = replace(ans, choice=order[a.winner_position] if a.winner_position < len(order) else None)
    if a.ranking_positions is not None:
        if any(p >= len(order) for p in a.ranking_positions):
            raise a.error(f"this task shows {len(order)} responses, A to {letter(len(order) - 1)}", "ranking")
        ans = replace(ans, ranking=[order[p] for p in a.ranking_positions])
    at_version = camp.model_copy(update={"guideline_version": a.guideline_version})
    try:
        records = build_records(store, at_version, asg, ans, item_id=unit["item_id"])
    except BadInput as e:
        raise a.error(e.reason, e.field) from None
    records = [r.model_copy(update={"created_at": when, "detail": {**r.detail, **a.detail}})
               for r in records]
    seen[(unit["unit_id"], rater.id)] = a
    raters[rater.id] = rater
    return unit["unit_id"], asg, records, edge_records(at_version, records)


def iter_list(data: Any, *, file: str, what: str) -> Iterator[tuple[int, Any]]:
    """The items of a JSON array with their index; BadInput when ``data`` is not one."""
    if not isinstance(data, list):
        raise BadInput(f"expected a JSON array of {what}", file=file, line=1)
    if not data:
        raise BadInput(f"no {what} in the file", file=file, line=1)
    yield from enumerate(data)
