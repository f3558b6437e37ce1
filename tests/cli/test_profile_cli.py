"""`assay profile` from the command line: tables, JSON, and every usage mistake in one line naming its option."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assay import records as R
from assay.cli import main
from assay.store import Store
from tests.analysis.profile_data import add_dataset, add_scores, prompts


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("profile-cli") / "p.db"
    s = Store(f"sqlite:///{path}")
    rng = np.random.default_rng(0)
    ev = prompts(rng, {"cooking": 10, "code": 10})
    items = add_dataset(s, "eval", ev)
    add_dataset(s, "prod", prompts(rng, {"cooking": 5, "code": 5, "finance": 10}, pad=4))
    s.add([R.Dataset(name="empty")])
    add_scores(s, items, {"cooking": 0.9, "code": 0.2}, {it.id: t for it, (t, _) in zip(items, ev)}, rng)
    s.close()
    return str(path)


def _run(db, *args):
    return main(["--db", db, "profile", *args])


def test_tables_and_json(db, capsys):
    assert _run(db, "eval", "--no-topics", "--contamination-against", "prod") == 0
    out = capsys.readouterr().out
    assert "whitespace tokens" in out and "contaminated" in out
    assert _run(db, "eval", "--against", "prod", "--no-topics", "--model-a", "a@1", "--model-b", "b@1",
                "--dimension", "factuality", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert {t["feature"] for t in data["tests"]} >= {"length (characters)", "category"}
    assert data["score"]["n"] == 20 and data["score"]["target"] is None


@pytest.mark.parametrize("args,flag", [
    (["nope"], "DATASET"),
    (["empty"], "DATASET"),
    (["eval", "--against", "eval"], "--against"),
    (["eval", "--against", "nope"], "--against"),
    (["eval", "--contamination-against", "nope"], "--contamination-against"),
    (["eval", "--dimension", "factuality"], "--model-a"),
    (["eval", "--rubric", "default"], "--model-a"),
    (["eval", "--measure", "difference"], "--model-a"),
    (["eval", "--model-a", "a@1"], "--model-b"),
    (["eval", "--model-a", "a@1", "--model-b", "b@1"], "--dimension"),
    (["eval", "--model-a", "a@1", "--model-b", "zz@1", "--dimension", "factuality"], "--model-b"),
    (["eval", "--model-a", "a@1", "--model-b", "b@1", "--dimension", "nothing"], "--dimension"),
    (["eval", "--model-a", "a@1", "--model-b", "b@1", "--dimension", "factuality", "--measure", "x"], "--measure"),
    (["eval", "--test", "fisher"], "--test"),
    (["eval", "--interval", "wald"], "--interval"),
    (["eval", "--languages", "en,xx"], "--languages"),
])
def test_usage_errors_are_one_line_naming_the_option(db, capsys, args, flag):
    assert _run(db, *args, "--no-topics") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error:") and f"'{flag}'" in err, err


@pytest.mark.parametrize("args,flag", [
    (["--profile-against", "prod"], "--profile-against"),
    (["--profile", "nope"], "--profile"),
    (["--profile", "eval", "--profile-against", "eval"], "--profile-against"),
])
def test_report_profile_usage_errors(db, capsys, tmp_path, args, flag):
    assert main(["--db", db, "report", "-o", str(tmp_path / "r.md"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"'{flag}'" in err, err
