"""`assay library` end to end on both stores: find (with an LLM and --save), add, edit, list, show, retire, check."""

from __future__ import annotations

import json

from assay.cli import main
from assay.store import Store
from assay.testing import ScriptedServer
from tests.library.planted import planted
from tests.library.test_check import Target
from tests.library.test_entries import REGEX
from tests.library.test_hypothesise import _answer


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _planted(url: str) -> dict:
    with Store(url) as s:
        return planted(s)


def test_find_hypothesise_save_then_curate(capsys, store_url):
    modes = _planted(store_url)
    db = ["--db", store_url]
    code, out, err = run(capsys, *db, "library", "find", "--rubric", "helpful", "--dimension", "quality")
    assert code == 0, err
    assert "20 failures, 2 failure modes" in out and "candidate failure modes" in out and "alpha@1 50% x2.0" in out

    with ScriptedServer(handler=_answer) as srv:
        code, out, err = run(capsys, *db, "library", "find", "--rubric", "helpful", "--dimension", "quality",
                             "--hypothesise-with", "analyst@1", "--base-url", srv.base_url, "--save",
                             "--tag", "q3", "--by", "ann", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["failures"] == 20 and found["judged"] == {"alpha@1": 20, "beta@1": 20}
    assert {c["title"] for c in found["candidates"]} == {"Over-refusal of benign requests", "Multiplication errors"}
    assert sorted(found["saved"]) == ["multiplication-errors", "over-refusal-of-benign-requests"]

    code, out, err = run(capsys, *db, "library", "list", "--json")
    listed = json.loads(out)
    assert [e["entry"] for e in listed] == ["multiplication-errors", "over-refusal-of-benign-requests"]
    assert all(e["tags"] == ["q3"] and e["created_by"] == "ann" and e["source"] == "cluster" for e in listed)

    code, out, err = run(capsys, *db, "library", "edit", "over-refusal-of-benign-requests", "--status", "confirmed",
                         "--detector", json.dumps(REGEX), "--severity", "critical", "--by", "bob")
    assert code == 0, err
    assert "version 2 (confirmed)" in out
    code, out, err = run(capsys, *db, "library", "show", "over-refusal-of-benign-requests")
    assert code == 0, err
    assert "Over-refusal of benign requests" in out and "Safety tuning" in out and "history" in out
    assert "critical" in out and "bob" in out and "ann" in out
    code, out, err = run(capsys, *db, "library", "list", "--status", "confirmed", "--json")
    assert [e["entry"] for e in json.loads(out)] == ["over-refusal-of-benign-requests"]

    code, out, err = run(capsys, *db, "library", "retire", "multiplication-errors", "--reason", "known")
    assert code == 0, err
    code, out, err = run(capsys, *db, "library", "list", "--json")
    assert [e["entry"] for e in json.loads(out)] == ["over-refusal-of-benign-requests"]

    code, out, err = run(capsys, *db, "library", "add", "--title", "Terse refusals", "--example",
                         modes["refusal"][0], "--tag", "manual")
    assert code == 0, err
    assert "added terse-refusals" in out


def test_check_all_on_a_new_version(capsys, store_url):
    modes = _planted(store_url)
    db = ["--db", store_url]
    example_args = [a for rid in modes["refusal"] for a in ("--example", rid)]
    code, _, err = run(capsys, *db, "library", "add", "--title", "Over-refusal", "--entry", "refusal",
                       "--detector", json.dumps(REGEX), *example_args)
    assert code == 0, err
    run(capsys, *db, "library", "add", "--title", "No detector", "--example", modes["arithmetic"][0])
    t = Target()
    with ScriptedServer(handler=t) as srv:
        code, out, err = run(capsys, *db, "library", "check", "--all", "--model", "alpha@2", "--base-url",
                             srv.base_url)
        assert code == 0, err
        assert "re-check on alpha@2" in out and "0/10" in out and "open -> mitigated" in out
        t.refuses = True
        code, out, err = run(capsys, *db, "library", "check", "refusal", "--model", "alpha@3", "--base-url",
                             srv.base_url, "--json")
    assert code == 0, err
    [r] = json.loads(out)
    assert (r["previous_status"], r["status"], r["check"]["failures"], r["check"]["n"]) == ("mitigated", "regressed",
                                                                                             10, 10)


def test_bad_input_is_one_line(capsys, store_url):
    _planted(store_url)
    db = ["--db", store_url]
    cases = [
        (["library", "find"], "say where failures come from"),
        (["library", "find", "--rubric", "helpful", "--dimension", "nope"], "no dimension 'nope'"),
        (["library", "find", "--rubric", "helpful", "--dimension", "quality", "--hypothesise-with", "x"],
         "--hypothesise-with"),
        (["library", "show", "ghost"], "no library entry 'ghost'"),
        (["library", "add", "--title", "X", "--detector", "{nope"], "not JSON"),
        (["library", "check", "--model", "a@1"], "give one ENTRY or --all"),
        (["library", "check", "ghost", "--model", "a@1", "--base-url", "http://127.0.0.1:9/v1"],
         "no library entry 'ghost'"),
    ]
    for args, message in cases:
        code, out, err = run(capsys, *db, *args)
        assert code in (1, 2), (args, code, err)
        assert message in err and len(err.strip().splitlines()) == 1, (args, err)


def test_find_with_facets_names_each_failure_first(capsys, store_url):
    """--facets-with asks once per failure (then from the cache) and clusters the named kinds."""
    modes = _planted(store_url)
    db = ["--db", store_url]

    def kind(body: dict) -> str:
        user = body["messages"][-1]["content"]
        return json.dumps({"facet": "refuses a harmless request" if "Refuses a harmless" in user
                           else "wrong arithmetic answer"})

    with ScriptedServer(handler=kind) as srv:
        args = [*db, "library", "find", "--rubric", "helpful", "--dimension", "quality", "--min-size", "2",
                "--facets-with", "kinds@1", "--base-url", srv.base_url, "--json"]
        code, out, _ = run(capsys, *args)
        asked = len(srv.chat_requests)
        assert code == 0 and run(capsys, *args)[0] == 0 and len(srv.chat_requests) == asked  # cached
    found = json.loads(out)
    assert asked == found["failures"] and found["settings"]["facets"] == "kinds@1"
    assert sorted(sorted(c["members"]) for c in found["candidates"]) == sorted(sorted(v) for v in modes.values())
    code, _, err = run(capsys, *db, "library", "find", "--rubric", "helpful", "--dimension", "quality",
                       "--facets-with", "nope")
    assert code == 2 and "--facets-with" in err
