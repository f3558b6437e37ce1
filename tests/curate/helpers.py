"""Builders shared by the curation tests: datasets of items with known external ids."""

from __future__ import annotations

from assay import records as R


def item(ds: str, ext: str, prompt: str | None = None, **fields) -> R.Item:
    return R.Item(id=R.Item.make_id(ds, ext, None, None), dataset=ds, external_id=ext, prompt=prompt, **fields)


def add_dataset(store, ds: str, prompts: list[str | dict]) -> list[R.Item]:
    """Dataset ``ds`` with one item per prompt (a dict gives the item's fields), external ids 1, 2, ..."""
    items = [item(ds, str(k), **(p if isinstance(p, dict) else {"prompt": p})) for k, p in enumerate(prompts, 1)]
    store.add([R.Dataset(name=ds), *items])
    return items


def ext_of(store, ds: str) -> dict[str, str]:
    return {i.id: i.external_id for i in store.iter("items", dataset=ds)}


def log_by_ext(store, run_id: str, ds: str) -> dict[str, tuple]:
    """The log of a run keyed by the source item's external id: (step, action, reason, related external id)."""
    ext = ext_of(store, ds)
    return {ext[r.item_id]: (r.step, r.action, r.reason, ext.get(r.related_id) if r.related_id else None)
            for r in store.iter("curation_log", run_id=run_id)}
