"""Submitting an assignment: validate the answer against the rubric and campaign, write it once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from assay import records as R
from assay.annotate.campaigns import campaign_dimensions, unit_id
from assay.annotate.queue import is_open
from assay.errors import BadInput
from assay.store import Store
from assay.store import rating as S

EDGE_FLAGS = ("ambiguous", "unclassifiable")


@dataclass
class Answer:
    """A rater's answer to one assignment.

    ``values``: dimension -> level/value (numbers) or label (categorical), for rating.
    ``choice``: the preferred response id, or "tie" / "both_bad", for comparing; ``strength``
    1 (slightly) or 2 (much) better. ``ranking``: response ids best first, for ranking.
    """

    justification: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    choice: str | None = None
    strength: int | None = None
    ranking: list[str] | None = None
    flags: list[str] = field(default_factory=list)
    flag_note: str = ""
    time_spent_s: float | None = None


@dataclass(frozen=True)
class Submitted:
    """What a submission did: ``created`` False when it repeated an earlier one (nothing written)."""

    created: bool
    record_ids: list[str]
    feedback: dict[str, Any] | None = None
    next: R.Assignment | None = None  # claimed with the submission (``claim_next=True``), when it could be


def _common(camp: R.Campaign, ans: Answer) -> tuple[str, list[str], str | None, float | None]:
    just = (ans.justification or "").strip()
    need = max(1, camp.min_justification)
    if len(just) < need:
        raise BadInput(f"the justification must be at least {need} characters (it has {len(just)})",
                       field="justification")
    flags = sorted(set(ans.flags))
    bad = [f for f in flags if f not in R.FLAGS]
    if bad:
        raise BadInput(f"unknown flag(s) {bad}; use {list(R.FLAGS)}", field="flags")
    note = (ans.flag_note or "").strip() or None
    if flags and not note:
        raise BadInput("a flag needs a note saying what is ambiguous or novel", field="flag_note")
    t = ans.time_spent_s
    if t is not None:
        t = min(max(float(t), 0.0), 86400.0)
    return just, flags, note if flags else None, t


def _level_value(scale: R.Scale, raw: Any) -> tuple[float | None, str | None]:
    if scale.kind == "categorical":
        return None, str(raw)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BadInput(f"{raw!r} is not a number") from None
    if scale.kind == "ordinal" and value == int(value) and 1 <= value <= len(scale.levels):
        return value, scale.levels[int(value) - 1].label
    if scale.kind == "binary" and value in (0, 1):
        return value, scale.true_label if value == 1 else scale.false_label
    return value, None


def build_records(store: Store, camp: R.Campaign, asg: R.Assignment, ans: Answer,
                  item_id: str | None = None) -> list[R.Judgment | R.Comparison]:
    """The judgments (rating) or the comparison (compare, rank) an answer makes; BadInput if invalid.

    ``item_id``: the unit's item when the caller has it (else a comparison looks it up).
    """
    just, flags, note, t = _common(camp, ans)
    common = {"rater_id": asg.rater_id, "justification": just, "flags": flags, "flag_note": note,
              "time_spent_s": t, "guideline_version": camp.guideline_version, "campaign_id": camp.id,
              "assignment_id": asg.id, "detail": {"shown_order": asg.shown_order}}
    if camp.kind == "rate":
        out: list[R.Judgment | R.Comparison] = []
        for dim in campaign_dimensions(store, camp):
            if dim.name not in ans.values or ans.values[dim.name] in (None, ""):
                raise BadInput(f"choose a value for {dim.name}", field=dim.name)
            try:
                value, label = _level_value(dim.scale, ans.values[dim.name])
            except BadInput as e:
                raise BadInput(e.reason, field=dim.name) from None
            why = dim.scale.accepts(value, label)
            if why:
                raise BadInput(why, field=dim.name)
            out.append(R.Judgment(id=R.digest("judgment", asg.id, dim.name), response_id=asg.response_ids[0],
                                  rubric=camp.rubric, dimension=dim.name, value=value, label=label, **common))
        return out
    ids = asg.response_ids
    dim = camp.dimensions[0] if camp.dimensions else None
    base = {"item_id": "", "response_ids": ids, "shown_order": asg.shown_order, "rubric": camp.rubric,
            "dimension": dim}
    if camp.kind == "compare":
        if ans.choice in ("tie", "both_bad"):
            outcome, winner, strength = ans.choice, None, None
        elif ans.choice in ids:
            if ans.strength not in (1, 2):
                raise BadInput("say how much better: strength 1 (slightly) or 2 (much)", field="strength")
            outcome, winner, strength = "win", ans.choice, ans.strength
        else:
            raise BadInput("choose A, B, tie or both bad", field="choice")
        return [_comparison(store, asg, item_id, base, common, outcome=outcome, winner=winner, strength=strength)]
    ranking = list(ans.ranking or [])
    if sorted(ranking) != sorted(ids):
        raise BadInput("rank every response exactly once", field="ranking")
    return [_comparison(store, asg, item_id, base, common, outcome="win", winner=ranking[0], ranking=ranking)]


def _comparison(store: Store, asg: R.Assignment, item: str | None, base: dict, common: dict,
                **kw: Any) -> R.Comparison:
    item = item or store.get(R.Response, asg.response_ids[0]).item_id
    return R.Comparison(id=R.digest("comparison", asg.id), **{**base, "item_id": item}, **common, **kw)


@dataclass(frozen=True)
class Prepared:
    """A valid answer to an assignment of an open campaign, ready to write: its records (judgments,
    or one comparison), everything written with them (an edge case when flagged), and whether the
    rater's next unit is claimed in the same statement (PostgreSQL)."""

    records: list[R.Judgment | R.Comparison]
    writes: list[R.Judgment | R.Comparison | R.EdgeCase]
    claim: bool


