"""`assay redteam attacks` and `assay redteam run` in-process, against the scripted server."""

from __future__ import annotations

import json

import pytest

from assay.cli import main

from .test_attacks import Target, behaviors, scripted


@pytest.fixture
def db(store, store_url):
    behaviors(store)
    return store_url


def run(db, srv, *args):
    return main(["--db", db, "redteam", "run", "--behaviors", "beh", "--model", "target@1", "--base-url", srv.base_url,
                 "--backoff", "0.01", "--max-retries", "1", *args])


def test_attacks_lists_converters_attacks_and_scorers(capsys):
    assert main(["redteam", "attacks", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {(r["kind"], r["name"]) for r in rows}
    assert {("converter", "base64"), ("converter", "roleplay"), ("attack", "iterative"), ("scorer", "no-refusal")} <= names
    assert all(r["description"] for r in rows)
    assert main(["redteam", "attacks"]) == 0
    assert "base64" in capsys.readouterr().out


def test_run_single_shot_and_iterative_then_rerun_sends_nothing(db, store, capsys):
    with scripted(Target()) as srv:
        assert run(db, srv, "--attack", "base64", "--attack", "roleplay+prefix", "--json") == 0
        out = json.loads(capsys.readouterr().out)
        assert [(a["attack"], a["attempts"], a["added"]) for a in out["attacks"]] == [
            ("base64", 3, 3), ("roleplay+prefix", 3, 3)]
        assert run(db, srv, "--iterative", "--attacker", "attacker@1", "--scorer", "judge@1", "--streams", "1",
                   "--turns", "3", "--seed", "5", "--limit", "2") == 0
        table = capsys.readouterr().out
        assert "iterative" in table and "2/2 streams" in table
        sent = len(srv.chat_requests)
        assert run(db, srv, "--attack", "base64", "--attack", "roleplay+prefix", "--iterative", "--attacker",
                   "attacker@1", "--scorer", "judge@1", "--streams", "1", "--turns", "3", "--seed", "5",
                   "--limit", "2", "--json") == 0
        assert len(srv.chat_requests) == sent
        again = json.loads(capsys.readouterr().out)
        assert [a["added"] for a in again["attacks"]] == [0, 0] and again["iterative"]["attempts"] == 4
    assert store.count("attempts") == 10


def test_run_the_multiturn_attack(db, store, capsys):
    with scripted(Target()) as srv:
        assert run(db, srv, "--iterative", "--conversation", "--attacker", "attacker@1", "--scorer", "judge@1",
                   "--streams", "1", "--turns", "3", "--limit", "1", "--json") == 0
    out = json.loads(capsys.readouterr().out)["iterative"]
    assert (out["attack"], out["succeeded_streams"]) == ("multiturn", 1)
    (last,) = [a for a in store.list("attempts") if a.success]
    assert [m.role for m in store.get("items", last.item_id).messages] == ["user", "assistant", "user"]


def test_failed_calls_exit_1_with_the_count(db, capsys):
    target = Target()
    target.broken = "goal two"
    with scripted(target) as srv:
        assert run(db, srv, "--attack", "prefix") == 1
    captured = capsys.readouterr()
    assert "1 failed (bad_request 1)" in captured.err and "run the same command again" in captured.err


@pytest.mark.parametrize("args, field, message", [
    (["--attack", "nonesuch"], "--attack", "no converter named 'nonesuch'"),
    (["--attack", "leetspeak(rate=7)"], "--attack", "rate must lie in [0, 1]"),
    (["--iterative", "--attacker", "attacker@1"], "--scorer", "needs --attacker and --scorer"),
    (["--scorer", "judge@1"], "--iterative", "go with --iterative"),
    (["--conversation"], "--conversation", "goes with --iterative"),
    (["--iterative", "--attacker", "attacker", "--scorer", "judge@1"], "--attacker", "NAME@VERSION"),
    (["--iterative", "--attacker", "attacker@1", "--scorer", "nope"], "--scorer", "no program scorer 'nope'"),
])
def test_bad_input_is_one_line_exit_2(db, capsys, args, field, message):
    with scripted(Target()) as srv:
        assert run(db, srv, *args) == 2
        assert srv.chat_requests == []
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"field '{field}'" in err and message in err


def test_unknown_dataset_is_one_line_exit_1(db, capsys):
    with scripted(Target()) as srv:
        assert main(["--db", db, "redteam", "run", "--behaviors", "nope", "--model", "target@1",
                     "--base-url", srv.base_url]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: no dataset 'nope' in the store (import the behaviours with `assay import`)"


def test_catalogue_rows_say_what_they_test_and_where_the_idea_comes_from(capsys):
    from assay.redteam.attacks import TESTS

    assert main(["redteam", "attacks", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by = {(r["kind"], r["name"]): r for r in rows}
    for key in [("attack", "tap"), ("attack", "crescendo"), ("converter", "manyshot"), ("converter", "caesar"),
                ("converter", "homoglyph"), ("converter", "ascii-art"), ("detector", "refusal")]:
        assert key in by, key
    assert all(r["tests"] in TESTS and r["source"] for r in rows)
    assert "Mehrotra" in by[("attack", "tap")]["source"] and "Anil" in by[("converter", "manyshot")]["source"]
    assert by[("attack", "tap")]["args"]["max_calls"] == 100
    assert main(["redteam", "attacks"]) == 0
    out = capsys.readouterr().out
    assert "suite release-gate" in out and "harm" in out


def test_named_attacks_and_a_suite_file_from_the_cli(db, store, tmp_path, capsys):
    from assay.testing import ScriptedServer
    from assay.testing.redteam import FRAMINGS, PlantedRedTeam

    suite = tmp_path / "mine.yaml"
    suite.write_text("name: mine\nattacks:\n  - base64\n  - manyshot(shots=40)\n"
                     "  - tap(branching=2, width=2, depth=3, max_calls=30, seed=2)\n  - crescendo(turns=3, seed=1)\n"
                     "detectors: [refusal]\n")
    with ScriptedServer(handler=PlantedRedTeam(framing=FRAMINGS[3], min_shots=32)) as srv:
        # the plan first: TAP's whole budget (3 x 30) + crescendo's 3 streams x 3 turns x 3 calls + 2 x 3 single shots
        assert run(db, srv, "--suite", str(suite), "--attacker", "attacker@1", "--scorer", "judge@1", "--dry-run") == 0
        assert "at most 123 calls" in capsys.readouterr().err and not srv.chat_requests
        assert run(db, srv, "--suite", str(suite), "--attacker", "attacker@1", "--scorer", "judge@1", "--yes",
                   "--json") == 0
        out = json.loads(capsys.readouterr().out)
        assert [a["attack"] for a in out["attacks"]] == ["base64", "manyshot(shots=40)"]
        tap, crescendo = out["named"]
        assert tap["attack"] == "tap" and tap["behaviors"] == 3
        assert crescendo["attack"] == "crescendo" and 3 <= crescendo["attempts"] <= 9
        # the refusal detector judged every attempt; many-shot with 40 shots got through the planted weakness
        from assay.redteam.asr import asr

        rows = {r["attack"]: r for r in asr(store, dimension="refusal", by=("attack",))["rows"]}
        assert rows["manyshot(shots=40)"]["asr"] == 1.0 and rows["base64"]["asr"] == 0.0
        sent = len(srv.chat_requests)
        assert run(db, srv, "--suite", str(suite), "--attacker", "attacker@1", "--scorer", "judge@1", "--yes") == 0
        assert len(srv.chat_requests) == sent  # a rerun sends nothing
    capsys.readouterr()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nattacks:\n  - base64\n  - tap(dpth=3)\n")
    with ScriptedServer(handler=PlantedRedTeam()) as srv:
        assert run(db, srv, "--suite", str(bad), "--attacker", "attacker@1", "--scorer", "judge@1") == 2
        err = capsys.readouterr().err
        assert "bad.yaml" in err and "line 4" in err and "takes no argument dpth" in err
        assert run(db, srv, "--attack", "tap", "--scorer", "judge@1") == 2
        assert "needs --attacker and --scorer" in capsys.readouterr().err
        assert run(db, srv, "--suite", "nonesuch") == 2
        assert "release-gate" in capsys.readouterr().err
