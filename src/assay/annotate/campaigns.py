"""Human rating campaigns: what is rated (units), by whom, with which rubric, overlap and gold."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from assay import records as R
from assay.errors import BadInput, NotFound
from assay.records import unit_id
from assay.store import Store
from assay.store import rating as S

if TYPE_CHECKING:
    from assay.analysis.active import Design

Kind = Literal["rate", "compare", "rank"]
_KINDS: dict[str, Kind] = {"rate": "rate", "compare": "compare", "rank": "rank"}


def campaign_kind(value: str) -> Kind:
    """``value`` (from a form or a flag) as a campaign kind; BadInput unless rate, compare or rank."""
    try:
        return _KINDS[value]
    except KeyError:
        raise BadInput(f"campaign kind must be rate, compare or rank, not {value!r}") from None


@dataclass(frozen=True)
class Gold:
    """The expected answer on one gold unit: a value or label per dimension (rate), a winner or
    outcome (compare) or a ranking (rank), with the explanation shown in calibration feedback."""

    response_ids: tuple[str, ...]
    explanation: str
    values: dict[str, float | str] = field(default_factory=dict)
    outcome: str | None = None
    winner: str | None = None
    ranking: tuple[str, ...] | None = None
    source: str | None = field(default=None, compare=False)  # the file and line it was read from, for messages
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CampaignSpec:
    """How a campaign is run, beside what it rates (its units, gold and rubric).

    ``dimensions``: the rubric dimensions raters answer (None: all; a compare or rank
    campaign asks one); ``overlap``: how many different raters get each regular unit;
    ``gold_share``: about which share of what each rater rates is gold; ``calibration``:
    every unit goes to every rater and gold units get immediate feedback; ``blind``: raters
    do not see which model wrote a response; ``min_justification``: the fewest characters a
    justification may have; ``deadline``: when the campaign closes; ``raters``: the rater ids
    who may work on it (None: every rater); ``seed``: shuffles the queue order; ``kind``: what
    raters do with a unit (``rate`` one response, ``compare`` two, ``rank`` three or more).
    """

    dimensions: Sequence[str] | None = None
    overlap: int = 1
    gold_share: float = 0.0
    calibration: bool = False
    blind: bool = True
    min_justification: int = 0
    deadline: datetime | None = None
    raters: Sequence[str] | None = None
    seed: int = 0
    kind: Kind = "rate"

    def __post_init__(self) -> None:
        for name in ("dimensions", "raters"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, (v,) if isinstance(v, str) else tuple(v))


def read_gold(path: str | Path) -> list[Gold]:
    """Gold answers from a JSONL file, one unit a line (see :func:`gold_from_text`)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # -sig: a byte-order mark from a Windows editor is fine
    except UnicodeDecodeError as e:
        raise BadInput(f"not UTF-8 text ({e.reason} at byte {e.start})", file=str(path)) from None
    return gold_from_text(text, source=str(path))


def gold_from_text(text: str, *, source: str) -> list[Gold]:
    """Gold answers from JSONL text, one unit a line; ``source`` names the file in messages.

    ``{"response_id": ID, "values": {"factuality": 4}, "explanation": "..."}`` for rating;
    ``{"response_ids": [A, B], "winner": A | null, "outcome": "win"|"tie"|"both_bad", ...}`` for
    comparing; ``{"response_ids": [...], "ranking": [...], ...}`` for ranking. A line that is not
    such an object raises BadInput naming the file, the line and the field.
    """
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue

        def bad(reason: str, field: str | None = None, n: int = n) -> BadInput:
            return BadInput(reason, file=source, line=n, field=field)

        try:
            d = json.loads(line)
        except ValueError as e:
            raise bad(f"not JSON ({e})") from None
        if not isinstance(d, dict):
            raise bad("a gold answer is a JSON object, one a line")
        key = "response_ids" if "response_ids" in d else "response_id"
        if key not in d:
            raise bad("missing: give 'response_id' (rating) or 'response_ids' (comparing, ranking)", "response_id")
        ids = d[key] if key == "response_ids" else [d[key]]
        if not isinstance(ids, list) or not ids or not all(isinstance(r, str) and r for r in ids):
            raise bad("must be a list of response ids" if key == "response_ids" else "must be a response id", key)
        if not isinstance(d.get("values") or {}, dict):
            raise bad("must be an object of dimension: value", "values")
        for k in ("explanation", "outcome", "winner"):
            if d.get(k) is not None and not isinstance(d[k], str):
                raise bad("must be a string", k)
        ranking = d.get("ranking")
        if ranking is not None and not (isinstance(ranking, list) and all(isinstance(r, str) for r in ranking)):
            raise bad("must be a list of response ids, best first", "ranking")
        out.append(Gold(response_ids=tuple(ids), explanation=d.get("explanation") or "",
                        values=dict(d.get("values") or {}), outcome=d.get("outcome"), winner=d.get("winner"),
                        ranking=tuple(ranking) if ranking else None, source=source, line=n))
    return out