def write_only(camp: R.Campaign, asg: R.Assignment) -> bool:
    """Whether submitting ``asg`` reads nothing from the store besides its write: a pending assignment
    of an open campaign, with no calibration feedback to show. (The server writes such submissions
    from its event loop; the others, and invalid answers, go through :func:`submit` in a thread.)"""
    return asg.status == "pending" and camp.status == "open" and not (camp.calibration and asg.is_gold)


def prepare(store: Store, camp: R.Campaign, asg: R.Assignment, ans: Answer, *, item_id: str | None = None,
            claim_next: bool = False) -> Prepared:
    """Validate an answer (BadInput if invalid, or if the campaign is closed) and say what its submission writes.

    ``item_id``: the unit's item when the caller has it. ``claim_next``: claim the rater's next unit
    with the submission, when the campaign is open and the submission needs no calibration feedback.
    """
    if camp.status != "open":
        raise BadInput("this campaign is closed")
    records = build_records(store, camp, asg, ans, item_id)
    claim = claim_next and is_open(camp) and not (camp.calibration and asg.is_gold)
    return Prepared(records, [*records, *edge_records(camp, records)], claim)


def written(store: Store, camp: R.Campaign, asg: R.Assignment, prepared: Prepared, created: bool,
            nxt: R.Assignment | str | None) -> Submitted:
    """What a submission did, from its write's outcome (``created``; the claimed assignment, if any)."""
    if not created:
        done = S.submission(store, asg.id)
        return Submitted(False, list(done["record_ids"]) if done else [], feedback(store, camp, asg))
    return Submitted(True, [r.id for r in prepared.records], feedback(store, camp, asg),
                     nxt if isinstance(nxt, R.Assignment) else None)


def submit(store: Store, camp: R.Campaign, asg: R.Assignment, ans: Answer, *, claim_next: bool = False,
           item_id: str | None = None) -> Submitted:
    """Validate and store a rater's answer, exactly once per assignment.

    A repeat (double click, retried request, a second racing request) writes nothing and
    returns the first submission's record ids. Flags "ambiguous" and "unclassifiable" open
    an edge case for the lead at once. With ``claim_next`` (PostgreSQL), the rater's next unit
    is claimed in the same statement, when the submission needs no calibration feedback.
    This is the one way a submission is written; the server's event-loop path runs the same
    :func:`prepare` and :func:`written` around an asynchronous write of the same statement.
    """
    if asg.campaign_id != camp.id:
        raise BadInput("assignment does not belong to this campaign")
    done = S.submission(store, asg.id) if asg.status != "pending" else None
    if done is not None:
        return Submitted(False, list(done["record_ids"]), feedback(store, camp, asg))
    prepared = prepare(store, camp, asg, ans, item_id=item_id, claim_next=claim_next)
    if store.backend == "postgresql":
        # one statement: the records, the assignment done, and the rater's next unit claimed
        from assay.store.rating_pg import record_and_claim

        created, nxt = record_and_claim(store, camp, asg, asg.rater_id, prepared.writes, kind=camp.kind,
                                        claim=prepared.claim)
    else:
        extra = prepared.writes[len(prepared.records):]
        created, nxt = S.record_submission(store, asg, camp.kind, prepared.records, extra)
    return written(store, camp, asg, prepared, created, nxt)


def edge_records(camp: R.Campaign, records: Sequence[R.Judgment | R.Comparison]) -> list[R.EdgeCase]:
    """The edge case a submission opens when flagged "ambiguous" or "unclassifiable" (else none)."""
    edge_flags = [f for f in records[0].flags if f in EDGE_FLAGS]
    if not edge_flags:
        return []
    from assay.annotate.edges import flag_case

    return [flag_case(camp, records[0], edge_flags)]


def feedback(store: Store, camp: R.Campaign, asg: R.Assignment) -> dict[str, Any] | None:
    """Calibration feedback for a submitted gold assignment: the gold answer beside the rater's.

    None unless the campaign is in calibration mode, the unit is gold and the rater has
    submitted (the gold answer is never shown before).
    """
    done = S.submission(store, asg.id) if camp.calibration and asg.is_gold else None
    if done is None:
        return None
    gold = S.gold_answers(store, camp.id, unit_id(asg.response_ids))
    if not gold:
        return None
    mine = list(done["record_ids"])
    rows = []
    if camp.kind == "rate":
        by_dim = {g.dimension: g for g in store.list(R.Judgment, id=mine)}
        for g in gold:
            j = by_dim.get(g["dimension"])
            yours = (j.label if j.value is None else j.value) if j else None
            expected = g["label"] if g["value"] is None else g["value"]
            rows.append({"dimension": g["dimension"], "gold": expected, "yours": yours,
                         "gold_label": g["label"], "match": yours == expected})
    else:
        c = next(iter(store.list(R.Comparison, id=mine)), None)
        g = gold[0]
        letter = {rid: chr(65 + i) for i, rid in enumerate(asg.shown_order)}

        def say(outcome: str | None, winner: str | None, ranking: list | None) -> str:
            if ranking:
                return " > ".join(letter[r] for r in ranking)
            return {"tie": "tie", "both_bad": "both bad"}.get(outcome or "", letter.get(winner or "", "?"))

        gold_s = say(g["outcome"], g["winner"], g["ranking"])
        yours_s = say(c.outcome, c.winner, c.ranking) if c else None
        rows.append({"dimension": camp.dimensions[0] if camp.dimensions else "overall", "gold": gold_s,
                     "yours": yours_s, "gold_label": None, "match": gold_s == yours_s})
    return {"rows": rows, "explanation": gold[0]["explanation"], "all_match": all(r["match"] for r in rows)}


Kind = Literal["rate", "compare", "rank"]
