"""judge-tune against the scripted server: candidates with planted agreement levels, the choice, the noise warning."""

from __future__ import annotations

import json
import re

import pytest

from assay import records as R
from assay.cli import main
from assay.errors import BadInput, NotFound
from assay.judges import tune
from assay.rubrics import default_rubric
from assay.store import Store
from assay.testing import ScriptedServer

from .scripted_judges import fenced, nonce_of, prompt_text, store_responses
from tests.sessions import session

RUBRIC = default_rubric()
FACTUALITY = tune.People("factuality")


def planted(q: int, key: str, p: float) -> int:
    """The true level ``q`` with probability ``p`` (a fixed pseudo-random draw per key), else another level."""
    u = int(R.digest("draw", key)[:8], 16) / 16**8
    if u < p:
        return q
    return [lv for lv in range(1, 6) if lv != q][int(u * 1000) % 4]


def judge_with(agreement):
    """A judge answering with the planted level; ``agreement(body)`` gives its agreement for this request."""
    def handler(body):
        n = nonce_of(body)
        answer = fenced(body, "ANSWER")
        q = int(re.search(r"quality (\d)", answer).group(1))
        v = planted(q, f"{body['model']}|{answer}|{agreement(body)}", agreement(body))
        return f"Looked at it.\nVERDICT {n} factuality: {v}"
    return handler


def labelled_store(store: Store, n_items: int = 120, *, labelled: int | None = None) -> list[str]:
    """Items with two responses each, each carrying its true level; two people give that level."""
    texts = {m: [f"Answer {i} by {m}: quality {1 + (i * 7 + k * 3) % 5}." for i in range(n_items)]
             for k, m in enumerate(("m1@1", "m2@1"))}
    _, responses = store_responses(store, texts)
    rs = [r for rr in responses.values() for r in rr][: labelled]
    people = [R.Rater(id=f"human:{h}", kind="human", name=h) for h in ("ann", "bo")]
    js = [R.Judgment(id=R.digest("j", h.id, r.id), response_id=r.id, rater_id=h.id, rubric=RUBRIC.id,
                     dimension="factuality", value=float(re.search(r"quality (\d)", r.text).group(1)))
          for r in rs for h in people]
    from assay.rubrics import add_rubric
    add_rubric(store, RUBRIC)
    store.add([*people, *js])
    return [r.id for r in rs]


def by_model(levels):
    return judge_with(lambda body: levels[body["model"]])


CANDIDATES = [tune.Candidate("a", ("ja@1",)), tune.Candidate("b", ("jb@1",)), tune.Candidate("c", ("jc@1",))]


def test_the_best_planted_candidate_is_chosen_and_its_held_out_gain_is_clear(store, store_url, capsys):
    labelled_store(store)
    levels = {"ja": 0.35, "jb": 0.6, "jc": 0.9}
    with ScriptedServer(handler=by_model(levels)) as srv:
        s = session(store, base_url=srv.base_url, structured="off")
        res = tune.tune_judge(s, "default", CANDIDATES, people=FACTUALITY, options=tune.TuneOptions(seed=3))
        sent = len(srv.chat_requests)
        again = tune.tune_judge(s, "default", CANDIDATES, people=FACTUALITY, options=tune.TuneOptions(seed=3))
        assert len(srv.chat_requests) == sent  # the runs resume: every verdict is already stored
        # the stored tuned judge runs again by name: the chosen candidate's rater, its calls answered from the cache
        code = main(["--db", store_url, "judge", "--tuned", "tuned-default-factuality@1", "--base-url", srv.base_url,
                     "--structured", "off", "--json"])
        out = capsys.readouterr()
        assert code == 0, out.err
        assert len(srv.chat_requests) == sent
        code = main(["--db", store_url, "judge", "--tuned", "tuned-default-factuality@1", "--judge", "x@1"])
        assert code == 2 and "give --tuned alone" in capsys.readouterr().err
    assert sent == 3 * 240
    assert res.chosen == "c" and res.baseline == "a" and not res.within_noise
    h = res.held_out
    assert h.metric == "kappa_quadratic" and h.n_units == res.splits["held_out"] and h.n_clusters == 60
    assert h.estimate["c"] > h.estimate["b"] > h.estimate["a"]
    assert res.train["c"] > res.train["b"] > res.train["a"]
    assert h.gain_interval["c"][0] > 0 and h.p_value["c"] < 0.05
    assert h.adjusted_confidence == pytest.approx(1 - 0.05 / 2)
    assert not any("within noise" in w for w in res.warnings)
    # stored as a versioned judge with where it came from; a second tuning is the next version
    assert res.tuned.name == "tuned-default-factuality@1" and again.tuned.name == "tuned-default-factuality@2"
    cfg = store.get(R.Rater, res.tuned.id).config["tuned"]
    assert cfg["rater"] == res.raters["c"] and cfg["setup"]["judges"] == ["jc@1"]
    assert cfg["provenance"]["report"]["chosen"] == "c" and cfg["provenance"]["options"]["seed"] == 3
    assert store.get(R.Rater, res.raters["c"]).model == "jc@1"
    # the tuned record names no model, so `--judge jc@1` (judge-report, judge-calibrate) still means one rater
    from assay.analysis.judge_trust import resolve_rater
    assert store.get(R.Rater, res.tuned.id).model is None and resolve_rater(store, "jc@1").id == res.raters["c"]
    rerun = json.loads(out.out)
    # every response was labelled, so it is the very run the tuning made for "c", already done
    assert rerun["rater"]["id"] == res.raters["c"] and rerun["run"]["id"] == res.runs["c"]


