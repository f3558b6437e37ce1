"""Human rating campaigns: what is rated (units), by whom, with which rubric, overlap and gold."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from assay import records as R
from assay.errors import BadInput, NotFound
from assay.store import Store
from assay.store import app as S

Kind = Literal["rate", "compare", "rank"]


def unit_id(response_ids: Sequence[str]) -> str:
    """The id of a unit: its response id when it is one response, else a digest of the sorted ids."""
    if len(response_ids) == 1:
        return response_ids[0]
    return R.digest("unit", *sorted(response_ids))


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


def read_gold(path: str | Path) -> list[Gold]:
    """Gold answers from JSONL, one unit a line.

    ``{"response_id": ID, "values": {"factuality": 4}, "explanation": "..."}`` for rating;
    ``{"response_ids": [A, B], "winner": A | null, "outcome": "win"|"tie"|"both_bad", ...}`` for
    comparing; ``{"response_ids": [...], "ranking": [...], ...}`` for ranking.
    """
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            ids = tuple(d["response_ids"]) if "response_ids" in d else (d["response_id"],)
            out.append(Gold(response_ids=ids, explanation=str(d.get("explanation", "")),
                            values=dict(d.get("values") or {}), outcome=d.get("outcome"),
                            winner=d.get("winner"), ranking=tuple(d["ranking"]) if d.get("ranking") else None))
        except (ValueError, KeyError, TypeError) as e:
            raise BadInput(f"not a gold answer: {e}", file=str(path), line=n) from None
    return out


def units_from_dataset(store: Store, dataset: str, *, kind: Kind = "rate", models: Sequence[str] | None = None,
                       sample_index: int = 0) -> list[list[str]]:
    """The units of a campaign over a dataset's responses.

    rate: every response; compare: every pair of the models' responses to each item;
    rank: all the models' responses to each item (at least three).
    """
    items = [i.id for i in store.iter("items", dataset=dataset)]
    if not items:
        raise NotFound(f"dataset {dataset!r} has no items")
    by_item: dict[str, list[R.Response]] = {}
    for start in range(0, len(items), 500):
        for r in store.iter("responses", item_id=items[start:start + 500], model=list(models) if models else None,
                            sample_index=sample_index):
            by_item.setdefault(r.item_id, []).append(r)  # type: ignore[attr-defined]
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
    where = f"gold answer for {list(g.response_ids)}"
    if kind == "rate":
        if len(g.response_ids) != 1 or not g.values:
            raise BadInput(f"{where}: a rating campaign's gold gives one response_id and 'values'")
        rows = []
        for dim, v in g.values.items():
            if dim not in dims:
                raise BadInput(f"{where}: dimension {dim!r} is not rated in this campaign ({dims})")
            scale = rubric.dimension(dim).scale
            value, label = (None, str(v)) if scale.kind == "categorical" else (float(v), None)
            why = scale.accepts(value, label)
            if why:
                raise BadInput(f"{where}, {dim}: {why}")
            rows.append({"dimension": dim, "value": value, "label": label})
        return {"rows": rows}
    if kind == "compare":
        outcome = g.outcome or ("win" if g.winner else None)
        if outcome not in {"win", "tie", "both_bad"} or (outcome == "win") != (g.winner in g.response_ids):
            raise BadInput(f"{where}: give a winner among response_ids, or outcome 'tie' / 'both_bad'")
        return {"rows": [{"dimension": "", "outcome": outcome, "winner": g.winner if outcome == "win" else None}]}
    if not g.ranking or sorted(g.ranking) != sorted(g.response_ids):
        raise BadInput(f"{where}: 'ranking' must order all response_ids")
    return {"rows": [{"dimension": "", "outcome": "win", "winner": g.ranking[0], "ranking": list(g.ranking)}]}


def create_campaign(
    store: Store,
    name: str,
    *,
    rubric: str,
    units: Sequence[Sequence[str]],
    kind: Kind = "rate",
    dimensions: Sequence[str] | None = None,
    overlap: int = 1,
    gold: Sequence[Gold] = (),
    gold_share: float = 0.0,
    calibration: bool = False,
    blind: bool = True,
    min_justification: int = 0,
    deadline: datetime | None = None,
    raters: Sequence[str] | None = None,
    created_by: str | None = None,
    seed: int = 0,
) -> R.Campaign:
    """Create a campaign over units (lists of response ids) and queue them for raters.

    Each regular unit is given to ``overlap`` different raters; gold units go to every
    rater, mixed into each rater's queue so that about ``gold_share`` of what they rate is
    gold. In calibration mode every unit goes to every rater and gold units get immediate
    feedback. ``raters`` (rater ids) limits who may work on it; none means every rater.
    The queue order is shuffled with ``seed``.
    """
    from assay.rubrics import get_rubric

    if kind not in ("rate", "compare", "rank"):
        raise BadInput(f"campaign kind must be rate, compare or rank, not {kind!r}")
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
        raise BadInput("a gold share needs gold answers (--gold FILE)")
    if overlap < 1:
        raise BadInput("overlap must be at least 1")

    gold_by_unit = {unit_id(g.response_ids): g for g in gold}
    all_units: dict[str, list[str]] = {}
    for u in list(units) + [list(g.response_ids) for g in gold]:
        ids = list(u)
        want = 1 if kind == "rate" else (2 if kind == "compare" else None)
        if (want is not None and len(ids) != want) or (kind == "rank" and len(ids) < 3) or len(set(ids)) != len(ids):
            raise BadInput(f"a {kind} unit needs {want or '3 or more'} distinct responses, got {ids}")
        all_units.setdefault(unit_id(ids), ids)
    if not all_units:
        raise BadInput("a campaign needs at least one unit")
    resp = {}
    ids = sorted({r for u in all_units.values() for r in u})
    for start in range(0, len(ids), 500):
        resp.update({r.id: r for r in store.iter("responses", id=ids[start:start + 500])})  # type: ignore[attr-defined]
    missing = [r for r in ids if r not in resp]
    if missing:
        raise NotFound(f"{len(missing)} response(s) not in the store, e.g. {missing[0]!r}")
    for uid, u in all_units.items():
        if len({resp[r].item_id for r in u}) != 1:
            raise BadInput(f"the responses of a unit must answer the same item: {u}")

    guideline = store.guideline(rub.id)
    camp = R.Campaign(id=R.new_id()[:16], name=name, kind=kind, rubric=rub.id,
                      guideline_version=guideline.version if guideline else 1, dimensions=dims, overlap=overlap,
                      gold_share=gold_share, calibration=calibration, blind=blind,
                      min_justification=min_justification, deadline=deadline, created_by=created_by)
    order = list(all_units)
    random.Random(seed).shuffle(order)
    unit_rows = [{"campaign_id": camp.id, "unit_id": uid, "item_id": resp[all_units[uid][0]].item_id,
                  "response_ids": all_units[uid], "is_gold": uid in gold_by_unit, "position": pos, "n_claims": 0}
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
        if raters:
            S.add_members(store, camp.id, raters, conn=c)
    return camp


def _by_name(store: Store, name: str) -> R.Campaign | None:
    found = store.list("campaigns", name=name)
    return found[0] if found else None  # type: ignore[return-value]


def get_campaign(store: Store, ref: str) -> R.Campaign:
    """A campaign by id or name."""
    camp = store.find("campaigns", ref) or _by_name(store, ref)
    if camp is None:
        raise NotFound(f"no campaign {ref!r} in the store")
    return camp  # type: ignore[return-value]


def close_campaign(store: Store, ref: str) -> R.Campaign:
    camp = get_campaign(store, ref)
    store.update("campaigns", camp.id, status="closed")
    return store.get("campaigns", camp.id)  # type: ignore[return-value]


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
