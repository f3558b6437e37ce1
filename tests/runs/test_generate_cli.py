"""`assay generate` and `assay runs` in-process: the cache, --no-cache, and one-line fail-fast errors."""

from __future__ import annotations

import json

import pytest

from assay.cli import main
from assay.testing import ScriptedServer

from .conftest import make_dataset


@pytest.fixture
def db(store, store_url):
    make_dataset(store, "qa", 20)
    return store_url


def gen(db, srv_url, *args):
    return main(["--db", db, "generate", "--model", "m@1", "--dataset", "qa", "--base-url", srv_url, "--backoff", "0.01", *args])


def test_cache_answers_repeated_requests_and_no_cache_sends_them_again(db, capsys):
    with ScriptedServer(models=["m"]) as srv:
        assert gen(db, srv.base_url, "--json") == 0
        first = json.loads(capsys.readouterr().out)
        assert (first["succeeded"], first["cached"]) == (20, 0) and len(srv.chat_requests) == 20

        # two samples: a new run; sample 0 of each item is the same request, answered from the cache
        assert gen(db, srv.base_url, "--samples", "2", "--json") == 0
        second = json.loads(capsys.readouterr().out)
        assert (second["succeeded"], second["cached"]) == (40, 20) and len(srv.chat_requests) == 40
        assert second["id"] != first["id"]

        # --no-cache: every request goes to the server again
        assert gen(db, srv.base_url, "--samples", "3", "--no-cache", "--json") == 0
        third = json.loads(capsys.readouterr().out)
        assert (third["succeeded"], third["cached"]) == (60, 0) and len(srv.chat_requests) == 100

        # the same command again: the run is complete, nothing is sent
        assert gen(db, srv.base_url, "--samples", "3") == 0
        assert "60 answered" in capsys.readouterr().out and len(srv.chat_requests) == 100

        assert main(["--db", db, "runs", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert sorted(r["total"] for r in listed) == [20, 40, 60]


def test_wrong_base_url_fails_fast_with_one_line(db, capsys):
    with ScriptedServer() as srv:
        port = srv.port
    assert gen(db, f"http://127.0.0.1:{port}/v1") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot reach") and "base URL" in err and len(err.splitlines()) == 1


def test_wrong_key_fails_fast_without_a_chat_call(db, capsys, monkeypatch):
    monkeypatch.setenv("ASSAY_TEST_KEY", "wrong")
    with ScriptedServer(models=["m"], api_key="right") as srv:
        assert gen(db, srv.base_url, "--api-key-env", "ASSAY_TEST_KEY") == 1
        assert srv.chat_requests == []
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "refused the API key" in err and len(err.splitlines()) == 1


def test_unknown_model_fails_within_the_first_calls(db, capsys):
    with ScriptedServer(models=["other"]) as srv:
        assert gen(db, srv.base_url, "--concurrency", "4") == 1
        assert len(srv.chat_requests) <= 8
    err = capsys.readouterr().err.strip()
    assert "model 'm' is not served" in err and len(err.splitlines()) == 1


def test_failed_units_are_listed_and_exit_1(db, capsys):
    from assay.testing import Reply

    with ScriptedServer(models=["m"], replies=[Reply(status=400, body={"error": {"message": "prompt too long"}})]) as srv:
        assert gen(db, srv.base_url, "--concurrency", "1") == 1
    out = capsys.readouterr()
    assert "19 answered" in out.out and "1 failed (bad_request 1)" in out.out
    assert "bad_request: HTTP 400: prompt too long" in out.err and "run the same command again" in out.err