def test_equal_candidates_report_no_gain_beyond_noise(store):
    labelled_store(store)
    with ScriptedServer(handler=by_model({"ja": 0.7, "jb": 0.7, "jc": 0.7})) as srv:
        res = tune.tune_judge(session(store, base_url=srv.base_url, structured="off"), "default", CANDIDATES,
                              people=FACTUALITY, options=tune.TuneOptions(seed=3))
    assert res.within_noise
    lo, hi = res.held_out.gain_interval[res.chosen] if res.chosen != "a" else (0.0, 0.0)
    assert lo <= 0 <= hi
    assert any("within noise" in w or "baseline 'a' was best" in w for w in res.warnings)
    # no candidate shows a gain: every adjusted interval reaches zero and no Holm p-value is small
    for name in ("b", "c"):
        lo, hi = res.held_out.gain_interval[name]
        assert lo <= 0 <= hi and res.held_out.p_value[name] > 0.05


def test_spec_file_candidates_with_criteria_and_few_shot_exemplars_from_training(store, tmp_path, capsys, store_url):
    # a judge that agrees well only when shown the extra criteria or human-graded examples
    def agreement(body):
        text = prompt_text(body)
        return 0.95 if ("Additional criteria" in text or "Examples graded by human raters" in text) else 0.4

    labelled = labelled_store(Store(store_url))
    spec = tmp_path / "candidates.yaml"
    spec.write_text("baseline: plain\ncandidates:\n  - {name: plain, judges: j@1}\n"
                    "  - {name: strict, judges: [j@1], criteria: 'Grade the stated facts only.'}\n"
                    "  - {name: two-shot, judges: [j@1], few_shot: 2}\n")
    with ScriptedServer(handler=judge_with(agreement)) as srv:
        code = main(["--db", store_url, "judge-tune", "--rubric", "default", "--dimension", "factuality",
                     "--candidates", str(spec), "--base-url", srv.base_url, "--structured", "off", "--json"])
        out = capsys.readouterr()
        assert code == 0, out.err
        bodies = [prompt_text(r.body) for r in srv.chat_requests]
    rep = json.loads(out.out)
    assert rep["baseline"] == "plain" and rep["chosen"] in ("strict", "two-shot") and not rep["within_noise"]
    assert rep["splits"]["exemplar_pool"] == 2 and rep["splits"]["train"] + rep["splits"]["held_out"] == 238
    shots = [b for b in bodies if "Examples graded by human raters" in b]
    assert len(shots) == 238  # the two-shot candidate graded every labelled response but the two it was shown
    st = Store(store_url)
    cfg = st.get(R.Rater, rep["tuned"]["id"]).config["tuned"]
    if rep["chosen"] == "two-shot":
        sources = {e["source"] for e in cfg["setup"]["exemplars"]}
        assert len(sources) == 2 and sources <= set(labelled)
    # the exemplar texts are fenced with the call's code, so a graded answer cannot pose as an example's end
    n = re.search(r"<<<EXAMPLE 1 ANSWER (\w+)>>>", shots[0]).group(1)
    assert f"<<<END EXAMPLE 1 ANSWER {n}>>>" in shots[0] and f"<<<ANSWER {n}>>>" in shots[0]


