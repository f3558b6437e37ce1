"""Counterfactual probes against scripted models with planted causes: each cause is identified, with intervals
that cover the planted rates; probes are a registry users extend; a rerun asks nothing already answered."""

from __future__ import annotations

import random
import re

import pytest

from assay import records as R
from assay.errors import BadInput
from assay.library import add_entry, get_entry
from assay.library import probes as P
from assay.library.why import ProbeSettings, probe_entry
from assay.testing import Reply, ScriptedServer
from tests.sessions import session

EXACT = {"program": {"name": "exact_match", "args": {}}}
N = 30


def fill(store, n: int = N, *, references: bool = True) -> list[str]:
    """``n`` questions about codes only the reference knows, each answered wrongly by m@1; the failing ids."""
    store.add([R.Dataset(name="codes")])
    items, responses = [], []
    for i in range(n):
        item = R.Item(id=R.Item.make_id("codes", f"c{i}", None, None), dataset="codes", external_id=f"c{i}",
                      prompt=f"What is the secret code of vault {i}? Answer with the code only.",
                      reference=f"CODE-{i:03d}" if references else None)
        items.append(item)
        responses.append(R.Response(id=R.Response.make_id(item.id, "m@1", 0), item_id=item.id, model="m@1",
                                    text="I do not know."))
    store.add([R.Model(id="m@1")])
    store.add(items)
    store.add(responses)
    return [r.id for r in responses]


def paraphrased(body: dict) -> str | None:
    """The rewriter's side of the script: a request to rewrite gets the request reworded."""
    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    if system != P.PARAPHRASE_SYSTEM:
        return None
    text = body["messages"][-1]["content"].split("<<<REQUEST>>>\n")[1].split("\n<<<END>>>")[0]
    return "Please tell me this: " + text


class Knows:
    """Answers right only when the code is in the prompt (it lacks the knowledge, nothing else)."""

    def __call__(self, body: dict) -> str:
        rewritten = paraphrased(body)
        if rewritten is not None:
            return rewritten
        text = "\n".join(m["content"] for m in body["messages"])
        m = re.search(r"CODE-\d{3}", text)
        return m.group(0) if m else "I do not know."


class Coin:
    """Knows every code but says it only with probability ``p`` (unstable, whatever the prompt)."""

    def __init__(self, p: float, seed: int = 0) -> None:
        self.p, self.rng = p, random.Random(seed)

    def __call__(self, body: dict) -> str:
        rewritten = paraphrased(body)
        if rewritten is not None:
            return rewritten
        vault = re.search(r"vault (\d+)", body["messages"][-1]["content"]).group(1)
        return f"CODE-{int(vault):03d}" if self.rng.random() < self.p else "I do not know."


def probes(*names: str) -> list[P.Probe]:
    return [P.create(n) for n in names]


def test_the_missing_reference_is_found_and_written_beside_the_hypothesis(store):
    failing = fill(store)
    add_entry(store, "Unknown codes", entry="codes", examples=failing, detector=EXACT,
              hypothesis="The model misreads the question.")
    with ScriptedServer(handler=Knows()) as srv:
        m = R.Model(id="m@1", base_url=srv.base_url)
        out = probe_entry(session(store), "codes", m, probes("resample", "paraphrase", "explicit", "reference",
                                                               "system"), settings=ProbeSettings(samples=3))
        asked = len(srv.answered())
    by = {r.probe: r for r in out.results}
    assert (by["reference"].passed, by["reference"].n) == (N, N)
    assert by["resample"].n == 3 * N and by["resample"].passed == 0
    for other in ("resample", "paraphrase", "explicit", "system"):
        assert by[other].rate == 0.0 and by[other].interval[1] < by["reference"].interval[0]
    assert by["reference"].beyond_resample is True and by["paraphrase"].beyond_resample is False
    assert out.measured.startswith("fixed by giving the reference (100% [88%, 100%])")
    assert "stable (fails every time)" in by["resample"].line()
    # 3 resamples + 1 paraphrase request + 1 answer to it + explicit + reference + system, per prompt
    assert asked == 8 * N
    # the paraphrase really reached the model: its answers were asked with the reworded prompt
    para = [it for it in store.iter(R.Item) if it.dataset.startswith("why:codes:paraphrase:")
            and not it.dataset.endswith(":rewrite")]
    assert len(para) == N and all(it.prompt_text().startswith("Please tell me this: What is the secret code")
                                  for it in para)

    entry = get_entry(store, "codes")
    assert entry.version == 2 and entry.hypothesis == "The model misreads the question."
    ev = entry.evidence["probes"]
    assert ev["measured"] == out.measured and ev["hypothesis"] == "The model misreads the question."
    assert ev["table"][3].startswith("fixed by giving the reference: 100% [88%, 100%]")
    assert [h["model"] for h in entry.evidence["probe_history"]] == ["m@1"]


