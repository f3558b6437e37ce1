"""The library's entries: versions, history, filters, examples, retirement, detector specs."""

from __future__ import annotations

import pytest

from assay import records as R
from assay.errors import AssayError, BadInput, NotFound
from assay.library import (
    add_candidate, add_entry, discover, edit_entry, get_entry, history, link_examples, list_entries, retire_entry,
    select_failures,
)
from tests.library.planted import planted

REGEX = {"program": {"name": "regex", "args": {"pattern": "^(?![\\s\\S]*(sorry|can't|cannot|won't|unable))",
                                               "flags": "i"}}}


def test_edits_are_new_versions_and_history_is_kept(store):
    modes = planted(store)
    e1 = add_entry(store, "Over-refusal of benign requests", examples=modes["refusal"][:3], tags=["refusal"],
                   severity="high", detector=REGEX, created_by="ann")
    assert (e1.entry, e1.version, e1.status, e1.models) == ("over-refusal-of-benign-requests", 1, "open", ["alpha@1"])
    assert e1.detector == {"program": {"name": "regex", "version": "1", "args": {
        "pattern": REGEX["program"]["args"]["pattern"], "mode": "search", "flags": "i"}}}
    e2 = edit_entry(store, e1.entry, hypothesis="Safety tuning overreacts to verbs.", status="confirmed",
                    created_by="bob")
    e3 = link_examples(store, e1.entry, [modes["refusal"][5], modes["arithmetic"][0]])
    assert (e2.version, e3.version) == (2, 3)
    assert e3.hypothesis == "Safety tuning overreacts to verbs." and e3.status == "confirmed"
    assert e3.models == ["alpha@1", "beta@1"] and len(e3.examples) == 5 and e3.tags == ["refusal"]
    versions = history(store, e1.entry)
    assert [(v.version, v.status, v.created_by) for v in versions] == [(1, "open", "ann"), (2, "confirmed", "bob"),
                                                                       (3, "confirmed", None)]
    assert versions[0].hypothesis == ""  # the old version is untouched
    assert get_entry(store, e1.entry).version == 3 and get_entry(store, e1.entry, 1).id == e1.id
    with pytest.raises(NotFound, match="no version 9"):
        get_entry(store, e1.entry, 9)


def test_list_filters_and_retire(store):
    modes = planted(store)
    add_entry(store, "Refusals", examples=modes["refusal"][:2], tags=["safety"])
    add_entry(store, "Sums", examples=modes["arithmetic"][:2], tags=["math"])
    edit_entry(store, "sums", status="confirmed")
    assert [e.entry for e in list_entries(store)] == ["refusals", "sums"]
    assert [e.entry for e in list_entries(store, status="confirmed")] == ["sums"]
    assert [e.entry for e in list_entries(store, tag="safety")] == ["refusals"]
    assert [e.entry for e in list_entries(store, model="beta@1")] == ["sums"]
    r = retire_entry(store, "refusals", reason="duplicate of another entry")
    assert r.status == "retired" and r.evidence["retired"] == {"reason": "duplicate of another entry", "was": "open"}
    assert [e.entry for e in list_entries(store)] == ["sums"]
    assert [e.entry for e in list_entries(store, include_retired=True)] == ["refusals", "sums"]
    assert [e.entry for e in list_entries(store, status="retired")] == ["refusals"]
    with pytest.raises(BadInput, match="already retired"):
        retire_entry(store, "refusals")


def test_bad_input(store):
    modes = planted(store)
    add_entry(store, "Sums", examples=modes["arithmetic"][:1])
    with pytest.raises(BadInput, match="exists"):
        add_entry(store, "sums!")
    with pytest.raises(BadInput, match="no response 'nope'"):
        add_entry(store, "Other", examples=["nope"])
    with pytest.raises(BadInput, match="slug"):
        add_entry(store, "Other", entry="Bad Slug")
    with pytest.raises(BadInput, match="no program judge named 'nonesuch'"):
        add_entry(store, "Other", detector={"program": {"name": "nonesuch"}})
    with pytest.raises(BadInput, match="needs a threshold"):
        add_entry(store, "Other", detector={"program": {"name": "rouge_l"}})
    with pytest.raises(BadInput, match="rubric, dimension"):
        add_entry(store, "Other", detector={"rater": "judge@1"})
    with pytest.raises(BadInput, match="severity"):
        edit_entry(store, "sums", severity="dire")
    with pytest.raises(BadInput, match="cannot edit"):
        edit_entry(store, "sums", source="judges")
    with pytest.raises(NotFound, match="no library entry 'ghost'"):
        edit_entry(store, "ghost", title="x")
    assert len(history(store, "sums")) == 1  # nothing was written by the refused edits


def test_a_lost_race_for_a_version_is_refused(store):
    planted(store)
    e = add_entry(store, "Sums")
    store.add([R.LibraryEntry(entry="sums", version=2, title="someone else's edit")])
    # a writer that read version 1 now writes version 2 again: the store keeps the first, we say so
    with pytest.raises(AssayError, match="written by someone else"):
        from assay.library.entries import _write

        _write(store, R.LibraryEntry(**{**e.model_dump(exclude={"id"}), "version": 2, "title": "mine"}))
    assert get_entry(store, "sums").title == "someone else's edit"


def test_an_edit_from_a_version_that_moved_on_writes_nothing(store):
    from assay.library import EntryConflict

    planted(store)
    add_entry(store, "Sums")
    edit_entry(store, "sums", hypothesis="carries are dropped", created_by="ann", expected_version=1)  # -> v2
    with pytest.raises(EntryConflict, match="ann saved version 2 of entry 'sums' after version 1 was read"):
        edit_entry(store, "sums", status="confirmed", created_by="bob", expected_version=1)
    with pytest.raises(EntryConflict):
        retire_entry(store, "sums", reason="fixed", expected_version=1)
    assert [(v.version, v.status) for v in history(store, "sums")] == [(1, "open"), (2, "open")]
    assert retire_entry(store, "sums", reason="fixed", expected_version=2).version == 3


def test_a_candidate_becomes_an_entry_with_its_figures(store):
    modes = planted(store)
    found = discover(select_failures(store, rubric="helpful", dimension="quality"))
    c = next(c for c in found.candidates if c.specific_to == "alpha@1")
    e = add_candidate(store, c, detector=REGEX, settings=found.settings, tags=["found"])
    assert e.source == "cluster" and e.title == c.title and e.entry.startswith(c.terms[0])
    assert set(e.examples) == set(modes["refusal"]) and e.examples[0] == c.members[0]
    assert e.models == ["alpha@1"] and e.tags == ["found"]
    assert e.evidence["found"]["size"] == 10 and e.evidence["found"]["settings"]["distance_threshold"] == 0.6
    assert {m["model"]: m["rate"] for m in e.evidence["found"]["models"]} == {"alpha@1": 0.5, "beta@1": 0.0}
