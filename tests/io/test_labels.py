"""Pairwise labels with a field mapping: label maps, raters, order shown, matching by content, one transaction."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from assay import records as R
from assay.cli import main
from assay.errors import BadInput
from assay.io import FieldMap, OnInvalid, import_file
from assay.io.labels import LabelMap, MappedReader, PairFields, RowError, import_labels


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def jsonl(path, rows: list[dict]):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [
    {"q": "What is 2+2?", "out_a": "4", "out_b": "five", "ma": "small@1", "mb": "big@1", "verdict": "A",
     "who": "ann", "why": "A is right", "swapped": False},
    {"q": "Name a colour.", "out_a": "blue", "out_b": "a colour", "ma": "big@1", "mb": "small@1", "verdict": "B",
     "who": "bob", "why": "", "swapped": True},
    {"q": "Name a colour.", "out_a": "blue", "out_b": "a colour", "ma": "big@1", "mb": "small@1", "verdict": "tie",
     "who": "ann", "why": "both fine", "swapped": False},
]
FIELDS = PairFields(responses=("out_a", "out_b"), models=("ma", "mb"), label="verdict", label_map="A/B/tie",
                    prompt="q", rater_field="who", justification="why", shown="swapped")


def test_labels_become_comparisons_with_raters_order_shown_and_reasons(store, tmp_path):
    s = import_labels(store, jsonl(tmp_path / "labels.jsonl", ROWS), MappedReader(FIELDS), dataset="qa")
    assert (s.rows, s.items_added, s.responses_added, s.comparisons_added, s.raters_added) == (3, 2, 4, 3, 2)
    comps = sorted(store.iter("comparisons"), key=lambda c: (c.rater_id, c.outcome))
    resp = {r.id: r for r in store.iter("responses")}
    ann_tie, ann_win, bob = comps
    assert ann_win.rater_id == "human:ann" and ann_win.outcome == "win"
    assert (resp[ann_win.winner].model, resp[ann_win.winner].text) == ("small@1", "4")
    assert ann_win.justification == "A is right" and ann_win.shown_order == ann_win.response_ids
    assert bob.rater_id == "human:bob" and resp[bob.winner].text == "a colour"
    assert bob.shown_order == bob.response_ids[::-1]  # shown swapped; the label still names the answers as given
    assert ann_tie.outcome == "tie" and ann_tie.winner is None and ann_tie.justification == "both fine"
    # the two labels on "Name a colour." are on one item and one pair of responses
    assert set(bob.response_ids) == set(ann_tie.response_ids) and bob.item_id == ann_tie.item_id
    assert {r.kind for r in store.iter("raters")} == {"human"}


def test_labels_attach_to_items_and_responses_already_stored(store, tmp_path):
    """Answers imported first (with their own ids and sample indices) are found again by their text."""
    answers = [{"id": "q1", "prompt": "What is 2+2?", "response": "4", "model": "small@1"},
               {"id": "q1", "prompt": "What is 2+2?", "response": "four", "model": "small@1"},
               {"id": "q1", "prompt": "What is 2+2?", "response": "five", "model": "big@1"}]
    import_file(store, jsonl(tmp_path / "answers.jsonl", answers), dataset="qa", fields=FieldMap(model_field="model"))
    before = {r.id for r in store.iter("responses")}
    s = import_labels(store, jsonl(tmp_path / "labels.jsonl", ROWS[:1]), MappedReader(FIELDS), dataset="qa")
    assert (s.items_added, s.responses_added, s.comparisons_added) == (0, 0, 1)
    (comp,) = store.list("comparisons")
    assert set(comp.response_ids) <= before
    item = store.get("items", comp.item_id)
    assert item.external_id == "q1"  # matched by its prompt, though it was stored under an id
    by_id = {r.id: r for r in store.iter("responses")}
    assert [by_id[r].text for r in comp.response_ids] == ["4", "five"]
    # a new answer of a model that already answered gets the next sample index
    new = [{**ROWS[0], "out_a": "2+2=4"}]
    import_labels(store, jsonl(tmp_path / "more.jsonl", new), MappedReader(FIELDS), dataset="qa")
    samples = sorted((r.model, r.sample_index, r.text) for r in store.iter("responses") if r.model == "small@1")
    assert samples == [("small@1", 0, "4"), ("small@1", 1, "four"), ("small@1", 2, "2+2=4")]


def test_importing_the_same_file_twice_adds_nothing(store, tmp_path):
    path = jsonl(tmp_path / "labels.jsonl", ROWS)
    import_labels(store, path, MappedReader(FIELDS), dataset="qa")
    again = import_labels(store, path, MappedReader(FIELDS), dataset="qa")
    assert (again.items_added, again.responses_added, again.comparisons_added, again.duplicates) == (0, 0, 0, 3)
    assert store.count("comparisons") == 3


@pytest.mark.parametrize("spec, values, want", [
    ("1/2/0", [1, "2", 0, 2.0], [("win", 0), ("win", 1), ("tie", None), ("win", 1)]),
    ("A/B/tie", ["A", "b", "Tie"], [("win", 0), ("win", 1), ("tie", None)]),
    ("model_a/model_b/tie", ["model_a", "model_b", "tie", "tie (bothbad)", "tie (inconsistent)"],
     [("win", 0), ("win", 1), ("tie", None), ("both_bad", None), ("tie", None)]),
    ("A>>B", ["A>>B", "A>B", "A=B", "B>A", "B>>A", "A<<B"],
     [("win", 0, 2), ("win", 0, 1), ("tie", None), ("win", 1, 1), ("win", 1, 2), ("win", 1, 2)]),
    ("probability", [0.9, "0.2", 0.5], [("win", 0, None, 0.9), ("win", 1, None, 0.2), ("tie", None, None, 0.5)]),
    ("probability-second", [0.9], [("win", 1, None, pytest.approx(0.1))]),
    ("alpaca-eval", [1, 2, 0, 1.5, 1.25], [("win", 0, None, None), ("win", 1, None, None), ("tie", None, None, None),
                                            ("tie", None, None, 0.5), ("win", 0, None, 0.75)]),
    ("yes=first,no=second:2,same=tie,awful=both_bad", ["yes", "no", "same", "awful"],
     [("win", 0), ("win", 1, 2), ("tie", None), ("both_bad", None)]),
])
def test_label_maps(spec, values, want):
    m = LabelMap(spec)
    for v, w in zip(values, want):
        got = m(v, 2, "label")
        assert (got.outcome, got.winner, got.strength, got.probability)[:len(w)] == w, v


@pytest.mark.parametrize("spec, value", [("A/B/tie", "C"), ("A/B/tie", None), ("1/2/0", 3), ("1/2/0", "1.5"),
                                         ("A>>B", "A>>>B"), ("probability", 1.2), ("probability", "high"),
                                         ("model_a/model_b/tie", "Tie"), ("alpaca-eval", 2.5),
                                         ("yes=first,no=second", "maybe")])
def test_a_label_outside_the_map_is_an_error_never_a_tie(spec, value):
    with pytest.raises(RowError, match="is not in the label map"):
        LabelMap(spec)(value, 2, "label")


def test_n_answers_with_list_fields_and_an_index_label(store, tmp_path):
    rows = [{"prompt": "Pick the best pun.", "outs": ["p1", "p2", "p3"], "who_wrote": ["a@1", "b@1", "c@1"],
             "best": 3, "judge": "gpt-x"}]
    fields = PairFields(responses=("outs",), models=("who_wrote",), label="best", label_map="index",
                        rater="gpt-x", rater_kind="llm")
    s = import_labels(store, jsonl(tmp_path / "n.jsonl", rows), MappedReader(fields), dataset="puns")
    assert (s.responses_added, s.comparisons_added) == (3, 1)
    (comp,) = store.list("comparisons")
    resp = {r.id: r for r in store.iter("responses")}
    assert len(comp.response_ids) == 3 and resp[comp.winner].model == "c@1"
    (rater,) = store.list("raters")
    assert rater.kind == "llm" and rater.name == "gpt-x" and comp.rater_id == rater.id


def test_soft_preferences_are_stored_with_the_hard_verdict_they_round_to(store, tmp_path):
    rows = [{"prompt": f"q{i}", "a": f"a{i}", "b": f"b{i}", "p": p} for i, p in enumerate([0.8, 0.3, 0.5])]
    fields = PairFields(responses=("a", "b"), label="p", label_map="probability", model="m@1", rater="judge",
                        rater_kind="llm")
    # one model wrote both answers: still two responses (two texts), compared
    import_labels(store, jsonl(tmp_path / "p.jsonl", rows), MappedReader(fields), dataset="soft")
    comps = sorted(store.iter("comparisons"), key=lambda c: -c.probability)
    assert [c.probability for c in comps] == [0.8, 0.5, 0.3]
    assert [c.outcome for c in comps] == ["win", "tie", "win"]
    assert comps[0].winner == comps[0].response_ids[0] and comps[2].winner == comps[2].response_ids[1]
    with pytest.raises(ValueError, match="rounds to"):
        R.Comparison(item_id="i", rater_id="r", response_ids=["x", "y"], shown_order=["x", "y"], outcome="win",
                     winner="y", probability=0.9)


def test_a_bad_row_names_file_line_and_field_and_nothing_is_written(store, tmp_path):
    rows = [ROWS[0], ROWS[1], {**ROWS[2], "verdict": "C"}]
    path = jsonl(tmp_path / "labels.jsonl", rows)
    with pytest.raises(BadInput) as e:
        import_labels(store, path, MappedReader(FIELDS), dataset="qa")
    assert str(e.value) == (f"{path}, line 3: field 'verdict': label 'C' is not in the label map 'A/B/tie' "
                            "(it takes A, B or tie)")
    assert store.count("comparisons") == store.count("items") == store.count("responses") == 0
    assert store.count("datasets") == 0  # one transaction: not even the dataset


def test_skip_invalid_imports_the_good_rows_and_writes_the_bad_ones_with_reasons(store, tmp_path):
    same = {**ROWS[0], "q": "Say yes.", "out_a": "yes", "out_b": "yes", "mb": "small@1", "who": "dave"}
    rows = [ROWS[0], {**ROWS[1], "ma": "no-version"}, {**ROWS[2], "swapped": [3, 1]}, same, ROWS[2]]
    path = jsonl(tmp_path / "labels.jsonl", rows)
    s = import_labels(store, path, MappedReader(FIELDS), dataset="qa", on_invalid=OnInvalid(skip=True))
    assert (s.rows, s.rejected, s.comparisons_added) == (5, 3, 2)
    rejected = [json.loads(line) for line in open(s.rejects_file)]
    assert [(r["line"], r["field"]) for r in rejected] == [(2, "ma"), (3, "swapped"), (4, None)]
    assert "no @VERSION" in rejected[0]["reason"] and rejected[1]["row"]["swapped"] == [3, 1]
    assert rejected[2]["reason"] == "the answers compared are one and the same response (same model, same text)"
    # a rejected row leaves nothing behind: not its rater, not its prompt
    assert {r.id for r in store.iter("raters")} == {"human:ann"}
    assert "Say yes." not in {i.prompt for i in store.iter("items")}


def test_csv_labels_on_the_command_line(capsys, tmp_path, store_url):
    df = pd.DataFrame(ROWS).drop(columns=["swapped"]).assign(strength=[2, 1, None])
    df.to_csv(tmp_path / "labels.csv", index=False)
    code, out, err = run(capsys, "--db", store_url, "import", str(tmp_path / "labels.csv"), "--prompt-field", "q",
                         "--response-fields", "out_a,out_b", "--model-fields", "ma", "--model-fields", "mb",
                         "--label-field", "verdict", "--label-map", "A/B/tie", "--strength-field", "strength",
                         "--rater-field", "who", "--justification-field", "why")
    assert code == 0, err
    assert "-> dataset 'labels' (mapped): 3 rows; added 2 items, 4 responses, 3 comparisons" in out
    code, out, _ = run(capsys, "--db", store_url, "export", "comparisons", "--out", str(tmp_path / "c.jsonl"))
    comps = [json.loads(line) for line in open(tmp_path / "c.jsonl")]
    assert sorted((c["rater_id"], c["outcome"], c["strength"]) for c in comps) == [
        ("human:ann", "tie", None), ("human:ann", "win", 2), ("human:bob", "win", 1)]


@pytest.mark.parametrize("args, message", [
    (["--label-field", "verdict", "--response-fields", "out_a,out_b", "--model-fields", "ma,mb", "--rater", "x"],
     "say how the labels are written: --label-map"),
    (["--label-field", "verdict", "--label-map", "A/B/tie", "--response-fields", "out_a,out_b", "--model-fields",
      "ma,mb"], "say who gave the labels"),
    (["--label-field", "verdict", "--label-map", "A/B/tie", "--response-fields", "out_a,out_b", "--rater", "x"],
     "name the models"),
    (["--label-field", "verdict", "--label-map", "A/B/tie", "--response-fields", "out_a,out_b", "--model-fields",
      "ma", "--rater", "x"], "2 answer fields but 1 model fields"),
    (["--label-field", "verdict", "--label-map", "A~B", "--response-fields", "out_a,out_b", "--model-fields",
      "ma,mb", "--rater", "x"], "unknown label map 'A~B'"),
    (["--label-field", "verdict", "--label-map", "A/B/tie", "--response-fields", "out_a,out_b", "--model-fields",
      "ma,mb", "--rater", "x", "--rater-kind", "robot"], "--rater-kind must be human or llm"),
    (["--label-field", "verdict", "--label-map", "A/B/tie", "--response-field", "out_a", "--rater", "x"],
     "--response-field belong to importing items and responses"),
    (["--from", "alpaca-eval", "--label-field", "verdict"], "leave out --label-field"),
    (["--from", "alpaca-eval", "--prompt-field", "q"], "leave out --prompt-field"),
    (["--from", "alpaca-eval", "--model", "m@1"], "--model does not apply to --from alpaca-eval"),
    (["--from", "no-such-format"], "unknown --from 'no-such-format': other tools' logs are inspect, lm-eval, "
                                   "promptfoo; annotation tools label-studio, argilla; published label formats "
                                   "are alpaca-eval, arena-hard"),
    (["--from", "promptfoo", "--rater", "x"], "label options (--label-field, --rater, ...) do not apply to --from "
                                              "promptfoo"),
])
def test_usage_mistakes_are_one_line_and_exit_2(capsys, tmp_path, args, message):
    path = jsonl(tmp_path / "labels.jsonl", ROWS)
    mapped = [] if "--from" in args else ["--prompt-field", "q"]
    code, out, err = run(capsys, "--db", str(tmp_path / "s.db"), "import", str(path), *mapped, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
