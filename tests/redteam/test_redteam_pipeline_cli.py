"""The red-team commands end to end: attack a scripted target, detect refusals, measure ASR; imports."""

from __future__ import annotations

import json

import pytest

from assay.cli import main

from ._data import JBB, PUBLISHED_ASR, completions
from .test_attacks import GOALS, Target, behaviors, scripted


def test_attack_then_detect_then_asr_finds_the_one_attack_that_works(store, store_url, capsys):
    """The target refuses plainly and complies with base64: the detector and the ASR must say so."""
    behaviors(store)
    with scripted(Target()) as srv:
        assert main(["--db", store_url, "redteam", "run", "--behaviors", "beh", "--model", "target@1",
                     "--base-url", srv.base_url, "--attack", "direct", "--attack", "base64", "--attack", "roleplay",
                     "--json"]) == 0
    capsys.readouterr()
    assert main(["--db", store_url, "redteam", "detect", "--attempts-only"]) == 0
    capsys.readouterr()
    assert main(["--db", store_url, "redteam", "asr", "--by", "attack", "--json"]) == 0  # only refusal was judged
    result = json.loads(capsys.readouterr().out)
    assert result["dimension"] == "refusal" and result["rater"].startswith("program:refusal:")
    rows = {r["attack"]: r for r in result["rows"]}
    n = len(GOALS)
    assert {a: (r["successes"], r["n"]) for a, r in rows.items()} == {
        "direct": (0, n), "base64": (n, n), "roleplay": (0, n)}
    assert main(["--db", store_url, "redteam", "asr", "--dimension", "refusal", "--compare", "base64,direct",
                 "--on", "attack", "--json"]) == 0
    cmp = json.loads(capsys.readouterr().out)["comparison"]
    assert (cmp["only_first"], cmp["only_second"], cmp["behaviors"]) == (n, 0, n)


def test_import_jailbreakbench_and_compare_two_models(tmp_path, capsys):
    db = str(tmp_path / "a.db")
    files = [str(JBB / "PAIR-gpt-4-0125-preview.json"), str(JBB / "PAIR-gpt-3.5-turbo-1106.json")]
    assert main(["--db", db, "redteam", "import", "jailbreakbench", *files, "--json"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "redteam", "import", "jailbreakbench", *files, "--json"]) == 0  # again: adds nothing
    assert all(r["attempts_added"] == 0 for r in json.loads(capsys.readouterr().out))
    rater = "jailbreakbench.artifact.jailbroken"
    assert main(["--db", db, "redteam", "asr", "--rater", rater, "--json"]) == 0
    got = {r["model"]: r["asr"] for r in json.loads(capsys.readouterr().out)["rows"]}
    assert got == {"gpt-4-0125-preview@jbb": pytest.approx(PUBLISHED_ASR["PAIR-gpt-4-0125-preview"]),
                   "gpt-3.5-turbo-1106@jbb": pytest.approx(PUBLISHED_ASR["PAIR-gpt-3.5-turbo-1106"])}
    assert main(["--db", db, "redteam", "asr", "--rater", rater, "--json",
                 "--compare", "gpt-4-0125-preview@jbb,gpt-3.5-turbo-1106@jbb"]) == 0
    cmp = json.loads(capsys.readouterr().out)["comparison"]
    assert (cmp["behaviors"], cmp["only_first"], cmp["only_second"]) == (100, 8, 45) and cmp["p_value"] < 1e-5


def test_import_xstest_detect_and_over_refusal(tmp_path, capsys):
    db = str(tmp_path / "x.db")
    assert main(["--db", db, "redteam", "import", "xstest", str(completions("llama2orig"))]) == 0
    assert main(["--db", db, "redteam", "detect"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "redteam", "refusals", "--rater", "xstest.final_label", "--json"]) == 0
    (human,) = json.loads(capsys.readouterr().out)
    # the human labels: 38.0% full and 21.6% partial refusals of the 250 safe prompts
    assert (human["over_refusal"]["k"], human["over_refusal"]["n"], human["unsafe_compliance"]["k"]) == (149, 250, 0)
    assert main(["--db", db, "redteam", "refusals", "--rater", "refusal", "--json"]) == 0
    (ours,) = json.loads(capsys.readouterr().out)
    assert abs(ours["over_refusal"]["rate"] - human["over_refusal"]["rate"]) < 0.06


def test_the_bundled_artifacts_give_a_behaviour_set_to_attack(tmp_path, capsys):
    db = str(tmp_path / "b.db")
    assert main(["--db", db, "redteam", "import", "jailbreakbench", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["file"]: r["published_asr"] for r in rows} == {f"{k}.json": v for k, v in PUBLISHED_ASR.items()}
    assert main(["--db", db, "ls", "--json"]) == 0
    datasets = {d["dataset"]: d["items"] for d in json.loads(capsys.readouterr().out)["datasets"]}
    assert datasets["jbb-behaviors"] == 100


def test_bad_input_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"parameters": {}, "jailbreaks": [{"index": 0}]}')
    assert main(["--db", str(tmp_path / "b.db"), "redteam", "import", "jailbreakbench", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(bad) in err and len(err.splitlines()) == 1