def test_an_unstable_model_shows_in_the_resamples_and_the_interval_covers_its_rate(store):
    failing = fill(store, 40)
    add_entry(store, "Unknown codes", entry="codes", examples=failing, detector=EXACT)
    with ScriptedServer(handler=Coin(0.6, seed=3)) as srv:
        out = probe_entry(session(store), "codes", R.Model(id="m@1", base_url=srv.base_url),
                          probes("resample", "reference"), settings=ProbeSettings(samples=5))
    re_ = out.results[0]
    assert re_.n == 200 and re_.interval[0] <= 0.6 <= re_.interval[1]
    assert "unstable" in re_.line() and re_.line().startswith("passes ")
    # giving the reference does not help a model that knew all along: not beyond resampling
    assert out.results[1].beyond_resample is False and out.measured.startswith("unstable: passes")


def test_a_rerun_resumes_without_asking_again(store):
    failing = fill(store, 12)
    add_entry(store, "Unknown codes", entry="codes", examples=failing, detector=EXACT)
    script = Knows()
    broken = {"left": 5}

    def flaky(body: dict):
        if broken["left"] > 0:  # the first calls fail: an interrupted run leaves them unanswered
            broken["left"] -= 1
            return Reply.server_error()
        return script(body)

    with ScriptedServer(handler=flaky) as srv:
        m = R.Model(id="m@1", base_url=srv.base_url)
        first = probe_entry(session(store, max_retries=0), "codes", m, probes("reference", "system"))
        assert sum(r.unanswered for r in first.results) == 5
        before = len(srv.chat_requests)
        again = probe_entry(session(store, max_retries=0), "codes", m, probes("reference", "system"))
        assert len(srv.chat_requests) - before == 5  # only the failed calls are asked again
    assert [r.unanswered for r in again.results] == [0, 0]
    assert [r.generation_run for r in again.results] == [r.generation_run for r in first.results]
    assert again.results[0].passed == 12


def test_a_probe_without_references_does_not_apply(store):
    failing = fill(store, 4, references=False)
    add_entry(store, "Unknown codes", entry="codes", examples=failing,
              detector={"program": {"name": "regex", "args": {"pattern": "CODE"}}})
    with ScriptedServer(handler=Knows()) as srv:
        m = R.Model(id="m@1", base_url=srv.base_url)
        with pytest.raises(BadInput, match="does not apply"):
            probe_entry(session(store), "codes", m, probes("reference"))
        out = probe_entry(session(store), "codes", m, probes("reference", "system"), write=False)
    assert out.results[0].line() == "reference: does not apply to any of the failing prompts"
    assert out.version is None and get_entry(store, "codes").version == 1


def test_users_register_their_own_probe(store):
    @P.probe("shout-test")
    def shout(times: int = 1):
        """The prompt in capitals: does the case matter?"""
        return P.Change(lambda item, _: [{"role": "user", "content": item.prompt_text().upper() * times}],
                        fixed_by="shouting")

    made = P.parse("shout-test(times=2)")
    assert (made.tests, made.spec()["args"]) == ("The prompt in capitals: does the case matter?", {"times": 2})
    item = R.Item(id="i", dataset="d", prompt="hi")
    assert made.messages(item) == [{"role": "user", "content": "HIHI"}]
    with pytest.raises(ValueError, match="probe"):
        P.parse("no-such-probe")


class Wording:
    """Fails on the dataset's own wording only: any rewording of the question gets the code right."""

    def __call__(self, body: dict) -> str:
        rewritten = paraphrased(body)
        if rewritten is not None:
            return rewritten
        last = body["messages"][-1]["content"]
        vault = re.search(r"vault (\d+)", last).group(1)
        return "I do not know." if last.startswith("What is the secret code") else f"CODE-{int(vault):03d}"


def test_a_failure_on_one_wording_is_fixed_by_the_paraphrase_only(store):
    failing = fill(store, 20)
    add_entry(store, "Unknown codes", entry="codes", examples=failing, detector=EXACT)
    with ScriptedServer(handler=Wording()) as srv:
        out = probe_entry(session(store), "codes", R.Model(id="m@1", base_url=srv.base_url),
                          probes("resample", "paraphrase", "reference", "system"), settings=ProbeSettings(samples=2))
    by = {r.probe: r for r in out.results}
    assert (by["paraphrase"].passed, by["paraphrase"].n) == (20, 20) and by["paraphrase"].beyond_resample
    # the reference probe also rewords the prompt (the information comes first), so it fixes it too: both are
    # beyond resampling, and the system prompt, which leaves the wording alone, is not
    assert by["system"].rate == 0 and by["resample"].rate == 0 and by["system"].beyond_resample is False
    assert "fixed by" in out.measured


