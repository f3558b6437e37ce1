"""Run curation steps over a dataset and write the curated dataset and the log, as one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from assay import records as R
from assay.curate.steps import Decision, Step, steps_from
from assay.curate.text import natural_key
from assay.errors import BadInput
from assay.store import Store

# (step label, items done, items in play) as a step goes
OnProgress = Callable[[str, int, int], None]


@dataclass
class CurationSummary:
    """What a curation run did: per step how many items it removed and changed, and what was written."""

    run_id: str
    source: str
    target: str
    total: int
    kept: int
    steps: list[dict[str, Any]] = field(default_factory=list)  # {step, label, removed, modified, noted}
    """Per step: items removed, modified, and ``noted``: kept with a log row saying why (e.g. too short to tell)."""
    added: dict[str, int] = field(default_factory=dict)  # records written, by kind
    already_done: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_id_of(source: str, target: str, steps: Sequence[Step], carry_responses: bool) -> str:
    """The curation run's id: a digest of source, target, the steps' specs and whether responses were carried."""
    return "curate-" + R.digest("curate", source, target, [s.spec() for s in steps], bool(carry_responses), size=8)


def order_items(items: Iterable[R.Item]) -> list[R.Item]:
    """The order every step sees items in: by external id (digit runs compared as numbers), then by id."""
    return sorted(items, key=lambda i: (i.external_id is None, natural_key(i.external_id), i.id))


def target_item_id(target: str, item: R.Item) -> str:
    """The id a source item gets in the target dataset: from its external id, or its source id when it has none."""
    return R.Item.make_id(target, item.external_id if item.external_id is not None else item.id, None, None)


def _step_names(steps: Sequence[Step]) -> list[str]:
    """The log's ``step`` of each step: its name, with ``#2``, ``#3`` for a name used again."""
    seen: Counter = Counter()
    out = []
    for s in steps:
        seen[s.name] += 1
        out.append(s.name if seen[s.name] == 1 else f"{s.name}#{seen[s.name]}")
    return out


def curate(store: Store, source: str, target: str, steps: Sequence[Step | str | Mapping[str, Any]], *,
           carry_responses: bool = False, on_progress: OnProgress | None = None) -> CurationSummary:
    """Apply ``steps`` in order to the items of dataset ``source`` and write dataset ``target``.

    The target holds the kept items (the changed text where a step such as ``pii`` masked
    it) under new ids, their metadata naming ``source_item_id`` and ``curation_run``. Every
    removal and change is a ``CurationLog`` row. With ``carry_responses`` the kept items'
    responses come along, re-keyed to the new items, with the judgments and comparisons
    on them (so preference exports over ``target`` work); a masking step masks their text
    too. Everything is written in one transaction: an error leaves the store as it was.
    The run's id is a digest of source, target and steps, so running the same curation
    again adds nothing.
    """
    if not source or not target:
        raise BadInput("a source and a target dataset are needed", field="source" if not source else "target")
    if source == target:
        raise BadInput("the target must be a new dataset, not the source", field="target")
    try:
        chosen = steps_from(steps)
    except ValueError as e:
        raise BadInput(str(e), field="steps") from None
    if not chosen:
        raise BadInput("give at least one step", field="steps")
    if store.find(R.Dataset, source) is None:
        raise BadInput(f"no dataset {source!r} in the store", field="source")
    run_id = run_id_of(source, target, chosen, carry_responses)
    existing = store.find(R.Dataset, target)
    if existing is not None and existing.source != f"curate:{run_id}":
        raise BadInput(f"dataset {target!r} already exists and was not written by this curation "
                       f"(its source: {existing.source}); choose another target", field="target")
    for s in chosen:
        try:
            s.prepare(store)
        except ValueError as e:
            raise BadInput(f"curation step {s.name}: {e}", field="steps") from None

    items = order_items(store.iter(R.Item, dataset=source))
    labels = _step_names(chosen)
    snapshot = {"source": source, "target": target, "steps": [s.spec() for s in chosen],
                "carry_responses": bool(carry_responses)}
    summary = CurationSummary(run_id, source, target, total=len(items), kept=0,
                              already_done=store.find(R.Run, run_id) is not None)
    added: Counter = Counter()
    with store.transaction() as conn:
        current = {it.id: it for it in items}
        modified: dict[str, list[tuple[str, Step, Decision]]] = {}
        for label, s in zip(labels, chosen):
            in_play = list(current.values())
            tick = (lambda n, _l=s.label(), _t=len(in_play): on_progress(_l, n, _t)) if on_progress else None
            outcomes = s.apply(in_play, tick)
            removed_rows, n_removed, n_modified, n_noted = [], 0, 0, 0
            for o in outcomes:
                if o.item_id not in current:
                    raise ValueError(f"curation step {s.name} acted on item {o.item_id}, which is not in play")
                if o.action == "removed":
                    del current[o.item_id]
                    n_removed += 1
                    removed_rows.append(_log(run_id, source, target, label, s, o, None))
                elif o.action == "kept":
                    n_noted += 1
                    removed_rows.append(_log(run_id, source, target, label, s, o, None))
                else:
                    if o.item is None:
                        raise ValueError(f"curation step {s.name} changed item {o.item_id} but gave no item")
                    current[o.item_id] = o.item
                    modified.setdefault(o.item_id, []).append((label, s, o))
                    n_modified += 1
            added["curation_log"] += store.add(removed_rows, conn=conn)
            summary.steps.append({"step": label, "label": s.label(), "removed": n_removed, "modified": n_modified,
                                  "noted": n_noted})
        new_ids = {src_id: target_item_id(target, it) for src_id, it in current.items()}
        mod_rows = [_log(run_id, source, target, label, s, o, new_ids.get(src_id))
                    for src_id, acts in modified.items() for label, s, o in acts]
        added["curation_log"] += store.add(mod_rows, conn=conn)
        dataset = R.Dataset(name=target, description=f"{source} curated by " + " + ".join(s.label() for s in chosen),
                            source=f"curate:{run_id}")
        added["datasets"] += store.add([dataset], conn=conn)
        new_items = [it.model_copy(update={
            "id": new_ids[src_id], "dataset": target,
            "external_id": it.external_id if it.external_id is not None else src_id,
            "metadata": {**it.metadata, "source_item_id": src_id, "curation_run": run_id}})
            for src_id, it in current.items()]
        added["items"] += store.add(new_items, conn=conn)
        if carry_responses:
            scrubs = [s.scrub for s in chosen if s.scrub is not None]
            for kind, n in _carry(store, conn, run_id, new_ids, scrubs).items():
                added[kind] += n
        summary.kept = len(new_items)
        snapshot_with_counts = {**snapshot, "counts": {"kept": summary.kept, "steps": summary.steps}}
        added["runs"] += store.add([R.Run(id=run_id, kind="curate", config=snapshot_with_counts, status="done",
                                          total=len(items), succeeded=summary.kept,
                                          finished_at=R.utcnow())], conn=conn)
    summary.added = {k: added[k] for k in sorted(added)}
    return summary