def _gold_error(g: Gold, reason: str, field: str) -> BadInput:
    """A gold answer's problem, at its file and line when it was read from one."""
    if g.line is None:
        return BadInput(f"gold answer for {list(g.response_ids)}: {reason}", field=field)
    return BadInput(reason, file=g.source, line=g.line, field=field)


def units_from_dataset(store: Store, dataset: str, *, kind: Kind = "rate", models: Sequence[str] | None = None,
                       sample_index: int = 0) -> list[list[str]]:
    """The units of a campaign over a dataset's responses.

    rate: every response; compare: every pair of the models' responses to each item;
    rank: all the models' responses to each item (at least three).
    """
    items = [i.id for i in store.iter(R.Item, dataset=dataset)]
    if not items:
        raise NotFound(f"dataset {dataset!r} has no items")
    by_item: dict[str, list[R.Response]] = {}
    for start in range(0, len(items), 500):
        for r in store.iter(R.Response, item_id=items[start:start + 500], model=list(models) if models else None,
                            sample_index=sample_index):
            by_item.setdefault(r.item_id, []).append(r)
    out: list[list[str]] = []
    for item in items:
        resp = sorted(by_item.get(item, []), key=lambda r: r.model)
        if kind == "rate":
            out += [[r.id] for r in resp]
        elif kind == "compare":
            out += [[a.id, b.id] for a, b in combinations(resp, 2)]
        elif len(resp) >= 3:
            out.append([r.id for r in resp])
    if not out:
        raise BadInput(f"dataset {dataset!r} gives no {kind} units" + (f" for models {list(models)}" if models else ""))
    return out


def _check_gold(g: Gold, kind: Kind, rubric: R.Rubric, dims: list[str]) -> dict[str, Any]:
    """Validate one gold answer; return its rows' fields beyond campaign and unit."""
    if kind == "rate":
        if len(g.response_ids) != 1:
            raise _gold_error(g, "a rating campaign's gold names one response_id", "response_ids")
        if not g.values:
            raise _gold_error(g, "a rating campaign's gold gives 'values' for its dimensions", "values")
        rows = []
        for dim, v in g.values.items():
            where = f"values.{dim}"
            if dim not in dims:
                raise _gold_error(g, f"dimension {dim!r} is not rated in this campaign ({dims})", where)
            scale = rubric.dimension(dim).scale
            try:
                value, label = (None, str(v)) if scale.kind == "categorical" else (float(v), None)
            except (TypeError, ValueError):
                raise _gold_error(g, f"{v!r} is not a number", where) from None
            why = scale.accepts(value, label)
            if why:
                raise _gold_error(g, why, where)
            rows.append({"dimension": dim, "value": value, "label": label})
        return {"rows": rows}
    if kind == "compare":
        outcome = g.outcome or ("win" if g.winner else None)
        if outcome not in {"win", "tie", "both_bad"} or (outcome == "win") != (g.winner in g.response_ids):
            raise _gold_error(g, "give a winner among response_ids, or outcome 'tie' / 'both_bad'",
                              "outcome" if g.outcome not in (None, "win", "tie", "both_bad") else "winner")
        return {"rows": [{"dimension": "", "outcome": outcome, "winner": g.winner if outcome == "win" else None}]}
    if not g.ranking or sorted(g.ranking) != sorted(g.response_ids):
        raise _gold_error(g, "'ranking' must order all response_ids", "ranking")
    return {"rows": [{"dimension": "", "outcome": "win", "winner": g.ranking[0], "ranking": list(g.ranking)}]}


