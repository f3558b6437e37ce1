"""The `assay` command: init, import, export, ls, rubric, demo; exit codes and --json."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assay.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_init_import_ls_export(capsys, tmp_path, store_url):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"id": "1", "prompt": "Hi?", "response": "Hello", "model": "m@1"}\n'
                    '{"id": "2", "prompt": "Bye?", "response": "Ciao", "model": "m@2"}\n')
    code, out, _ = run(capsys, "--db", store_url, "init", "--json")
    assert code == 0 and json.loads(out)["rubrics"] == ["default@1", "injection@1", "redteam@1"]  # the built-in rubrics
    code, out, _ = run(capsys, "--db", store_url, "import", str(data), "--json")
    summary = json.loads(out)
    assert code == 0 and (summary["items_added"], summary["responses_added"]) == (2, 2)
    code, out, _ = run(capsys, "--db", store_url, "ls", "--json")
    ls = json.loads(out)
    assert ls["datasets"] == [{"dataset": "qa", "items": 2, "responses": 2}]
    assert {m["model"]: m["responses"] for m in ls["models"]} == {"m@1": 1, "m@2": 1}
    assert ls["rubrics"] == [{"rubric": "default@1", "dimensions": 5, "judgments": 0},
                             {"rubric": "injection@1", "dimensions": 2, "judgments": 0},
                             {"rubric": "redteam@1", "dimensions": 2, "judgments": 0}]
    code, out, _ = run(capsys, "--db", store_url, "export", "responses", "--format", "csv", "--out",
                       str(tmp_path / "r.csv"), "--model", "m@2")
    assert code == 0 and "wrote 1 responses" in out
    assert (tmp_path / "r.csv").read_text().count("\n") == 2
    code, out, _ = run(capsys, "--db", store_url, "ls")
    assert code == 0 and "qa" in out and "default@1" in out


def test_bad_input_exits_2_with_one_line(capsys, tmp_path):
    db = str(tmp_path / "a.db")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": \n')
    code, out, err = run(capsys, "--db", db, "import", str(bad))
    assert code == 2
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "bad.jsonl, line 2: invalid JSON" in lines[0]
    code, _, err = run(capsys, "--db", db, "import", str(tmp_path / "missing.csv"))
    assert code == 2 and "missing.csv: no such file" in err
    code, out, _ = run(capsys, "--db", db, "ls", "--json")
    assert json.loads(out)["totals"]["items"] == 0


def test_skip_invalid_reports_both_counts(capsys, tmp_path):
    data = tmp_path / "m.jsonl"
    data.write_text('{"prompt": "ok", "response": "r"}\n{"response": "r"}\n')
    code, out, err = run(capsys, "--db", str(tmp_path / "a.db"), "import", str(data), "--model", "x@1",
                         "--skip-invalid", "--rejects", str(tmp_path / "rej.jsonl"))
    assert code == 0 and "1 items and 1 responses added" in out and "1 rejected" in out
    assert json.loads((tmp_path / "rej.jsonl").read_text())["field"] == "prompt"


def test_rubric_commands(capsys, tmp_path):
    code, out, _ = run(capsys, "rubric", "show", "default", "--json")
    assert code == 0 and len(json.loads(out)["dimensions"]) == 5
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\ndimensions:\n  - name: x\n    description: d\n    scale: {kind: ordinal, levels: {1: a}}\n")
    code, _, err = run(capsys, "rubric", "validate", str(bad))
    assert code == 2 and "bad.yaml, line 5: field 'dimensions[0].scale': an ordinal scale needs at least two" in err
    good = tmp_path / "good.yaml"
    good.write_text("name: g\ndimensions:\n  - name: x\n    description: d\n    scale: {kind: binary}\n")
    code, out, _ = run(capsys, "--db", str(tmp_path / "a.db"), "rubric", "add", str(good))
    assert code == 0 and "added rubric g@1" in out
    code, out, _ = run(capsys, "--db", str(tmp_path / "a.db"), "rubric", "show", "g")
    assert code == 0 and "1 = yes, 0 = no" in out


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "assay", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "import" in proc.stdout and "export" in proc.stdout


def test_import_assay_is_fast_and_light():
    code = ("import sys, assay; heavy = [m for m in ('pandas', 'numpy', 'sqlalchemy', 'typer', 'httpx', 'scipy', 'ray') "
            "if m in sys.modules]; print(heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [["export", "items", "--out", "x.xml"], ["export", "widgets", "--out", "x.jsonl"]])
def test_bad_export_arguments_exit_2(capsys, tmp_path, args):
    code, _, err = run(capsys, "--db", str(tmp_path / "a.db"), *args)
    assert code == 2 and "error:" in err
