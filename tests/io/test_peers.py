"""Other tools' logs: Inspect and lm-evaluation-harness run here against the scripted server; promptfoo's
output is the real tool's (tests/data/peers/promptfoo, made by make_results.py there)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assay.cli import main
from assay.io import OnInvalid
from assay.testing import ScriptedServer
from tests.conftest import require_module

DATA = Path(__file__).resolve().parents[1] / "data" / "peers"
PROMPTFOO = DATA / "promptfoo" / "results.json"

TASK = '''
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes, model_graded_qa
from inspect_ai.solver import generate


@task
def capitals():
    return Task(
        dataset=[Sample(id="fr", input="What is the capital of France?", target="Paris", metadata={"region": "west"}),
                 Sample(id="de", input="What is the capital of Germany?", target=["Berlin", "Berlin, Germany"]),
                 Sample(id="it", input="What is the capital of Italy?", target="Rome")],
        solver=generate(),
        scorer=[includes(), model_graded_qa(model="openai-api/scripted/judge")],
        epochs=2,
    )
'''

LM_TASK = """
task: capitals
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Q: {{{{question}}}}\\nA:"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 32
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: true
metadata:
  version: 1.0
"""


def answer(body: dict) -> str:
    """The candidate knows France and Germany, not Italy; the judge grades by the criterion's city."""
    last = body["messages"][-1]["content"]
    if body["model"] == "judge":
        ok = "[Criterion]: Paris" in last and "Paris" in last.split("[Submission]")[1] or \
            "[Criterion]: Berlin" in last and "Berlin" in last.split("[Submission]")[1]
        return "The submission names the city.\n\nGRADE: C" if ok else "It names another city.\n\nGRADE: I"
    if "France" in last:
        return "Paris"
    if "Germany" in last:
        return "The capital is Berlin."
    return "Milan"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def inspect_logs(tmp_path_factory):
    """One Inspect run against the scripted server: its .eval log, and the same log converted to .json."""
    require_module("inspect_ai", "pip install -e '.[test]'")
    require_module("openai", "pip install -e '.[test]'")
    tmp = tmp_path_factory.mktemp("inspect")
    (tmp / "capitals.py").write_text(TASK)
    with ScriptedServer(handler=answer) as srv:
        env = {**os.environ, "SCRIPTED_BASE_URL": srv.base_url, "SCRIPTED_API_KEY": "k",
               "INSPECT_LOG_DIR": str(tmp / "logs"), "INSPECT_DISPLAY": "none"}
        done = subprocess.run([sys.executable, "-m", "inspect_ai", "eval", "capitals.py", "--model",
                               "openai-api/scripted/candidate", "--no-log-images"], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
    (log,) = (tmp / "logs").glob("*.eval")
    done = subprocess.run([sys.executable, "-m", "inspect_ai", "log", "convert", str(log), "--to", "json",
                           "--output-dir", str(tmp / "json")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    (as_json,) = (tmp / "json").glob("*.json")
    return {"eval": log, "json": as_json}


@pytest.fixture(scope="module")
def lm_eval_run(tmp_path_factory):
    """One lm-evaluation-harness run (a made-up generation task, chat template) against the scripted server."""
    require_module("lm_eval", "pip install -e '.[test]'")
    tmp = tmp_path_factory.mktemp("lmeval")
    data = tmp / "capitals.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is the capital of {c}?", "answer": a}) + "\n"
                            for c, a in (("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"))))
    (tmp / "tasks").mkdir()
    (tmp / "tasks" / "capitals.yaml").write_text(LM_TASK.format(data=data))
    with ScriptedServer(handler=answer) as srv:
        env = {**os.environ, "OPENAI_API_KEY": "k", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
               "HF_HOME": str(tmp / "hf")}
        done = subprocess.run(
            [sys.executable, "-m", "lm_eval", "--model", "local-chat-completions", "--model_args",
             f"model=candidate,base_url={srv.base_url}/chat/completions,num_concurrent=1,max_retries=1,"
             "tokenized_requests=False", "--include_path", "tasks", "--tasks", "capitals", "--apply_chat_template",
             "--log_samples", "--output_path", "out"], cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    (results,) = (tmp / "out" / "candidate").glob("results_*.json")
    return results


# ---- Inspect ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["eval", "json"])
def test_inspect_log_gives_items_responses_and_judgments(store, inspect_logs, fmt):
    from inspect_ai.log import read_eval_log

    from assay.io.peers import import_peer

    path = inspect_logs[fmt]
    run_id = read_eval_log(str(path), header_only=True).eval.run_id
    s = import_peer(store, path, "inspect")
    model, judge = f"openai-api/scripted/candidate@{run_id}", f"openai-api/scripted/judge@{run_id}"
    assert (s.dataset, s.rows, s.items_added, s.responses_added, s.judgments_added) == ("capitals", 6, 3, 6, 12)
    assert s.models == [model] and s.rubrics == ["inspect.capitals@1"]
    items = {i.external_id: i for i in store.iter("items", dataset="capitals")}
    assert items["fr"].prompt == "What is the capital of France?" and items["fr"].reference == "Paris"
    assert items["fr"].metadata == {"region": "west"}
    assert items["de"].metadata["references"] == ["Berlin", "Berlin, Germany"]
    resp = {(r.item_id, r.sample_index): r for r in store.iter("responses", model=model)}
    assert sorted(k[1] for k in resp) == [0, 0, 0, 1, 1, 1]  # two epochs
    assert resp[(items["de"].id, 1)].text == "The capital is Berlin."
    assert resp[(items["de"].id, 0)].metadata["epoch"] == 1 and resp[(items["de"].id, 0)].prompt_tokens > 0
    raters = {r.name: r for r in store.iter("raters")}
    assert raters["inspect/includes"].kind == "program"
    assert raters["inspect/model_graded_qa"].kind == "llm" and raters["inspect/model_graded_qa"].model == judge
    rubric = store.rubric("inspect.capitals@1")
    assert {d.name: (d.scale.kind, d.scale.true_label) for d in rubric.dimensions} == \
        {"includes": ("binary", "C"), "model_graded_qa": ("binary", "C")}
    js = {(store.get("responses", j.response_id).item_id, j.dimension): j
          for j in store.iter("judgments", rubric="inspect.capitals@1")}
    italy = js[(items["it"].id, "model_graded_qa")]
    assert (italy.value, italy.label, italy.rater_id) == (0.0, "I", raters["inspect/model_graded_qa"].id)
    assert italy.justification == "It names another city.\n\nGRADE: I"  # the judge's explanation
    france = js[(items["fr"].id, "includes")]
    assert (france.value, france.label, france.detail["answer"]) == (1.0, "C", "paris")  # includes() lowers the case


def test_inspect_import_twice_adds_nothing_and_a_renamed_model_is_kept(store_url, store, inspect_logs, capsys):
    url = store_url
    code, out, _ = run(capsys, "--db", url, "--json", "import", "--from", "inspect", str(inspect_logs["eval"]),
                       "--model", "capital-bot@2", "--dataset", "geo")
    got = json.loads(out)
    assert code == 0 and (got["items_added"], got["responses_added"], got["judgments_added"]) == (3, 6, 12)
    code, out, _ = run(capsys, "--db", url, "--json", "import", "--from", "inspect", str(inspect_logs["json"]),
                       "--model", "capital-bot@2", "--dataset", "geo")
    got = json.loads(out)
    assert code == 0 and (got["items_added"], got["judgments_added"], got["duplicates"]) == (0, 0, 6)
    assert {r.model for r in store.iter("responses")} == {"capital-bot@2"}


def test_inspect_bad_log_names_file_line_and_field(inspect_logs, tmp_path, capsys):
    log = json.loads(inspect_logs["json"].read_text())
    log["samples"][2]["scores"]["includes"]["value"] = [1, 2]  # not a value Inspect allows
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(log, indent=2))
    code, _, err = run(capsys, "--db", str(tmp_path / "a.db"), "import", "--from", "inspect", str(bad))
    msg = one_line(err)
    assert code == 2 and str(bad) in msg and "field 'samples[2].scores.includes.value'" in msg
    from assay.io.jsonlines import array_lines
    assert f"line {array_lines(bad.read_text(), ['samples'])[2]}:" in msg
    code, _, err = run(capsys, "--db", str(tmp_path / "a.db"), "import", "--from", "inspect", str(PROMPTFOO))
    assert code == 2 and "not a valid Inspect log" in one_line(err)


