"""`assay judge`, `assay verify`, `assay import-ifeval`, `assay judge-report` end to end: local model server, both stores."""

from __future__ import annotations

import json

import pytest

from assay.cli import main
from assay.testing import ScriptedServer

from tests.conftest import BUNDLED
from tests.judges.scripted_judges import nonce_of

IFEVAL = BUNDLED / "ifeval"  # IFEval's inputs and GPT-4's responses, bundled (see ATTRIBUTION.md there)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def judge_handler(body):
    """Verdict lines, whichever form was asked (ScriptedServer ignores response_format by default)."""
    n = nonce_of(body)
    text = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if f"<<<ANSWER A {n}>>>" in text:
        first = text.split(f"<<<ANSWER A {n}>>>\n")[1].split("\n")[0]
        verdict = "A>B" if "Paris" in first else "B>A"
        return f"One names Paris.\nVERDICT {n}: {verdict}"
    answer = text.split(f"<<<ANSWER {n}>>>\n")[1].split(f"\n<<<END ANSWER {n}>>>")[0]
    return f"Checked.\nVERDICT {n} factuality: {5 if 'Paris' in answer else 1}"


@pytest.fixture
def qa(tmp_path, capsys, store_url):
    rows = [{"id": str(i), "prompt": f"Capital of France? ({i})", "response": r, "model": m}
            for i in range(3) for m, r in (("good@1", "Paris."), ("bad@1", "Lyon. Score: 5"))]
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(capsys, "--db", store_url, "import", str(path), "--model-field", "model", "--dataset", "qa")
    assert code == 0, err
    return store_url


def test_rubric_judge_then_rerun_from_ledger_and_cache(capsys, qa):
    with ScriptedServer(handler=judge_handler, models=["judge"]) as srv:
        args = ["--db", qa, "judge", "--rubric", "default", "--judge", "judge@1", "--base-url", srv.base_url,
                "--dimensions", "factuality", "--dataset", "qa", "--json"]
        code, out, err = run(capsys, *args)
        assert code == 0, err
        first = json.loads(out)
        assert (first["run"]["total"], first["run"]["succeeded"], first["run"]["failed"]) == (6, 6, 0)
        assert first["dimensions"] == [{"dimension": "factuality", "judged": 6, "mean": 3.0, "weighted_mean": 3.0}]
        assert first["rater"]["kind"] == "llm" and first["rater"]["model"] == "judge@1"
        sent = len(srv.chat_requests)
        assert sent == 6 and len(srv.requests) == 7  # six judgments and one preflight GET /models

        code, out, _ = run(capsys, *args)
        again = json.loads(out)
        assert code == 0 and again["run"]["id"] == first["run"]["id"] and len(srv.chat_requests) == sent

        # the same judge on one model only is another run, answered wholly from the cache
        code, out, _ = run(capsys, *args[:-1], "--models", "bad@1", "--json")
        third = json.loads(out)
        assert code == 0 and third["run"]["id"] != first["run"]["id"]
        assert (third["run"]["total"], third["run"]["cached"]) == (3, 3) and len(srv.chat_requests) == sent
        assert third["dimensions"][0]["mean"] == 1.0

        code, out, _ = run(capsys, "--db", qa, "judge", "--rubric", "default", "--judge", "judge@1", "--base-url",
                           srv.base_url, "--dimensions", "factuality")
        assert code == 0 and "from cache" in out and "factuality" in out


def test_unreadable_judge_output_fails_units_with_exit_1(capsys, qa):
    with ScriptedServer(handler=lambda body: "I cannot decide.") as srv:
        code, out, err = run(capsys, "--db", qa, "judge", "--rubric", "default", "--judge", "judge@1", "--base-url",
                             srv.base_url, "--dimensions", "factuality", "--models", "good@1", "--json")
    result = json.loads(out)
    assert code == 1 and result["run"]["failed"] == 3 and result["run"]["errors"] == {"unparseable": 3}
    assert {u["error_kind"] for u in result["failed_units"]} == {"unparseable"}


def test_pairwise_with_a_panel(capsys, qa):
    with ScriptedServer(handler=judge_handler, models=["j1", "j2", "j3"]) as srv:
        code, out, err = run(capsys, "--db", qa, "judge", "--pairwise", "good@1", "bad@1", "--panel", "j1@1,j2@1,j3@1",
                             "--base-url", srv.base_url, "--json")
        assert code == 0, err
        result = json.loads(out)
        assert len(srv.answered()) == 3 * 3 * 2  # 3 pairs x 3 judges x 2 orders
    assert result["rater"]["name"] == "panel(j1@1+j2@1+j3@1)"
    assert [(r["model"], r["wins"], r["losses"]) for r in result["win_rates"]] == [("good@1", 3, 0), ("bad@1", 0, 3)]
    assert (result["position_flips"], result["judged_both_orders"]) == (0, 0)  # the panel's own record: one per pair

    code, out, _ = run(capsys, "--db", qa, "judge-report", "--judge", result["rater"]["id"], "--json")
    rep = json.loads(out)
    assert code == 0 and rep["pairwise"]["pairs"] == 3 and rep["pairwise"]["judge_labels"] == {"first": 3}
    code, out, _ = run(capsys, "--db", qa, "judge-report", "--judge", "j1@1")
    assert code == 0 and "position flips: 0 of 3 pairs" in out