def test_bad_usage_says_what_is_wrong(store, tmp_path, capsys, store_url):
    def cli(*args):
        code = main(["--db", store_url, "judge-tune", *args])
        return code, capsys.readouterr().err

    # a missing record exits 1, as everywhere in assay; unusable input exits 2
    code, err = cli("--rubric", "nosuch", "--judge", "j@1")
    assert code == 1 and "no rubric 'nosuch'" in err
    code, err = cli("--rubric", "default", "--dimension", "factuality", "--judge", "j@1")
    assert code == 1 and "no labels by raters of kind 'human' on default@1 factuality" in err
    labelled_store(Store(store_url), n_items=12, labelled=14)
    code, err = cli("--rubric", "default", "--dimension", "factuality", "--judge", "j@1")
    assert code == 2 and "too few human labels to split: 14 labelled responses" in err and "--human-kind" in err
    code, err = cli("--rubric", "default", "--judge", "j@1")
    assert code == 2 and "name the one to tune on" in err and "--dimension" in err
    code, err = cli("--rubric", "default", "--dimension", "factuality")
    assert code == 2 and "--candidates" in err
    bad = tmp_path / "c.yaml"
    bad.write_text("candidates:\n  - {name: x, judges: j@1, shots: 2}\n")
    code, err = cli("--rubric", "default", "--dimension", "factuality", "--candidates", str(bad))
    assert code == 2 and "unknown field(s) ['shots']" in err and str(bad) in err
    code, err = cli("--rubric", "default", "--dimension", "factuality", "--judge", "j@1", "--holdout", "1.5")
    assert code == 2 and "--holdout" in err


def test_library_errors_name_parameters(store):
    with pytest.raises(BadInput, match="share a name"):
        tune.tune_judge(session(store), "default", [CANDIDATES[0], CANDIDATES[0]], people=FACTUALITY)
    with pytest.raises(NotFound, match="no labels"):
        tune.tune_judge(session(store), "default", CANDIDATES, people=tune.People("factuality", humans=["human:nobody"]))
    assert [c.name for c in tune.builtin_candidates(["j@1"])] == ["j@1 k=0", "j@1 k=2", "j@1 k=4", "j@1 K=3 median",
                                                                  "j@1 K=3 mean"]


def test_builtin_variations_k_samples_by_median_and_mean(store, store_url, capsys):
    """One judge, five built-in set-ups: at temperature 0 it agrees half the time; its K=3 samples at temperature 1
    on a middle level are one too high twice and two too low once: their mean is right, their median is not."""
    from collections import Counter

    calls: Counter = Counter()

    def handler(body):
        n = nonce_of(body)
        answer = fenced(body, "ANSWER")
        q = int(re.search(r"quality (\d)", answer).group(1))
        if body.get("temperature") == 0:
            v = planted(q, answer, 0.5)
        else:
            v = q + (1, 1, -2)[calls[answer] % 3] if q in (3, 4) else q
            calls[answer] += 1
        return f"Looked at it.\nVERDICT {n} factuality: {v}"

    labelled_store(store, n_items=60)
    with ScriptedServer(handler=handler) as srv:
        code = main(["--db", store_url, "judge-tune", "--rubric", "default", "--dimension", "factuality", "--judge",
                     "j@1", "--base-url", srv.base_url, "--structured", "off", "--json"])
        out = capsys.readouterr()
        assert code == 0, out.err
    rep = json.loads(out.out)
    rows = {r["name"]: r for r in rep["candidates"]}
    assert list(rows) == ["j@1 k=0", "j@1 k=2", "j@1 k=4", "j@1 K=3 median", "j@1 K=3 mean"]
    assert rep["baseline"] == "j@1 k=0" and rep["splits"]["exemplar_pool"] == 4
    assert rows["j@1 K=3 mean"]["train"] == rows["j@1 K=3 mean"]["held_out"] == 1.0
    assert rows["j@1 K=3 median"]["train"] < 1.0 and rows["j@1 k=0"]["train"] < 0.8
    assert rep["chosen"] == "j@1 K=3 mean" and not rep["within_noise"]
    assert rows["j@1 K=3 mean"]["gain_interval"][0] > 0
    assert all(c == 3 for c in calls.values()) and len(calls) == 120 - 4
