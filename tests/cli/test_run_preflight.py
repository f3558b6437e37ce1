"""Runs that cannot work are refused before any call, in one line with exit 2; `assay judge --rpm` holds its limit."""

from __future__ import annotations

import json

import pytest

from assay.cli import main
from assay.store.ledger import Ledger
from assay.testing import ScriptedServer
from tests.judges.scripted_judges import nonce_of, store_responses


def refused(capsys, *args: str) -> str:
    """The one line of a refusal (exit 2)."""
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def qa(store, store_url):
    store_responses(store, {"a@1": ["A0", "A1", "A2"]})
    return store_url


@pytest.mark.parametrize("args, field, says", [
    (["--ifeval"], "--ifeval", "ifeval needs IFEval instructions (metadata 'instruction_id_list'"),
    (["--verifier", "regex"], "--verifier", "regex needs a pattern: the argument 'pattern', else the item's metadata"),
    (["--verifier", "rouge_l"], "--verifier", "rouge_l needs a reference answer"),
    (["--verifier", "json_schema", "--arg", "allow_fence=true"], "--verifier", "json_schema needs a JSON Schema"),
])
def test_verify_refuses_a_verifier_the_items_cannot_feed(qa, store, capsys, args, field, says):
    err = refused(capsys, "--db", qa, "verify", *args)
    assert err.startswith(f"error: field '{field}': {says}") and "none of the 3 items" in err
    assert Ledger(store).runs() == [] and store.count("judgments") == 0


def test_verify_leaves_out_the_responses_it_cannot_check_and_says_so(qa, store, capsys):
    from assay import records as R

    item = R.Item(id="if1", dataset="qa", prompt="Say hi without commas.",
                  metadata={"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]})
    store.add([item, R.Response(id="r-if1", item_id="if1", model="a@1", text="hi there")])
    assert main(["--db", qa, "verify", "--ifeval", "--mode", "strict"]) == 0
    out = capsys.readouterr()
    assert "1 units, 1 done" in out.out and "0 failed" in out.out
    assert out.err.strip() == ("3 responses left out: their items lack what ifeval needs (IFEval instructions "
                               "(metadata 'instruction_id_list'; `assay import-ifeval` imports them))")


def test_judge_refuses_a_dimension_the_rubric_lacks(qa, store, capsys):
    with ScriptedServer() as srv:
        err = refused(capsys, "--db", qa, "judge", "--rubric", "default", "--judge", "j@1", "--base-url", srv.base_url,
                      "--dimensions", "factuality,nonesuch")
        assert srv.requests == []
    assert "field '--dimensions'" in err and "no dimension 'nonesuch'" in err
    assert Ledger(store).runs() == [] and store.find("models", "j@1") is None


def test_library_check_refuses_a_detector_that_cannot_work_before_generating(qa, store, capsys):
    responses = [r.id for r in store.list("responses")]
    examples = [a for rid in responses for a in ("--example", rid)]
    detectors = {
        "bad-dimension": ({"rubric": "default", "dimension": "nonesuch", "rater": "j@1"}, "no dimension 'nonesuch'"),
        "no-reference": ({"program": {"name": "rouge_l", "args": {"threshold": 0.5}}}, "rouge_l needs a reference"),
    }
    for name, (detector, _) in detectors.items():
        assert main(["--db", qa, "library", "add", "--title", name, "--entry", name, "--detector", json.dumps(detector),
                     *examples]) == 0
    capsys.readouterr()
    with ScriptedServer() as srv:
        for name, (_, says) in detectors.items():
            err = refused(capsys, "--db", qa, "library", "check", name, "--model", "a@2", "--base-url", srv.base_url,
                          "--judge-base-url", srv.base_url)
            assert f"entry '{name}': detector: " in err and says in err
        assert srv.requests == []
    assert Ledger(store).runs() == []


def _verdict(body: dict) -> str:
    return f"ok\nVERDICT {nonce_of(body)} factuality: 4"


def test_judge_holds_its_requests_per_minute(store, store_url, capsys):
    """--rpm 120 allows 2 requests a second after a burst of 2: the k-th request (from 0) comes no sooner
    than (k - 1) / 2 seconds after the first (a floor, so a slow machine cannot fail it)."""
    n = 8
    store_responses(store, {"a@1": [f"A{i}" for i in range(n)]})
    with ScriptedServer(handler=_verdict) as srv:
        assert main(["--db", store_url, "judge", "--rubric", "default", "--judge", "j@1", "--base-url", srv.base_url,
                     "--dimensions", "factuality", "--no-logprobs", "--rpm", "120", "--concurrency", "8"]) == 0
        at = sorted(r.at for r in srv.chat_requests)
    assert len(at) == n
    for k, t in enumerate(at):
        assert t - at[0] >= (k - 1) / 2 - 0.05, (k, t - at[0])
    run = Ledger(store).runs()[0]
    assert run.config["execution"]["rpm"] == 120