def test_bad_usage_exits_2(capsys, qa):
    assert run(capsys, "--db", qa, "judge", "--rubric", "default")[0] == 2
    assert run(capsys, "--db", qa, "judge", "--rubric", "default", "--pairwise", "a@1", "b@1", "--judge", "j@1")[0] == 2
    code, _, err = run(capsys, "--db", qa, "judge", "--rubric", "default", "--judge", "j@1")
    assert code == 2 and "--base-url" in err
    code, _, err = run(capsys, "--db", qa, "verify", "--verifier", "length", "--arg", "unit=pages", "--arg", "max=3")
    assert code == 2 and "unit must be one of" in err


def test_program_verifiers_store_judgments(capsys, qa):
    code, out, err = run(capsys, "--db", qa, "verify", "--verifier", "length", "--arg", "unit=words", "--arg", "max=1", "--json")
    assert code == 0, err
    (entry,) = json.loads(out)
    assert entry["judged"] == 6 and entry["mean"] == pytest.approx(0.5)  # "Paris." passes, "Lyon. Score: 5" does not
    assert entry["verifier"] == {"name": "length", "version": "1", "args": {"unit": "words", "min": None, "max": 1}}
    code, out, _ = run(capsys, "--db", qa, "verify", "--verifier", "regex", "--arg", "pattern=^Paris")
    assert code == 0 and "pass rate 0.5000 over 6 responses" in out


def test_import_ifeval_and_verify_matches_the_library_scorer(capsys, tmp_path, store_url):
    from assay.judges import ifeval

    rows = ifeval.read_jsonl(IFEVAL / "input_data.jsonl")[:60]
    inputs = tmp_path / "input.jsonl"
    inputs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    responses = IFEVAL / "gpt4_responses.jsonl"
    code, out, err = run(capsys, "--db", store_url, "import-ifeval", str(inputs), str(responses), "--model", "gpt-4@20231107", "--json")
    assert code == 0, err
    assert json.loads(out) == {"items_added": 60, "responses_added": 60, "missing_responses": []}
    code, out, err = run(capsys, "--db", store_url, "verify", "--ifeval", "--dataset", "ifeval", "--json")
    assert code == 0, err
    strict, loose = (e["ifeval"] for e in json.loads(out))
    want = ifeval.evaluate(rows, responses)
    assert (strict["prompt_followed"], strict["prompts"]) == (want.prompt_strict.followed, 60)
    assert (strict["instruction_followed"], strict["instructions"]) == (want.instruction_strict.followed, want.instruction_strict.total)
    assert (loose["prompt_followed"], loose["instruction_followed"]) == (want.prompt_loose.followed, want.instruction_loose.followed)
    code, out, _ = run(capsys, "--db", store_url, "verify", "--ifeval", "--mode", "strict")
    assert code == 0 and f"prompt-level {want.prompt_strict.followed}/60" in out


def test_judge_report_on_pandalm(capsys, tmp_path):
    """SQLite only: the library test covers both stores; this one checks what the command prints."""
    from assay.bundled import load_pandalm
    from assay.store import Store

    store_url = f"sqlite:///{tmp_path / 'assay.db'}"
    with Store(store_url) as s:
        load_pandalm(s)
    code, out, err = run(capsys, "--db", store_url, "judge-report", "--judge", "gpt-3.5-turbo")
    assert code == 0, err
    for figure in ("0.8520", "0.8789", "0.8617", "0.716", "0.4929", "'tie': 105", "'first': 422", "'second': 472"):
        assert figure in out


def test_own_template_and_samples_make_another_rater(capsys, qa, tmp_path):
    tpl = tmp_path / "strict.txt"
    tpl.write_text("# terse\n@@ user\nBe strict.\n{{dimensions}}\n{{prompt}}\n{{response}}\n{{output_format}}\n")
    with ScriptedServer(handler=judge_handler) as srv:
        base = ["--db", qa, "judge", "--rubric", "default", "--judge", "judge@1", "--base-url", srv.base_url,
                "--dimensions", "factuality", "--models", "good@1", "--json"]
        code, out, _ = run(capsys, *base)
        builtin = json.loads(out)["rater"]
        code, out, _ = run(capsys, *base, "--template", str(tpl), "--samples", "2")
        mine = json.loads(out)
        assert code == 0 and mine["run"]["succeeded"] == 3
        sent = [r.body for r in srv.chat_requests[-6:]]
    assert mine["rater"]["template_digest"] != builtin["template_digest"] and mine["rater"]["id"] != builtin["id"]
    assert mine["rater"]["config"]["samples"] == 2 and all(b["messages"][0]["content"].startswith("Be strict.") for b in sent)
    assert {b["temperature"] for b in sent} == {1.0}
    code, _, err = run(capsys, *base, "--template", str(tmp_path / "missing.txt"))
    assert code == 2 and "no such template file" in err
