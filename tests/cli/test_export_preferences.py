"""`assay export preferences`: the PandaLM set through the command line, with filters and the manifest."""

from __future__ import annotations

import hashlib
import json

from assay.cli import main

GPT = "llm:gpt-3.5-turbo:1cb21d393250"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_export_preferences_from_pandalm(capsys, tmp_path, store_url):
    assert run(capsys, "--db", store_url, "load", "pandalm")[0] == 0
    out = tmp_path / "prefs.jsonl"
    code, text, _ = run(capsys, "--db", store_url, "export", "preferences", "--format", "trl", "--out", str(out))
    assert code == 0 and "wrote 870 trl rows from 870 of 999 pairs" in text and "no_majority 37, tie 92" in text
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 870 and all(set(r) == {"prompt", "chosen", "rejected"} for r in rows)
    manifest = json.loads((tmp_path / "prefs.jsonl.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["counts"]["records_used"] == len(manifest["records"]["comparisons"]) == 3468

    # humans only, unanimous, no tie votes, reward rows with a margin, as Parquet
    pq = tmp_path / "rm.parquet"
    code, text, _ = run(capsys, "--db", store_url, "export", "preferences", "--format", "reward", "--out", str(pq),
                        "--rater-kind", "human", "--min-agreement", "1", "--exclude-ties", "--json")
    m = json.loads(text)
    assert code == 0 and m["counts"]["rows"] == 794 and m["counts"]["records_dropped"] == {"rater_kind": 974}
    assert m["filters"]["rater_kinds"] == ["human"] and m["file_format"] == "parquet"
    import pandas as pd

    df = pd.read_parquet(pq)
    assert list(df.columns) == ["prompt", "chosen", "rejected", "margin"] and len(df) == 794
    assert set(df["margin"]) <= {1.0}  # unanimous votes without strengths

    # gold: annotator 1 is gold; GPT-3.5 agrees with them on 71% of pairs, below 0.75, and drops out
    code, text, _ = run(capsys, "--db", store_url, "export", "preferences", "--format", "kto", "--out",
                        str(tmp_path / "kto.jsonl"), "--gold-rater", "human:pandalm-annotator1",
                        "--min-gold-accuracy", "0.75", "--json")
    m = json.loads(text)
    assert code == 0 and m["counts"]["records_dropped"] == {"gold_accuracy": 974}
    assert round(m["gold"]["raters"][GPT]["accuracy"], 3) == 0.709
    assert m["counts"]["rows"] == 2 * m["counts"]["pairs_kept"]


def test_export_preferences_bad_input_exits_2(capsys, tmp_path):
    db = str(tmp_path / "a.db")
    code, _, err = run(capsys, "--db", db, "export", "preferences", "--format", "dpo", "--out",
                       str(tmp_path / "x.jsonl"))
    assert code == 2 and "unknown preference format 'dpo'" in err
    code, _, err = run(capsys, "--db", db, "export", "preferences", "--source", "judgments", "--out",
                       str(tmp_path / "x.jsonl"))
    assert code == 2 and "needs a rubric dimension" in err
    code, _, err = run(capsys, "--db", db, "export", "items", "--exclude-ties", "--out", str(tmp_path / "i.jsonl"))
    assert code == 2 and "only apply to `assay export preferences`, not items" in err
