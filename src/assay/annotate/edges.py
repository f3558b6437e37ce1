"""The edge-case queue: guideline questions raised by flags and by low agreement, and their resolution.

An item raters flag "ambiguous" or "unclassifiable", or one whose ratings spread widely,
becomes an :class:`~assay.records.EdgeCase` of the campaign it came from. Its lead resolves it
by writing a clarification: that makes a new :class:`~assay.records.GuidelineVersion` (the
campaign's guideline text plus the clarification), the case records that version, and the
lead's open campaigns on the rubric move to it so that later judgments remember it.

Guidelines are versioned per rubric and per lead: version numbers are shared by the rubric
(one sequence), but each lead's campaigns follow their own line of versions, and another
lead's campaigns never move. Cases of no campaign (judges' disagreements, cases stored before
migration 0010) change the rubric's shared line, which a lead's first campaign on the rubric
starts from; no running campaign moves. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from assay import records as R
from assay.errors import BadInput, NotFound
from assay.store import Store
from assay.store import rating as S

FLAG_KINDS = ("ambiguous", "unclassifiable")


def _case_id(source: str, rubric: str, dimension: str | None, response_id: str | None, item_id: str | None,
             campaign_id: str | None) -> str:
    parts = [source, rubric, dimension or "", response_id or "", item_id or ""]
    return R.digest("edge", *parts, *([campaign_id] if campaign_id else []))  # no campaign: the ids of old cases


def flag_case(camp: R.Campaign, rec: R.Judgment | R.Comparison, flags: Sequence[str]) -> R.EdgeCase:
    """The edge case a flagged judgment or comparison opens (one per unit and campaign, however
    many flag it)."""
    return _flagged(rec, flags, rubric=camp.rubric, campaign_id=camp.id)


def _flagged(rec: R.Judgment | R.Comparison, flags: Sequence[str], *, rubric: str,
             campaign_id: str | None) -> R.EdgeCase:
    if isinstance(rec, R.Judgment):
        resp, item, dim = rec.response_id, None, None
    else:
        resp, item, dim = None, rec.item_id, rec.dimension
    return R.EdgeCase(id=_case_id("flag", rubric, dim, resp, item, campaign_id), rubric=rubric, dimension=dim,
                      response_id=resp, item_id=item, source="flag", campaign_id=campaign_id,
                      note=f"flagged {', '.join(flags)}: {rec.flag_note or ''}".strip())


def _spread(values: list) -> float:
    """How far ratings of one unit disagree: range for numbers, 1 - modal share for labels."""
    nums = [v for v in values if isinstance(v, (int, float))]
    if len(nums) == len(values):
        return float(max(nums) - min(nums))
    counts: dict = defaultdict(int)
    for v in values:
        counts[v] += 1
    return 1.0 - max(counts.values()) / len(values)


def collect_edge_cases(store: Store, *, campaign_id: str | None = None, rubric: str | None = None,
                       min_spread: float = 2.0, min_label_spread: float = 0.5, min_raters: int = 2) -> list[R.EdgeCase]:
    """Add edge cases for flagged and low-agreement units; return the ones newly added.

    Each case belongs to the campaign of the judgments it comes from (none for judges').
    Flagged: any judgment or comparison flagged ambiguous or unclassifiable. Low agreement:
    a unit (response x dimension, or compared item) rated in one campaign by ``min_raters`` or more raters
    whose numeric ratings span ``min_spread`` or more levels, or whose labels / preferences
    leave the most common answer with at most ``1 - min_label_spread`` of the votes. Cases
    have stable ids: collecting twice adds nothing.
    """
    filters = {"campaign_id": campaign_id, "rubric": rubric}
    cases: dict[str, R.EdgeCase] = {}
    ratings: dict[tuple, list] = defaultdict(list)
    for j in store.iter(R.Judgment, **filters):
        if set(j.flags) & set(FLAG_KINDS):
            c = _flagged(j, j.flags, rubric=j.rubric, campaign_id=j.campaign_id)
            cases.setdefault(c.id, c)
        if j.supersedes is None:
            v = j.value if j.value is not None else j.label
            ratings[(j.rubric, j.campaign_id, j.dimension, j.response_id, None)].append(v)
    for cmp in store.iter(R.Comparison, **filters):
        if cmp.rubric is None:
            continue
        if set(cmp.flags) & set(FLAG_KINDS):
            c = _flagged(cmp, cmp.flags, rubric=cmp.rubric, campaign_id=cmp.campaign_id)
            cases.setdefault(c.id, c)
        key = (cmp.rubric, cmp.campaign_id, cmp.dimension, None, R.digest("unit", *sorted(cmp.response_ids)))
        ratings[key].append(cmp.winner if cmp.outcome == "win" else cmp.outcome)
    items: dict[str, str] = {}
    for (rub, cid, dim, resp, unit), values in ratings.items():
        if len(values) < min_raters:
            continue
        s = _spread(values)
        numeric = all(isinstance(v, (int, float)) for v in values)
        if (numeric and s >= min_spread) or (not numeric and s >= min_label_spread):
            note = f"low agreement: {len(values)} raters gave {sorted(map(str, values))}"
            item = None
            if resp is None:
                # a comparison unit: name its item
                if unit not in items:
                    items[unit] = next(c.item_id for c in store.iter(R.Comparison, **filters)
                                       if R.digest("unit", *sorted(c.response_ids)) == unit)
                item = items[unit]
            c = R.EdgeCase(id=_case_id("low_agreement", rub, dim, resp, item, cid), rubric=rub, dimension=dim,
                           response_id=resp, item_id=item, source="low_agreement", note=note, campaign_id=cid)
            cases.setdefault(c.id, c)
    new = [c for c in cases.values() if store.find(R.EdgeCase, c.id) is None]
    store.add(new)
    return new


def edge_case_queue(store: Store, *, rubric: str | None = None, status: str | None = "open",
                    campaign_id: str | None = None) -> list[R.EdgeCase]:
    """Edge cases, oldest first (open ones by default), optionally of one rubric or one campaign."""
    filters = {"campaign_id": campaign_id} if campaign_id is not None else {}
    cases = store.list(R.EdgeCase, rubric=rubric, status=status, **filters)
    return sorted(cases, key=lambda c: (c.created_at, c.id))


class _Moved(Exception):
    """The campaign's guidelines moved on while a resolution was being written."""


def resolve_edge_case(store: Store, case_id: str, *, clarification: str, author: str | None = None) -> R.GuidelineVersion:
    """Resolve a case with a clarification: a new guideline version (the text of the case's
    campaign plus the clarification), recorded on the case, in force from now on for the open
    campaigns of that campaign's lead on the rubric that follow the same version (and the case's
    campaign itself); other leads' campaigns keep theirs. A case of no campaign adds to the
    rubric's shared guidelines and moves no campaign."""
    text = (clarification or "").strip()
    if not text:
        raise BadInput("write the clarification that resolves the case", field="clarification")
    case = store.find(R.EdgeCase, case_id)
    if case is None:
        raise NotFound(f"no edge case {case_id!r}")
    if case.status != "open":
        raise BadInput(f"edge case {case_id} is already {case.status}")
    rubric, cid = case.rubric, case.campaign_id
    for _ in range(10):  # two resolutions at once: the loser builds on the winner's version
        lines = S.guideline_lines(store, rubric)
        camp = store.get(R.Campaign, cid) if cid is not None else None
        base_version: int | None
        if camp is not None:
            base_version = camp.guideline_version
        else:
            base_version = max((v for v, (case_campaign, _) in lines.items() if case_campaign is None), default=None)
        prev = store.guideline(rubric, base_version) if base_version is not None else None
        version = max(lines, default=0) + 1
        what = case.dimension or "the rubric"
        body = (prev.text.rstrip() + "\n\n" if prev and prev.text.strip() else "")
        body += f"Clarification (version {version}, {what}): {text}"
        gv = R.GuidelineVersion(rubric=rubric, version=version, text=body,
                                note=f"edge case {case.id}: {text.splitlines()[0][:200]}", edge_case_id=case.id,
                                author=author)
        try:
            with store.transaction() as c:
                if store.add([gv], conn=c) != 1:
                    continue  # another resolution took this version number
                if camp is not None and not S.move_guidelines(store, camp, camp.guideline_version, version, c):
                    raise _Moved
                store.update("edge_cases", case.id, conn=c, status="resolved", resolution=text,
                             guideline_version=version)
        except _Moved:
            continue
        return gv
    raise BadInput("could not write a new guideline version: too many concurrent edits, try again")


def dismiss_edge_case(store: Store, case_id: str, *, reason: str = "", author: str | None = None) -> R.EdgeCase:
    """Close a case without changing the guidelines (not a real question, or a duplicate)."""
    case = store.find(R.EdgeCase, case_id)
    if case is None:
        raise NotFound(f"no edge case {case_id!r}")
    if case.status != "open":
        raise BadInput(f"edge case {case_id} is already {case.status}")
    note = (reason or "").strip() or "dismissed"
    store.update("edge_cases", case_id, status="dismissed", resolution=f"{note}" + (f" ({author})" if author else ""))
    return store.get(R.EdgeCase, case_id)
