"""`assay why` end to end on both stores: the plan first, the cause table, JSON, a resumed rerun, usage errors."""

from __future__ import annotations

import json

import pytest

from assay.cli import main
from assay.library import add_entry, get_entry
from assay.store import Store
from assay.testing import Reply, ScriptedServer
from tests.library.test_why import EXACT, Knows, fill


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def codes(store_url):
    with Store(store_url) as s:
        add_entry(s, "Unknown codes", entry="codes", examples=fill(s, 20), detector=EXACT,
                  hypothesis="It misreads the question.")
    return ["--db", store_url]


def test_why_plans_then_finds_the_reference(capsys, codes, store_url):
    with ScriptedServer(handler=Knows()) as srv:
        code, out, err = run(capsys, *codes, "why", "codes", "--model", "m@1", "--base-url", srv.base_url,
                             "--probe", "resample", "--probe", "reference", "--samples", "3", "--dry-run")
        assert code == 0, err
        assert "plan: 80 calls to m@1" in err and srv.chat_requests == []
        code, out, err = run(capsys, *codes, "why", "codes", "--model", "m@1", "--base-url", srv.base_url,
                             "--probe", "resample", "--probe", "reference", "--samples", "3")
        assert code == 0, err
        assert "plan: 80 calls to m@1" in err and len(srv.answered()) == 80
        assert "fixed by giving the reference: 100% [83%, 100%]; beyond resampling" in out
        assert "measured: fixed by giving the reference" in out
        assert "hypothesis (as written): It misreads the question." in out
        # the same command again: everything is done, nothing is asked
        code, out, err = run(capsys, *codes, "why", "codes", "--model", "m@1", "--base-url", srv.base_url,
                             "--probe", "resample", "--probe", "reference", "--samples", "3", "--json")
        assert code == 0, err
        assert len(srv.answered()) == 80 and "plan: 0 calls" in err
    got = json.loads(out)
    assert got["measured"].startswith("fixed by giving the reference") and got["version"] == 3
    assert [p["probe"] for p in got["probes"]] == ["resample", "reference"]
    with Store(store_url) as s:
        assert get_entry(s, "codes").evidence["probes"]["measured"] == got["measured"]


def test_a_paraphrase_written_by_another_model(capsys, codes, store_url):
    with ScriptedServer(handler=Knows()) as srv:
        code, out, err = run(capsys, *codes, "why", "codes", "--model", "m@1", "--base-url", srv.base_url,
                             "--probe", "paraphrase", "--rewriter", "writer@1", "--json")
        assert code == 0, err
        assert "plan: 40 calls to m@1, writer@1" in err
        by_model = {}
        for q in srv.answered():
            by_model[q.body["model"]] = by_model.get(q.body["model"], 0) + 1
    assert by_model == {"writer": 20, "m": 20}
    got = json.loads(out)
    assert got["probes"][0]["passed"] == 0 and got["probes"][0]["rewrite_run"] is not None
    with Store(store_url) as s:
        assert get_entry(s, "codes").evidence["probes"]["settings"]["rewriter"] == "writer@1"


def test_an_interrupted_why_resumes(capsys, codes):
    script, left = Knows(), {"n": 7}

    def flaky(body):
        if left["n"]:
            left["n"] -= 1
            return Reply.server_error()
        return script(body)

    with ScriptedServer(handler=flaky) as srv:
        args = [*codes, "why", "codes", "--model", "m@1", "--base-url", srv.base_url, "--probe", "reference",
                "--max-retries", "0", "--json"]
        code, out, err = run(capsys, *args)
        assert code == 0, err
        assert json.loads(out)["probes"][0]["unanswered"] == 7
        before = len(srv.chat_requests)
        code, out, err = run(capsys, *args)
        assert code == 0, err
        assert len(srv.chat_requests) - before == 7
        assert json.loads(out)["probes"][0]["passed"] == 20


@pytest.mark.parametrize(("args", "says"), [
    (["nope", "--model", "m@1"], "'ENTRY': no library entry 'nope'"),
    (["codes", "--model", "m1"], "'--model': model 'm1' must be written NAME@VERSION"),
    (["codes", "--model", "m@9"], "'--base-url': model m@9 has no base URL"),
    (["codes", "--model", "m@1", "--base-url", "http://127.0.0.1:9/v1", "--probe", "shouting"],
     "'--probe': no probe named 'shouting'"),
])
def test_usage_errors_name_the_option(capsys, codes, args, says):
    code, out, err = run(capsys, *codes, "why", *args)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err


def test_no_model_and_no_references(capsys, store_url):
    with Store(store_url) as s:
        add_entry(s, "Unknown codes", entry="bare", examples=fill(s, 3, references=False),
                  detector={"program": {"name": "regex", "args": {"pattern": "CODE"}}})
    code, out, err = run(capsys, "--db", store_url, "why", "bare")
    assert code == 2 and "--model" in err
    code, out, err = run(capsys, "--db", store_url, "why", "bare", "--model", "m@1", "--base-url",
                         "http://127.0.0.1:9/v1", "--probe", "reference")
    assert code == 2 and "'--probe': 'reference' does not apply to any of the prompts of entry 'bare'" in err


def test_why_over_a_failure_set(capsys, store_url):
    from tests.library.planted import planted
    from tests.library.test_why import Refuser

    with Store(store_url) as s:
        planted(s)
    db = ["--db", store_url, "why", "--rubric", "helpful", "--dimension", "quality", "--model", "alpha@1"]
    code, out, err = run(capsys, *db, "--base-url", "http://127.0.0.1:9/v1")
    assert code == 2 and "'--judge': give the LLM judge" in err
    code, out, err = run(capsys, *db[:-2], "--model", "beta@9", "--judge", "judge@1", "--base-url",
                         "http://127.0.0.1:9/v1")
    assert code == 2 and "'--model': beta@9 has no failures on helpful / quality" in err
    with ScriptedServer(handler=Refuser()) as srv:
        code, out, err = run(capsys, *db, "--judge", "judge@1", "--below", "3", "--base-url", srv.base_url,
                             "--judge-base-url", srv.base_url, "--probe", "system", "--probe", "resample",
                             "--samples", "2", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["prompts"] == 10 and got["version"] is None
    assert got["measured"].startswith("fixed by another system prompt (100% [69%, 100%]) beyond resampling")


def test_a_killed_why_resumes_without_asking_the_answered_calls_again(capsys, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    url = f"sqlite:///{tmp_path}/why.db"
    with Store(url) as s:
        add_entry(s, "Unknown codes", entry="codes", examples=fill(s, 30), detector=EXACT)
    with ScriptedServer(handler=Knows(), latency=0.05) as srv:
        args = ["--db", url, "why", "codes", "--model", "m@1", "--base-url", srv.base_url, "--probe", "reference",
                "--concurrency", "2"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.Popen([sys.executable, "-m", "assay", *args], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(srv.answered()) < 10 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first = len(srv.answered())
        assert 10 <= first < 30
        code, out, err = run(capsys, *args, "--json")
        assert code == 0, err
        again = len(srv.answered()) - first
    # a kill repeats at most the calls in flight (--concurrency); everything answered before is kept
    assert 30 - first <= again <= 30 - first + 2
    assert json.loads(out)["probes"][0]["passed"] == 30