def _log(run_id: str, source: str, target: str, label: str, s: Step, o: Decision, new_item_id: str | None
         ) -> R.CurationLog:
    return R.CurationLog(id=R.CurationLog.make_id(run_id, o.item_id, label), run_id=run_id, source=source,
                         target=target, item_id=o.item_id, action=o.action, step=label, reason=o.reason,
                         related_id=o.related_id, new_item_id=new_item_id,
                         detail={**o.detail, "step": s.spec()})


def _chunks(ids: Sequence[str], size: int = 900) -> Iterable[list[str]]:
    for i in range(0, len(ids), size):
        yield list(ids[i:i + size])


def _carry(store: Store, conn: Any, run_id: str, new_ids: dict[str, str],
           scrubs: Sequence[Callable[[str], str]]) -> Counter:
    """Copy the responses of kept items to their new items, with the judgments and comparisons on them.

    ``scrubs`` (a masking step's change) apply to every carried text: the responses, and the
    justifications and flag notes of the verdicts, which may quote the response.
    """
    added: Counter = Counter()

    def clean(text: str | None) -> str | None:
        if text is None:
            return None
        for scrub in scrubs:
            text = scrub(text)
        return text

    resp_map: dict[str, str] = {}
    responses = []
    for chunk in _chunks(sorted(new_ids)):
        for r in store.iter(R.Response, item_id=chunk):
            new_item = new_ids[r.item_id]
            rid = R.Response.make_id(new_item, r.model, r.sample_index)
            resp_map[r.id] = rid
            text = clean(r.text)
            responses.append(r.model_copy(update={"id": rid, "item_id": new_item, "text": text,
                                                  "metadata": {**r.metadata, "source_response_id": r.id}}))
    added["responses"] += store.add(responses, conn=conn)

    def new_id(old: str) -> str:
        return R.digest("curated", run_id, old)

    judgments = [j for chunk in _chunks(sorted(resp_map)) for j in store.iter(R.Judgment, response_id=chunk)]
    carried_j = {j.id for j in judgments}
    added["judgments"] += store.add([j.model_copy(update={
        "id": new_id(j.id), "response_id": resp_map[j.response_id],
        "justification": clean(j.justification), "flag_note": clean(j.flag_note),
        "supersedes": new_id(j.supersedes) if j.supersedes in carried_j else None})
        for j in judgments], conn=conn)
    comparisons = [c for chunk in _chunks(sorted(new_ids)) for c in store.iter(R.Comparison, item_id=chunk)
                   if all(r in resp_map for r in c.response_ids)]
    carried_c = {c.id for c in comparisons}
    added["comparisons"] += store.add([c.model_copy(update={
        "id": new_id(c.id), "item_id": new_ids[c.item_id],
        "response_ids": [resp_map[r] for r in c.response_ids],
        "shown_order": [resp_map[r] for r in c.shown_order],
        "winner": resp_map[c.winner] if c.winner else None,
        "ranking": [resp_map[r] for r in c.ranking] if c.ranking else None,
        "justification": clean(c.justification), "flag_note": clean(c.flag_note),
        "supersedes": new_id(c.supersedes) if c.supersedes in carried_c else None})
        for c in comparisons], conn=conn)
    return added