class Refuser:
    """Refuses benign requests unless given our system prompt; its judge scores refusals 1, others 5."""

    def __call__(self, body: dict) -> str:
        from tests.judges.scripted_judges import nonce_of

        if body["model"] == "judge":
            text = next(m["content"] for m in body["messages"] if m["role"] == "user")
            nonce = nonce_of(body)
            answer = text.split(f"<<<ANSWER {nonce}>>>\n")[1].split(f"\n<<<END ANSWER {nonce}>>>")[0]
            return f"Checked.\nVERDICT {nonce} quality: {1 if 'sorry' in answer else 5}"
        if any(m["role"] == "system" and m["content"] == P.SYSTEM for m in body["messages"]):
            return "Sure, here is a practical answer."
        return "I'm sorry, I can't help with that."


def test_a_failure_set_judged_by_the_rubric_judge(store):
    from assay.library import select_failures
    from assay.library.why import probe_failures
    from tests.library.planted import planted

    planted(store)
    failures = select_failures(store, rubric="helpful", dimension="quality", models=["alpha@1"])
    det = {"rubric": "helpful", "dimension": "quality", "threshold": 3, "rater": "judge@1"}
    with ScriptedServer(handler=Refuser()) as srv:
        out = probe_failures(session(store, base_url=srv.base_url), failures,
                             R.Model(id="alpha@1", base_url=srv.base_url), probes("resample", "system", "explicit"),
                             detector=det, settings=ProbeSettings(samples=2))
        judged = sum(1 for q in srv.answered() if q.body["model"] == "judge")
    by = {r.probe: r for r in out.results}
    assert out.prompts == 10 and out.entry.startswith("failures-")
    assert (by["system"].passed, by["system"].n) == (10, 10) and by["system"].judge_run is not None
    assert by["resample"].passed == 0 and by["explicit"].passed == 0
    assert out.measured.startswith("fixed by another system prompt")
    # at most one judge call per answer; the same answer to the same prompt is the same judge call, which the
    # request cache answers once it is stored (calls in flight together both go out): 20 distinct (prompt, answer)
    assert 20 <= judged <= 10 * 2 + 10 + 10


def test_the_built_in_changes():
    chat = R.Item(id="i", dataset="d", messages=[R.Message(role="system", content="Be terse."),
                                                  R.Message(role="user", content="Name a prime."),
                                                  R.Message(role="assistant", content="4"),
                                                  R.Message(role="user", content="Another one?")],
                  reference="7", metadata={"passage": "Primes: 2, 3, 5, 7."})
    ref = P.create("reference").messages(chat)
    assert ref[:3] == chat.chat()[:3] and "7" in ref[3]["content"] and ref[3]["content"].endswith("Another one?")
    assert "Primes: 2, 3, 5, 7." in P.create("reference", field="passage").messages(chat)[3]["content"]
    assert P.create("reference", field="context").messages(chat) is None
    sys_ = P.create("system").messages(chat)
    assert sys_[0] == {"role": "system", "content": P.SYSTEM} and len(sys_) == 4
    assert P.create("system", prompt="Be kind.").messages(chat)[0]["content"] == "Be kind."
    steps = P.create("explicit").messages(chat)[-1]["content"]
    assert "Task:\nAnother one?" in steps and "3. Check the answer" in steps
    by_model = P.create("explicit", written_by_model=True)
    assert by_model.rewrites and by_model.messages(chat, None) is None
    assert by_model.messages(chat, " 1. Name another prime. ")[-1]["content"] == "1. Name another prime."
    assert "Another one?" in by_model.rewrite_messages(chat)[-1]["content"]
    assert P.create("resample").messages(chat) == chat.chat() and not P.create("resample").rewrites
    with pytest.raises(ValueError, match="probe system: prompt must not be empty"):
        P.create("system", prompt=" ")


def test_the_report_shows_the_measured_cause_beside_the_hypothesis(store):
    from assay.analysis.options import Options
    from assay.report import build_report, to_html, to_markdown

    add_entry(store, "Unknown codes", entry="codes", examples=fill(store, 6), detector=EXACT,
              hypothesis="It <b>misreads</b> the question.")
    with ScriptedServer(handler=Knows()) as srv:
        out = probe_entry(session(store), "codes", R.Model(id="m@1", base_url=srv.base_url),
                          probes("resample", "reference"), settings=ProbeSettings(samples=2))
    report = build_report(store, options=Options(rounds=10))
    e = {x["entry"]: x for x in report["library"]}["codes"]
    assert e["probes"]["measured"] == out.measured and e["probes"]["table"] == [r.line() for r in out.results]
    html = to_html(report)
    assert f"m@1: {out.measured}" in html and "It &lt;b&gt;misreads&lt;/b&gt; the question." in html
    assert "fixed by giving the reference: 100% [54%, 100%]; beyond resampling" in html
    shown = out.measured.replace("[", "\\[").replace("]", "\\]")  # Markdown cells escape link brackets
    assert f"| m@1: {shown} |" in to_markdown(report)
