"""`assay cache stats` and `assay cache prune` end to end, on both stores, over real runs against a local server."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from assay import records as R
from assay.cli import main
from assay.store import Store
from assay.store import tables as T
from assay.testing import ScriptedServer
from tests.judges.scripted_judges import nonce_of


def answer(body: dict) -> str:
    """Generation calls get an answer; the judge's calls a factuality verdict."""
    if body["model"] == "judge":
        return f"Checked.\nVERDICT {nonce_of(body)} factuality: 4"
    return "Paris."


def run(capsys, db: str, *args: str) -> tuple[int, str, str]:
    code = main(["--db", db, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def db(store_url):
    with Store(store_url) as s:
        s.add([R.Dataset(name="qa"), *(R.Item(id=R.Item.make_id("qa", str(i), None, None), dataset="qa",
                                              external_id=str(i), prompt=f"Capital of France? ({i})") for i in range(4))])
    return store_url


def _results(db: str) -> dict[str, int]:
    with Store(db) as s, s.engine.connect() as c:
        return {t.name: c.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (T.responses, T.judgments, T.run_units, T.request_cache)}


def test_after_prune_all_a_finished_run_is_not_redone_but_a_new_one_calls_again(db, capsys):
    with ScriptedServer(handler=answer, models=["m", "judge"]) as srv:
        gen = ["generate", "--model", "m@1", "--dataset", "qa", "--base-url", srv.base_url]
        judge = ["judge", "--rubric", "default", "--judge", "judge@1", "--dimensions", "factuality",
                 "--dataset", "qa", "--base-url", srv.base_url]
        assert run(capsys, db, *gen)[0] == 0 and run(capsys, db, *judge)[0] == 0
        sent = len(srv.chat_requests)
        before = _results(db)
        assert sent == 8 and before == {"responses": 4, "judgments": 4, "run_units": 8, "request_cache": 8}

        code, out, _ = run(capsys, db, "cache", "prune", "--all")
        assert code == 0 and out.startswith("removed 8 cache entries")
        assert _results(db) == {**before, "request_cache": 0}

        # the same commands: their runs are done in the ledger, so nothing is sent
        for cmd in (gen, judge):
            code, out, err = run(capsys, db, *cmd, "--json")
            assert code == 0, err
            r = json.loads(out)
            r = r.get("run", r)
            assert (r["status"], r["succeeded"], r["failed"]) == ("done", 4, 0)
        assert len(srv.chat_requests) == sent and _results(db) == {**before, "request_cache": 0}

        # a new run needs sample 0 again: it was pruned, so it goes to the server with sample 1
        assert run(capsys, db, *gen, "--samples", "2")[0] == 0
        assert len(srv.chat_requests) == sent + 8


def _age(db: str, model: str, days: int) -> None:
    """Test set-up: make the cache entries of ``model`` ``days`` old."""
    t = T.request_cache
    with Store(db) as s, s.transaction() as c:
        c.execute(t.update().where(t.c.model == model).values(created_at=R.utcnow() - timedelta(days=days)))


def test_stats_and_each_selector_on_the_command_line(db, capsys):
    with ScriptedServer(handler=answer, models=["m", "n"]) as srv:
        for model in ("m@1", "n@1"):
            assert run(capsys, db, "generate", "--model", model, "--dataset", "qa", "--base-url", srv.base_url)[0] == 0
    _age(db, "m@1", 40)
    _age(db, "n@1", 2)

    code, out, _ = run(capsys, db, "cache", "stats", "--json")
    st = json.loads(out)
    assert code == 0 and st["entries"] == 8 and st["payload_bytes"] > 0 and 0 < st["share"] < 1
    assert sorted((g["model"], g["entries"]) for g in st["models"]) == [("m@1", 4), ("n@1", 4)]
    runs = {g["run_id"]: g for g in st["runs"]}
    assert len(runs) == 2 and all(g["entries"] == 4 and g["kind"] == "generate" for g in runs.values())
    assert st["no_run"]["entries"] == 0
    code, out, _ = run(capsys, db, "cache", "stats")
    assert code == 0 and "request cache: 8 entries" in out and "m@1" in out and "of the store" in out

    code, out, _ = run(capsys, db, "cache", "prune", "--older-than", "30d", "--dry-run")
    assert code == 0 and out.startswith("would remove 4 cache entries") and _results(db)["request_cache"] == 8
    code, out, _ = run(capsys, db, "cache", "prune", "--older-than", "30d", "--json")
    assert code == 0 and json.loads(out)["entries"] == 4
    left = json.loads(run(capsys, db, "cache", "stats", "--json")[1])
    assert [g["model"] for g in left["models"]] == ["n@1"] and len(left["runs"]) == 1
    n_run = left["runs"][0]["run_id"]
    code, out, _ = run(capsys, db, "cache", "prune", "--run", n_run[:10], "--model", "m@1")
    assert code == 0 and out.startswith("removed 0 cache entries")  # n's run has no m@1 entries
    code, out, _ = run(capsys, db, "cache", "prune", "--run", n_run[:10], "--vacuum")
    assert code == 0 and out.startswith("removed 4 cache entries") and "vacuumed: the " in out
    assert _results(db)["request_cache"] == 0


@pytest.mark.parametrize(("args", "says"), [
    ([], "choose what to remove with --older-than, --model or --run, or give --all"),
    (["--older-than", "30"], "'--older-than': '30' is not an age"),
    (["--older-than", "-1d"], "'--older-than': '-1d' is not an age"),
    (["--older-than", "a week"], "'--older-than': 'a week' is not an age"),
    (["--all", "--model", "m@1"], "'--all': --all removes every entry"),
    (["--model", "nobody@1"], "'--model': no model 'nobody@1' in the store"),
    (["--run", "ffffffffff"], "'--run': no run starts with 'ffffffffff'"),
])
def test_bad_selectors_are_refused_in_one_line_with_exit_2(db, capsys, args, says):
    code, out, err = run(capsys, db, "cache", "prune", *args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and says in err
