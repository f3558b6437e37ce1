"""The pipeline: one transaction, idempotent, a run of kind curate, and data that preference export can use."""

from __future__ import annotations

import pytest

from assay import records as R
from assay.curate import Work, curate, step
from assay.errors import BadInput
from assay.io.preferences import PreferenceFilters, build_preferences
from tests.curate.helpers import add_dataset

KINDS = ("datasets", "items", "responses", "judgments", "comparisons", "curation_log", "runs")


@step("test-explode")
def explode(after: int = 0) -> Work:
    """Raise on the items (a test of the pipeline's transaction)."""
    def apply(items, progress):
        raise RuntimeError("step failed mid-way")
    return Work(apply)


def counts(store) -> dict[str, int]:
    return {k: store.count(k) for k in KINDS}


def test_a_failing_step_leaves_the_store_unchanged(store):
    add_dataset(store, "d", ["a", "a", " ", "b"])
    before = counts(store)
    with pytest.raises(RuntimeError, match="mid-way"):
        # the first two steps' log rows are written inside the transaction before the third raises
        curate(store, "d", "d2", ["empty", "exact-dup", "test-explode"])
    assert counts(store) == before and store.find("datasets", "d2") is None


def test_the_same_curation_twice_adds_nothing_and_records_one_run(store):
    add_dataset(store, "d", ["a b", "A  b", "", "c d"])
    first = curate(store, "d", "d2", ["empty", "exact-dup"])
    assert first.added == {"curation_log": 2, "datasets": 1, "items": 2, "runs": 1} and not first.already_done
    after = counts(store)
    again = curate(store, "d", "d2", ["empty", "exact-dup"])
    assert again.already_done and again.run_id == first.run_id and not any(again.added.values())
    assert counts(store) == after
    run = store.get("runs", first.run_id)
    assert run.kind == "curate" and run.status == "done" and (run.total, run.succeeded) == (4, 2)
    assert run.config["steps"] == [{"name": "empty", "version": "1", "args": {"fields": "prompt"}},
                                   {"name": "exact-dup", "version": "2",
                                    "args": {"fields": "prompt", "normalize": True, "lowercase": True, "nfkc": True,
                                             "punctuation": False}}]
    assert [(s["step"], s["removed"]) for s in run.config["counts"]["steps"]] == [("empty", 1), ("exact-dup", 1)]
    # other steps are another run; an existing dataset is never written into by another run
    with pytest.raises(BadInput, match="already exists"):
        curate(store, "d", "d2", ["empty"])
    with pytest.raises(BadInput, match="not the source"):
        curate(store, "d", "d", ["empty"])
    with pytest.raises(BadInput, match="no dataset 'nope'"):
        curate(store, "nope", "x", ["empty"])
    assert counts(store) == after


def _rated_dataset(store):
    """Four items (two duplicates) with two answers each, and human comparisons and judgments on them."""
    items = add_dataset(store, "d", ["What is 2+2?", "what is 2 + 2 ?", "Name a prime.", "Spell cat."])
    human = R.Rater(id=R.Rater.make_id("human", "ann"), kind="human", name="ann")
    store.add([R.Model(id="a@1"), R.Model(id="b@1"), human])
    records = []
    for it in items:
        ra, rb = (R.Response(id=R.Response.make_id(it.id, m, 0), item_id=it.id, model=m, text=f"{m} on {it.prompt}")
                  for m in ("a@1", "b@1"))
        records += [ra, rb, R.Comparison(id=f"c-{it.external_id}", item_id=it.id, rater_id=human.id,
                                         response_ids=[ra.id, rb.id], shown_order=[rb.id, ra.id], winner=ra.id),
                    R.Judgment(id=f"j-{it.external_id}", response_id=ra.id, rater_id=human.id, rubric="r@1",
                               dimension="quality", value=1.0)]
    store.add(records)
    return items


def test_preference_export_over_a_curated_dataset(store):
    _rated_dataset(store)
    s = curate(store, "d", "clean", ["exact-dup"], carry_responses=True)
    assert s.added["responses"] == 6 and s.added["comparisons"] == 3 and s.added["judgments"] == 3
    rows, manifest = build_preferences(store, "trl", PreferenceFilters(datasets=("clean",)))
    assert sorted(r["prompt"] for r in rows) == ["Name a prime.", "Spell cat.", "What is 2+2?"]
    assert all(r["chosen"].startswith("a@1 on ") and r["rejected"].startswith("b@1 on ") for r in rows)
    assert manifest["counts"]["records_dropped"] == {"dataset": 4}  # the source's own comparisons
    clean_items = {i.id for i in store.iter("items", dataset="clean")}
    for c in store.iter("comparisons", id=manifest["records"]["comparisons"]):
        assert c.item_id in clean_items and c.winner in c.response_ids
    # without carrying, the curated dataset has items only: nothing to export
    curate(store, "d", "bare", ["exact-dup"])
    assert build_preferences(store, "trl", PreferenceFilters(datasets=("bare",)))[0] == []