def create_campaign(
    store: Store,
    name: str,
    *,
    rubric: str,
    units: Sequence[Sequence[str]],
    spec: CampaignSpec = CampaignSpec(),
    gold: Sequence[Gold] = (),
    created_by: str | None = None,
    design: Design | None = None,
) -> R.Campaign:
    """Create a campaign over units (lists of response ids) and queue them for raters.

    ``spec`` says how it is run (:class:`CampaignSpec`). Each regular unit is given to
    ``spec.overlap`` different raters; ``gold`` units go to every rater, mixed into each
    rater's queue so that about ``spec.gold_share`` of what they rate is gold. In
    calibration mode every unit goes to every rater and gold units get immediate feedback.
    ``spec.raters`` (rater ids) limits who may work on it; none means every rater. The queue
    order is shuffled with ``spec.seed``. ``design``: the units are a sample of a dataset's
    items (:func:`assay.analysis.active.select_units`); how it was drawn and every frame item's
    inclusion probability are stored with the campaign.
    """
    from assay.rubrics import get_rubric

    dimensions, overlap, gold_share, raters = spec.dimensions, spec.overlap, spec.gold_share, spec.raters

    kind = campaign_kind(spec.kind)
    if _by_name(store, name) is not None:
        raise BadInput(f"a campaign named {name!r} already exists")
    rub = get_rubric(store, rubric)
    dims = list(dimensions or [])
    for d in dims:
        try:
            rub.dimension(d)
        except KeyError as e:
            raise BadInput(str(e.args[0])) from None
    if kind != "rate" and len(dims) > 1:
        raise BadInput("a compare or rank campaign asks one overall question: give at most one dimension")
    rated = dims or [d.name for d in rub.dimensions]
    if not 0 <= gold_share <= 1:
        raise BadInput("gold share must lie in [0, 1]")
    if gold_share > 0 and not gold:
        raise BadInput("a gold share needs gold answers (a gold file)")
    if overlap < 1:
        raise BadInput("overlap must be at least 1")

    gold_by_unit: dict[str, Gold] = {}
    all_units: dict[str, list[str]] = {}
    for u, g in [(u, None) for u in units] + [(g.response_ids, g) for g in gold]:
        ids = list(u)
        want = 1 if kind == "rate" else (2 if kind == "compare" else None)
        if (want is not None and len(ids) != want) or (kind == "rank" and len(ids) < 3) or len(set(ids)) != len(ids):
            why = f"a {kind} unit needs {want or '3 or more'} distinct responses, got {ids}"
            raise _gold_error(g, why, "response_ids") if g else BadInput(why)
        if g is not None:
            if unit_id(ids) in gold_by_unit:
                raise _gold_error(g, "a second gold answer for the same unit", "response_ids")
            gold_by_unit[unit_id(ids)] = g
        all_units.setdefault(unit_id(ids), ids)
    if not all_units:
        raise BadInput("a campaign needs at least one unit")
    resp = {}
    ids = sorted({r for u in all_units.values() for r in u})
    for start in range(0, len(ids), 500):
        resp.update({r.id: r for r in store.iter(R.Response, id=ids[start:start + 500])})
    for g in gold:
        gone = [r for r in g.response_ids if r not in resp]
        if gone:
            raise _gold_error(g, f"response {gone[0]!r} is not in the store",
                              "response_ids" if len(g.response_ids) > 1 else "response_id")
        if len({resp[r].item_id for r in g.response_ids}) != 1:
            raise _gold_error(g, "the responses of a unit must answer the same item", "response_ids")
    missing = [r for r in ids if r not in resp]
    if missing:
        raise NotFound(f"{len(missing)} response(s) not in the store, e.g. {missing[0]!r}")
    for uid, u in all_units.items():
        if len({resp[r].item_id for r in u}) != 1:
            raise BadInput(f"the responses of a unit must answer the same item: {u}")

    # the lead's own line of the rubric's guidelines, or the shared one (see annotate/edges.py)
    camp = R.Campaign(id=R.new_id()[:16], name=name, kind=kind, rubric=rub.id,
                      guideline_version=S.start_guideline_version(store, rub.id, created_by), dimensions=dims,
                      overlap=overlap,
                      gold_share=gold_share, calibration=spec.calibration, blind=spec.blind,
                      min_justification=spec.min_justification, deadline=spec.deadline, created_by=created_by,
                      selection=design.selection if design is not None else None)
    order = list(all_units)
    random.Random(spec.seed).shuffle(order)
    unit_rows = [{"campaign_id": camp.id, "unit_id": uid, "item_id": resp[all_units[uid][0]].item_id,
                  "response_ids": all_units[uid], "is_gold": uid in gold_by_unit, "position": pos, "n_claims": 0,
                  "has_room": True}
                 for pos, uid in enumerate(order)]
    gold_rows = []
    now = R.utcnow()
    for uid, g in gold_by_unit.items():
        for row in _check_gold(g, kind, rub, rated)["rows"]:
            gold_rows.append({"campaign_id": camp.id, "unit_id": uid, "value": None, "label": None, "outcome": None,
                              "winner": None, "ranking": None, **row, "explanation": g.explanation, "created_at": now})
    with store.transaction() as c:
        store.add([camp], conn=c)
        S.add_units(store, unit_rows, c)
        S.add_gold(store, gold_rows, c)
        if design is not None:
            from assay.analysis.active import frame_rows

            S.add_frame(store, frame_rows(camp.id, design), c)
        if raters:
            S.add_members(store, camp.id, raters, conn=c)
    S.refresh_queue_stats(store)
    return camp


def _by_name(store: Store, name: str) -> R.Campaign | None:
    found = store.list(R.Campaign, name=name)
    return found[0] if found else None


def get_campaign(store: Store, ref: str) -> R.Campaign:
    """A campaign by id or name."""
    camp = store.find(R.Campaign, ref) or _by_name(store, ref)
    if camp is None:
        raise NotFound(f"no campaign {ref!r} in the store")
    return camp


def close_campaign(store: Store, ref: str) -> R.Campaign:
    camp = get_campaign(store, ref)
    store.update("campaigns", camp.id, status="closed")
    return store.get(R.Campaign, camp.id)


def campaign_dimensions(store: Store, camp: R.Campaign) -> list[R.Dimension]:
    """The dimensions a campaign asks about (all of the rubric's when it names none)."""
    rub = rubric_of(store, camp.rubric)
    return [rub.dimension(d) for d in camp.dimensions] if camp.dimensions else list(rub.dimensions)


def rubric_of(store: Store, ref: str) -> R.Rubric:
    """A stored rubric by name@version, remembered on the store handle (a stored version never changes)."""
    cache = store.__dict__.setdefault("_assay_rubric_cache", {})
    if ref not in cache:
        cache[ref] = store.rubric(ref)
    return cache[ref]
