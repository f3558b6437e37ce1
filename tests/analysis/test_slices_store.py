"""`assay slices` on a store: rubric failures, a regression between versions, --save, usage errors, IFEval."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from assay import records as R
from assay.cli import main

RUBRIC = R.Rubric(name="qa", dimensions=[R.Dimension(name="correct", description="Is it right?",
                                                     scale=R.Scale(kind="binary"))])


def _store(url: str, seed: int = 0) -> None:
    """120 items in 3 categories and 2 languages; v2 fails 'math' in German far more often than v1."""
    from assay.rubrics import add_rubric
    from assay.store import Store

    rng = np.random.default_rng(seed)
    s = Store(url)
    add_rubric(s, RUBRIC)
    rater = R.Rater(id="human:ann", kind="human", name="ann")
    recs: list[R.Record] = [R.Dataset(name="d"), R.Model(id="m@1", provider="none"), R.Model(id="m@2", provider="none"),
                            rater]
    for i in range(240):
        cat, lang = ["math", "code", "chat"][i % 3], ["de", "en"][(i // 3) % 2]
        item = R.Item(id=f"i{i}", dataset="d", prompt=f"question {i} " + "x" * int(rng.integers(0, 400)),
                      category=cat, language=lang, tags=["hard"] if i % 5 == 0 else [])
        recs.append(item)
        for model in ("m@1", "m@2"):
            bad = 0.15 + (0.7 if (model == "m@2" and cat == "math" and lang == "de") else 0.0)
            resp = R.Response(id=f"{model}-{i}", item_id=item.id, model=model, text="ok" if i % 2 else "- a\n- b")
            recs += [resp, R.Judgment(id=f"j-{model}-{i}", response_id=resp.id, rater_id=rater.id, rubric="qa@1",
                                      dimension="correct", value=float(rng.random() > bad))]
    s.add(recs)
    s.close()


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def url(store_url):
    """The planted store on SQLite and on PostgreSQL."""
    _store(store_url)
    return store_url


def test_rubric_failures_find_the_planted_slice(capsys, url):
    code, out, _ = run(capsys, "--db", url, "slices", "--rubric", "qa", "--dimension", "correct", "--model", "m@2",
                       "--feature", "category", "--feature", "language", "--feature", "tags", "--json")
    assert code == 0
    res = json.loads(out)
    top = res["slices"][0]
    assert top["slice"] == "category=math AND language=de" and top["significant"] and top["diff"] > 0.4
    assert top["n"] == 40 and res["rows"] == 240


def test_compare_finds_the_regression_with_its_interval(capsys, url):
    code, out, _ = run(capsys, "--db", url, "slices", "--rubric", "qa", "--dimension", "correct",
                       "--compare", "m@1", "m@2", "--feature", "category", "--feature", "language", "--json")
    assert code == 0
    top = json.loads(out)["slices"][0]
    assert top["slice"] == "category=math AND language=de"
    assert top["ci_high"] < 0 and top["in_high"] < 0  # v2 worse there, and worse than v1 within the slice


def test_save_writes_evidence(capsys, url):
    code, out, _ = run(capsys, "--db", url, "slices", "--rubric", "qa", "--dimension", "correct", "--model", "m@2",
                       "--feature", "category", "--feature", "language", "--save", "--json")
    saved = json.loads(out)["saved"]
    assert code == 0 and saved
    from assay.store import Store

    s = Store(url)
    entry = next(e for e in s.iter(R.LibraryEntry) if e.entry == saved[0])
    ev = entry.evidence["slices"]
    assert entry.source == "slices" and ev["slice"] == [["category", "math"], ["language", "de"]]
    assert ev["n"] == 40 and ev["interval"][0] > 0 and ev["p_adjusted"] < 0.05 and "assay" in ev["command"]
    assert entry.examples and all(e.startswith("m@2-") for e in entry.examples)
    s.close()
    code, out, _ = run(capsys, "--db", url, "slices", "--rubric", "qa", "--dimension", "correct", "--model", "m@2",
                       "--feature", "category", "--feature", "language", "--save", "--json")
    assert json.loads(out)["saved"] == []  # already in the library


@pytest.mark.parametrize("args, flag", [
    (["--rubric", "nope", "--dimension", "correct"], "--rubric"),
    (["--rubric", "qa", "--dimension", "nope"], "--dimension"),
    (["--rubric", "qa", "--dimension", "correct", "--model", "z@9"], "--model"),
    (["--rubric", "qa", "--dimension", "correct", "--min-size", "0"], "--min-size"),
    (["--rubric", "qa", "--dimension", "correct", "--max-level", "3"], "--max-level"),
    (["--rubric", "qa", "--dimension", "correct", "--feature", "colour"], "--feature"),
    (["--rubric", "qa", "--dimension", "correct", "--compare", "m@1", "m@1"], "--compare"),
    (["--rubric", "qa", "--dimension", "correct", "--compare", "m@1"], "--compare"),
    (["--rubric", "qa", "--dimension", "correct", "--fdr", "holm"], "--fdr"),
    (["--dimension", "correct"], "--rubric"),
    (["--verifier", "nope"], "--verifier"),
    (["--rubric", "qa", "--dimension", "correct", "--metadata", "nokey"], "--metadata"),
])
def test_usage_errors_name_the_option(capsys, url, args, flag):
    code, _, err = run(capsys, "--db", url, "slices", *args)
    assert code == 2 and flag in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 or lines[-1].startswith(("Error", "Try")) or "Usage" in err  # click's own usage error


def test_missing_embed_extra_when_asked(capsys, url, monkeypatch):
    import importlib

    from assay.errors import MissingExtra

    discover = importlib.import_module("assay.library.discover")  # the package re-exports a function of that name

    def missing(*_a, **_k):
        raise MissingExtra("embed", "topic clusters", ImportError("no sentence_transformers"))

    monkeypatch.setattr(discover, "require_embed", missing)
    code, _, err = run(capsys, "--db", url, "slices", "--rubric", "qa", "--dimension", "correct",
                       "--feature", "topic")
    assert code == 2 and "--feature" in err and "embed" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "--db", url, "slices", "--rubric", "qa", "--dimension", "correct", "--json",
                       "--feature", "category", "--feature", "language")
    assert code == 0  # not asked: no topic, no complaint


def test_not_asked_topic_is_skipped_with_one_line(capsys, url, monkeypatch):
    import importlib

    from assay.errors import MissingExtra

    discover = importlib.import_module("assay.library.discover")  # the package re-exports a function of that name

    def missing(*_a, **_k):
        raise MissingExtra("embed", "topic clusters", ImportError("no sentence_transformers"))

    monkeypatch.setattr(discover, "require_embed", missing)
    code, out, err = run(capsys, "--db", url, "slices", "--rubric", "qa", "--dimension", "correct", "--model", "m@2")
    assert code == 0 and [line for line in err.splitlines() if "topic" in line] == [
        "topic: skipped, the embed extra is not installed (pip install 'assay[embed]')"]
    code, out, err = run(capsys, "--db", url, "slices", "--rubric", "qa", "--dimension", "correct", "--model", "m@2",
                         "--json")
    res = json.loads(out)
    assert "topic" not in res["features"] and any("embed extra" in n for n in res["notes"])
    assert res["slices"][0]["slice"] == "category=math AND language=de"


def test_ifeval_instruction_failure_rates_equal_the_verifier_accuracies(capsys, tmp_path):
    """Per instruction type, `assay slices` gives 1 - the instruction-level accuracy computed from the verdicts."""
    from assay.judges import jobs, registry
    from assay.session import Session
    from assay.store import Store

    u = f"sqlite:///{tmp_path / 'if.db'}"
    s = Store(u)
    data = resources.files("assay.data").joinpath("ifeval")
    with resources.as_file(data) as folder:
        jobs.load_ifeval(s, folder / "input_data.jsonl", folder / "gpt4_responses.jsonl", model="gpt-4@2023-11-07")
    _, rater = jobs.verify(Session(s), registry.create("ifeval", mode="strict"), dataset="ifeval")
    direct: dict[str, list[int]] = {}
    for j in s.iter(R.Judgment, rater_id=rater.id):
        for c in j.detail["instructions"]:
            direct.setdefault(c["id"], []).append(int(c["followed"]))
    s.close()
    code, out, _ = run(capsys, "--db", u, "slices", "--verifier", "ifeval", "--per-instruction", "--feature",
                       "instruction", "--max-level", "1", "--min-size", "1", "--all", "--json")
    assert code == 0
    got = {sl["predicates"][0][1]: sl for sl in json.loads(out)["slices"]}
    assert set(got) == set(direct)
    for name, followed in direct.items():
        assert got[name]["n"] == len(followed)
        assert got[name]["value_in"] == pytest.approx(1 - sum(followed) / len(followed), abs=1e-12)


def test_report_section_escapes_and_sorts(tmp_path):
    from assay.report import Sections, build_report, to_html, to_markdown
    from assay.store import Store

    u = f"sqlite:///{tmp_path / 'r.db'}"
    _store(u)
    s = Store(u)
    s.add([R.Item(id="evil", dataset="d", prompt="p", category="<b>bold</b>")])  # never answered: no row
    data = build_report(s, sections=Sections(slices=["rubric=qa dimension=correct model=m@2 features=category,language",
                                                     "rubric=qa dimension=nope"]))
    ok, bad = data["slices"]
    assert ok["slices"][0]["slice"] == "category=math AND language=de" and "dimension" in bad["error"]
    html = to_html(data)
    assert 'id="slices"' in html and 'class="sortable"' in html and "category=math AND language=de" in html
    md = to_markdown(data)
    assert "### Slices: rubric=qa dimension=correct" in md and "| category=math AND language=de | 40 |" in md
    ok["slices"][0]["slice"] = "category=<img src=x onerror=alert(1)>"  # text from the store, as a value may be
    html = to_html(data)
    assert "<img src=x" not in html and "&lt;img src=x" in html
    s.close()


def test_report_slice_text_is_escaped(tmp_path):
    from assay.report.slices import slice_forest

    sec = {"outcome": "x", "binary": True, "slices": [{"slice": "tag=<img src=x>", "diff": 0.1, "ci_low": 0.0,
                                                        "ci_high": 0.2}]}
    fig = slice_forest(sec)
    assert fig["data"][0]["y"] == ["tag=&lt;img src=x&gt;"]  # Plotly renders some HTML in labels


def test_redteam_outcome_slices_behaviours_and_attacks(capsys, store_url):
    """Attacks work far more often on 'weapons' behaviours with base64: found, by the behaviour's category."""
    from assay.store import Store

    rng = np.random.default_rng(1)
    s = Store(store_url)
    recs: list[R.Record] = [R.Dataset(name="harms"), R.Dataset(name="harms~x"), R.Model(id="t@1", provider="none")]
    for i in range(160):
        cat = ["weapons", "fraud"][i % 2]
        recs.append(R.Item(id=f"b{i}", dataset="harms", prompt=f"behaviour {i}", category=cat))
        for attack in ("direct", "base64"):
            item = R.Item(id=f"p{i}{attack}", dataset="harms~x", prompt=f"{attack} {i}")
            resp = R.Response(id=f"r{i}{attack}", item_id=item.id, model="t@1", text="...")
            worked = rng.random() < (0.8 if (cat == "weapons" and attack == "base64") else 0.1)
            recs += [item, resp, R.Attempt(id=f"a{i}{attack}", behavior_id=f"b{i}", model="t@1", attack=attack,
                                           item_id=item.id, response_id=resp.id, success=bool(worked))]
    s.add(recs)
    s.close()
    code, out, _ = run(capsys, "--db", store_url, "slices", "--redteam", "--feature", "category", "--feature",
                       "attack", "--json")
    assert code == 0
    res = json.loads(out)
    assert res["rows"] == 320 and res["slices"][0]["slice"] == "category=weapons AND attack=base64"
    assert res["slices"][0]["ci_low"] > 0.4
