"""API keys and a model's stored endpoint: OPENAI_API_KEY by default; a failed run does not store its URL."""

from __future__ import annotations

import pytest

from assay.cli import main
from assay.testing import ScriptedServer
from tests.judges.scripted_judges import nonce_of, store_responses

from .conftest import make_dataset


@pytest.fixture
def db(store, store_url):
    make_dataset(store, "qa", 3)
    return store_url


def closed_url() -> str:
    with ScriptedServer() as srv:
        port = srv.port
    return f"http://127.0.0.1:{port}/v1"


def gen(db: str, *args: str) -> int:
    return main(["--db", db, "generate", "--model", "m@1", "--dataset", "qa", "--max-retries", "0", *args])


def lines(capsys) -> list[str]:
    """stderr without the plan."""
    return [x for x in capsys.readouterr().err.splitlines() if x.strip() and not x.startswith("plan:")]


def test_the_key_comes_from_openai_api_key_when_no_variable_is_named(db, store, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    with ScriptedServer(models=["m"], api_key="sk-from-env") as srv:
        assert gen(db, "--base-url", srv.base_url) == 0, capsys.readouterr().err
        assert srv.chat_requests and {r.headers.get("authorization") for r in srv.requests} == {"Bearer sk-from-env"}
    assert store.get("models", "m@1").api_key_env is None  # the default is not written into the model

    monkeypatch.setenv("OTHER_KEY", "sk-other")  # a named variable still wins
    with ScriptedServer(models=["m"], api_key="sk-other") as srv:
        assert gen(db, "--base-url", srv.base_url, "--api-key-env", "OTHER_KEY", "--samples", "2") == 0
        assert {r.headers.get("authorization") for r in srv.requests} == {"Bearer sk-other"}


def test_without_openai_api_key_no_key_is_sent(db, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ScriptedServer(models=["m"]) as srv:
        assert gen(db, "--base-url", srv.base_url) == 0
        assert {r.headers.get("authorization") for r in srv.requests} == {None}


def test_a_failed_run_does_not_store_its_url_and_a_later_run_says_none_is_known(db, store, capsys):
    assert gen(db, "--base-url", closed_url(), "--api-key-env", "ASSAY_UNSET_KEY_VAR") == 1  # that variable is unset
    assert "ASSAY_UNSET_KEY_VAR" in lines(capsys)[0]
    assert gen(db, "--base-url", closed_url()) == 1
    assert lines(capsys)[0].startswith("error: cannot reach")
    m = store.find("models", "m@1")
    assert m is None or (m.base_url, m.api_key_env) == (None, None)

    assert gen(db) == 2  # no --base-url: the wrong one is not reused
    (err,) = lines(capsys)
    assert err == "error: field '--base-url': model m@1 has no base URL in the store: give --base-url"

    with ScriptedServer(models=["m"]) as srv:  # a run that works stores its URL, as before
        assert gen(db, "--base-url", srv.base_url) == 0
        assert store.get("models", "m@1").base_url == srv.base_url
        assert gen(db, "--samples", "2") == 0  # and a later run finds it
        assert len(srv.chat_requests) == 6
        assert gen(db, "--base-url", closed_url(), "--samples", "3") == 1  # a failure leaves it as it was
    assert store.get("models", "m@1").base_url == srv.base_url


def _verdict(body: dict) -> str:
    return f"ok\nVERDICT {nonce_of(body)} factuality: 4"


def test_judge_the_same_way(store, store_url, capsys, monkeypatch):
    store_responses(store, {"a@1": ["A0", "A1"]})
    judge = ["--db", store_url, "judge", "--rubric", "default", "--judge", "j@1", "--dimensions", "factuality",
             "--no-logprobs", "--max-retries", "0"]
    assert main([*judge, "--base-url", closed_url()]) == 1
    capsys.readouterr()
    assert main(judge) == 2
    (err,) = lines(capsys)
    assert "judge j@1 has no base URL in the store: give --base-url" in err
    m = store.find("models", "j@1")
    assert m is None or m.base_url is None

    monkeypatch.setenv("OPENAI_API_KEY", "sk-judge")
    with ScriptedServer(handler=_verdict, api_key="sk-judge") as srv:
        assert main([*judge, "--base-url", srv.base_url]) == 0, capsys.readouterr().err
        assert len(srv.chat_requests) == 2
    assert store.get("models", "j@1").base_url == srv.base_url
