"""`assay curate` round trip through the command line, and its one-line errors."""

from __future__ import annotations

import json

from assay.cli import main
from assay.store import Store
from tests.curate.test_pipeline import _rated_dataset


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_curate_round_trip(capsys, tmp_path, store_url):
    with Store(store_url) as s:
        _rated_dataset(s)
    code, out, _ = run(capsys, "--db", store_url, "curate", "steps", "--json")
    steps = {s["name"]: s for s in json.loads(out)}
    assert code == 0 and {"empty", "length", "language", "exact-dup", "near-dup", "pii", "decontaminate",
                          "filter"} <= set(steps)
    assert steps["decontaminate"]["args"]["ngram"] == 13 and steps["near-dup"]["args"]["threshold"] == 0.8

    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text("steps:\n  - empty\n  - exact-dup: {nfkc: false}\n")
    args = ["--db", store_url, "curate", "run", "--source", "d", "--target", "clean", "--steps", str(pipeline),
            "--step", "length(unit=words, max=2)", "--carry-responses"]
    code, out, _ = run(capsys, *args)
    assert code == 0 and "kept 1 of 4 items" in out and "exact-dup(nfkc=false)" in out
    code, out, _ = run(capsys, *args, "--json")
    summary = json.loads(out)
    assert code == 0 and summary["already_done"] and not any(summary["added"].values())
    assert [(s["step"], s["removed"]) for s in summary["steps"]] == [("empty", 0), ("exact-dup", 1), ("length", 2)]

    code, out, _ = run(capsys, "--db", store_url, "curate", "log", "--target", "clean", "--step", "length", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 2 and all(r["reason"].startswith("prompt has 3 words") for r in rows)
    code, out, _ = run(capsys, "--db", store_url, "curate", "log", summary["run_id"])
    assert code == 0 and "curation log: 3 rows" in out and "exact-dup" in out and "'What is" in out
    code, out, _ = run(capsys, "--db", store_url, "curate", "runs", "--json")
    assert code == 0 and [(r["run"], r["kept"], r["removed"]) for r in json.loads(out)] == [(summary["run_id"], 1, 3)]

    prefs = tmp_path / "prefs.jsonl"
    code, out, _ = run(capsys, "--db", store_url, "export", "preferences", "--dataset", "clean", "--out", str(prefs))
    assert code == 0
    assert [json.loads(x)["prompt"] for x in prefs.read_text().splitlines()] == ["Spell cat."]


def test_curate_bad_input_is_one_line_with_exit_code_2(capsys, tmp_path):
    db = str(tmp_path / "a.db")
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - empty\n  - near-dup:\n      threshold: 2\n")
    code, _, err = run(capsys, "--db", db, "curate", "run", "--source", "d", "--target", "e", "--steps", str(bad))
    assert code == 2 and f"{bad}, line 3: field 'steps[2]'" in err and "threshold must lie in (0, 1]" in err
    bad.write_text("steps: [empty\n")
    code, _, err = run(capsys, "--db", db, "curate", "run", "--source", "d", "--target", "e", "--steps", str(bad))
    assert code == 2 and "not valid YAML or JSON" in err and "line 2" in err
    code, _, err = run(capsys, "--db", db, "curate", "run", "--source", "d", "--target", "e", "--step", "pii(mode=x)")
    assert code == 2 and "field '--step 1'" in err and "mode must be mask or drop" in err
    code, _, err = run(capsys, "--db", db, "curate", "run", "--source", "d", "--target", "e", "--step", "empty")
    assert code == 2 and "field 'source': no dataset 'd' in the store" in err
    code, _, err = run(capsys, "--db", db, "curate", "log")
    assert code == 2 and "give a run id or --target" in err
    assert len(err.strip().splitlines()) == 1