def test_inspect_skip_invalid_keeps_the_good_samples(store, inspect_logs, tmp_path):
    from assay.io.peers import import_peer

    log = json.loads(inspect_logs["json"].read_text())
    log["samples"][1]["scores"]["includes"]["value"] = [1, 0]  # Inspect allows it; a judgment cannot hold it
    bad = tmp_path / "listed.json"
    bad.write_text(json.dumps(log, indent=1))
    with pytest.raises(Exception) as e:
        import_peer(store, bad, "inspect")
    assert store.count("items") == 0  # one transaction: nothing from a refused log
    s = import_peer(store, bad, "inspect", on_invalid=OnInvalid(skip=True))
    assert (s.rows, s.rejected, s.responses_added) == (6, 1, 5)
    (rejected,) = [json.loads(x) for x in Path(s.rejects_file).read_text().splitlines()]
    assert rejected["line"] > 1 and rejected["reason"] and str(e.value).startswith(str(bad))


def test_missing_inspect_extra_is_one_line_naming_it(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.modules["inspect_ai"] = None  # as if the extra were not installed
        from assay.cli import main
        sys.exit(main(["--db", {str(tmp_path / 'a.db')!r}, "import", "--from", "inspect", {str(PROMPTFOO)!r}]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ASSAY_DEBUG": ""})
    assert done.returncode == 2, done.stderr
    assert "pip install 'assay[inspect]'" in one_line(done.stderr)


# ---- lm-evaluation-harness ----------------------------------------------------------------------------


def test_lm_eval_run_gives_items_responses_and_metrics(store, lm_eval_run):
    from assay.io.peers import import_peer

    s = import_peer(store, lm_eval_run, "lm-eval")
    ts = lm_eval_run.stem.removeprefix("results_")
    assert (s.dataset, s.rows, s.items_added, s.responses_added, s.judgments_added) == ("capitals", 3, 3, 3, 3)
    assert s.models == [f"candidate@{ts}"] and s.rubrics == ["lm-eval.capitals@1"]
    items = {i.external_id: i for i in store.iter("items")}
    assert [m.model_dump() for m in items["0"].messages] == [{"role": "user", "content": "Q: What is the capital of France?\nA:"}]
    assert items["2"].reference == "Rome" and items["2"].metadata["doc"]["answer"] == "Rome"
    js = {store.get("responses", j.response_id).text: (j.dimension, j.value, j.label) for j in store.iter("judgments")}
    assert js == {"Paris": ("exact_match", 1.0, "pass"), "The capital is Berlin.": ("exact_match", 0.0, "fail"),
                  "Milan": ("exact_match", 0.0, "fail")}
    (rater,) = store.list("raters")
    assert rater.kind == "program" and rater.name == "lm-eval/capitals" and rater.config["task_version"] == 1.0
    # the samples file alone finds its results; the folder too; twice adds nothing
    (samples,) = lm_eval_run.parent.glob("samples_capitals_*.jsonl")
    assert import_peer(store, samples, "lm-eval").duplicates == 3
    assert import_peer(store, lm_eval_run.parent, "lm-eval").responses_added == 0


def test_lm_eval_bad_sample_line_and_skip_invalid(store, lm_eval_run, tmp_path, capsys):
    from assay.io.peers import import_peer

    out = tmp_path / "run"
    shutil.copytree(lm_eval_run.parent, out)
    (samples,) = out.glob("samples_capitals_*.jsonl")
    lines = samples.read_text().splitlines()
    row = json.loads(lines[1])
    del row["resps"]
    lines[1] = json.dumps(row)
    samples.write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, "--db", str(tmp_path / "a.db"), "import", "--from", "lm-eval", str(out))
    assert code == 2 and one_line(err) == f"error: {samples}, line 2: field 'resps': missing: the model's outputs"
    s = import_peer(store, out, "lm-eval", on_invalid=OnInvalid(skip=True))
    assert (s.rows, s.rejected, s.items_added, s.judgments_added) == (3, 1, 2, 2)
    (rejected,) = [json.loads(x) for x in Path(s.rejects_file).read_text().splitlines()]
    assert (rejected["file"], rejected["line"], rejected["field"]) == (str(samples), 2, "resps")


def test_same_ids_with_other_prompts_are_refused_not_merged(store, lm_eval_run, inspect_logs):
    """lm-eval's doc ids 0, 1, 2 in a dataset that Inspect's samples already fill with ids 0, 1, 2."""
    from assay.errors import BadInput
    from assay.io.peers import import_peer

    import_peer(store, lm_eval_run, "lm-eval", dataset="geo")
    log = json.loads(inspect_logs["json"].read_text())
    for i, sample in enumerate(log["samples"]):
        sample["id"] = i % 3
    clash = inspect_logs["json"].with_name("clash.json")
    clash.write_text(json.dumps(log))
    with pytest.raises(BadInput, match="field 'id': item '0' of dataset 'geo' is already stored with another prompt"):
        import_peer(store, clash, "inspect", dataset="geo")


# ---- promptfoo --------------------------------------------------------------------------------------


def test_promptfoo_results_give_prompts_outputs_and_assertions(store):
    from assay.analysis.abtest import compare_models
    from assay.analysis.options import Selection
    from assay.io.peers import import_peer

    data = json.loads(PROMPTFOO.read_text())
    ev = data["evalId"]
    s = import_peer(store, PROMPTFOO, "promptfoo")
    cand, base = f"candidate@{ev}", f"openai:chat:baseline@{ev}"
    assert (s.dataset, s.rows, s.items_added, s.responses_added, s.judgments_added) == ("capitals", 6, 3, 6, 14)
    assert s.models == sorted([cand, base])
    items = {i.prompt: i for i in store.iter("items")}
    italy = items["Answer in one short sentence: What is the capital of Italy?"]
    assert italy.metadata["vars"] == {"question": "What is the capital of Italy?", "city": "Rome"}
    assert italy.metadata["description"] == "Italy"
    raters = {r.name: r for r in store.iter("raters")}
    assert raters["promptfoo/llm-rubric"].kind == "llm" and raters["promptfoo/llm-rubric"].model == f"openai:chat:judge@{ev}"
    assert raters["promptfoo/icontains"].kind == "program"
    js = {(store.get("responses", j.response_id).model, store.get("responses", j.response_id).item_id, j.dimension): j
          for j in store.iter("judgments")}
    milan = js[(cand, italy.id, "icontains")]
    assert (milan.value, milan.label, milan.justification) == (0.0, "fail", 'Expected output to contain "Rome"')
    assert js[(cand, italy.id, "llm-rubric")].justification == "the output does not name Rome"
    assert js[(cand, italy.id, "brevity")].detail["assertion"]["type"] == "javascript"  # the metric names it
    # what assay computes works on it: the A/B test of the two providers, per assertion
    rep = compare_models(store, base, cand, select=Selection(rubric="promptfoo.capitals@1"))
    got = {d["dimension"]: (d["n"], d.get("mean_a"), d.get("mean_b")) for d in rep["dimensions"]}
    assert got["icontains"] == (3, 0.0, 2 / 3) and got["llm-rubric"] == (3, 0.0, 2 / 3)
    assert got["brevity"] == (1, None, None)  # asked of Italy only: one pair, no test


def test_promptfoo_bad_results_and_skip_invalid(store, tmp_path, capsys):
    from assay.io.jsonlines import array_lines
    from assay.io.peers import import_peer

    data = json.loads(PROMPTFOO.read_text())
    data["results"]["results"][3]["gradingResult"]["componentResults"][1]["pass"] = "yes"
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(data, indent=2))
    line = array_lines(bad.read_text(), ["results", "results"])[3]
    code, _, err = run(capsys, "--db", str(tmp_path / "a.db"), "import", "--from", "promptfoo", str(bad))
    assert code == 2
    assert one_line(err) == (f"error: {bad}, line {line}: field 'results.results[3].gradingResult.componentResults[1]"
                             f".pass': expected true or false, got 'yes'")
    s = import_peer(store, bad, "promptfoo", on_invalid=OnInvalid(skip=True))
    assert (s.rows, s.rejected, s.responses_added) == (6, 1, 5)
    code, _, err = run(capsys, "--db", str(tmp_path / "a.db"), "import", "--from", "promptfoo", str(DATA))
    assert code == 2 and "not promptfoo results" in one_line(err) or "no such file" in err or "directory" in err


def test_inspect_sample_that_failed_keeps_its_item_without_a_response(store, inspect_logs, tmp_path):
    """A sample whose model call failed, as Inspect writes it with --no-fail-on-error: error set, no choices."""
    from assay.io.peers import import_peer

    log = json.loads(inspect_logs["json"].read_text())
    failed = log["samples"][0]
    failed["error"] = {"message": "ModelGenerateError('content filtered')", "traceback": "", "traceback_ansi": ""}
    failed["output"] = {"model": failed["output"]["model"], "choices": [], "completion": ""}
    failed["scores"] = {}
    path = tmp_path / "failed.json"
    path.write_text(json.dumps(log))
    s = import_peer(store, path, "inspect")
    assert (s.rows, s.failed, s.items_added, s.responses_added, s.judgments_added) == (6, 1, 3, 5, 10)


def test_lm_eval_multiple_choice_answer_is_the_likeliest_choice(store, lm_eval_run, tmp_path):
    """lm-eval's multiple-choice lines (one loglikelihood request per choice), written in its format from the
    real run's file: the scripted server has no /v1/completions, so the real tool cannot make them here."""
    from assay.io.peers import import_peer

    out = tmp_path / "mc"
    shutil.copytree(lm_eval_run.parent, out)
    (results,) = out.glob("results_*.json")
    res = json.loads(results.read_text())
    res["configs"]["capitals"]["output_type"] = "multiple_choice"
    res["configs"]["capitals"]["metric_list"] = [{"metric": "acc"}]
    res["higher_is_better"]["capitals"] = {"acc": True}
    results.write_text(json.dumps(res))
    (samples,) = out.glob("samples_*.jsonl")
    rows = [json.loads(x) for x in samples.read_text().splitlines()]
    choices = [" Paris", " Berlin", " Rome"]
    for row, lls in zip(rows, ([-0.1, -3.0, -4.0], [-2.0, -1.5, -0.9], [-5.0, -4.0, -0.2])):
        context = f"Q: {row['doc']['question']}\nA:"
        row["arguments"] = {f"gen_args_{i}": {"arg_0": context, "arg_1": c} for i, c in enumerate(choices)}
        row["resps"] = [[[ll, False]] for ll in lls]
        row["filtered_resps"] = [[ll, False] for ll in lls]
        row["target"] = row["doc_id"]
        row["metrics"] = ["acc"]
        row["acc"] = float(max(range(3), key=lls.__getitem__) == row["doc_id"])
        del row["exact_match"]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = import_peer(store, results, "lm-eval")
    assert (s.items_added, s.responses_added, s.judgments_added) == (3, 3, 3)
    got = {}
    for r in store.iter("responses"):
        item = store.get("items", r.item_id)
        (j,) = store.list("judgments", response_id=r.id)
        got[item.prompt] = (r.text, item.reference, j.dimension, j.value, r.metadata["chosen"])
    assert got == {"Q: What is the capital of France?\nA:": ("Paris", "Paris", "acc", 1.0, 0),
                   "Q: What is the capital of Germany?\nA:": ("Rome", "Berlin", "acc", 0.0, 2),
                   "Q: What is the capital of Italy?\nA:": ("Rome", "Rome", "acc", 1.0, 2)}
