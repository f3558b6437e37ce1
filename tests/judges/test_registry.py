"""The registry of program judges: names, recorded arguments, rebuilding, rater identity, per-item use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assay.judges import registry
from assay.judges.registry import Target, Verdict, create, from_spec, names, program
from assay.records import Item, Rater

BUILT_IN = {
    "ifeval", "ifeval.instruction", "json_valid", "json_schema", "regex", "length",
    "exact_match", "token_f1", "rouge_l", "bleu", "chrf", "embedding_cosine",
}


def test_built_ins_are_registered_by_kind():
    assert BUILT_IN <= set(names())
    assert set(names("metric")) >= {"exact_match", "token_f1", "rouge_l", "bleu", "chrf", "embedding_cosine"}
    assert "ifeval" in names("verifier") and "bleu" not in names("verifier")
    assert registry.get("rouge_l").description.startswith("ROUGE-L")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: .*json_valid"):
        create("no_such_judge")


def test_spec_records_defaults_and_rebuilds_the_same_judge():
    judge = create("regex", pattern=r"\d+")
    spec = judge.spec()
    assert spec == {"name": "regex", "version": "1", "args": {"pattern": r"\d+", "mode": "search", "flags": ""}}
    rebuilt = from_spec(json.loads(json.dumps(spec)))
    assert rebuilt.spec() == spec
    assert rebuilt("answer 42").passed and not rebuilt("no digits").passed


def test_from_spec_warns_when_the_version_changed():
    spec = create("json_valid").spec() | {"version": "0"}
    with pytest.warns(UserWarning, match="stored version 0"):
        from_spec(spec)


def test_bad_arguments_are_refused_at_creation():
    with pytest.raises(ValueError, match="unexpected keyword"):
        create("json_valid", strict=True)
    with pytest.raises(ValueError, match="unit"):
        create("length", unit="pages", max=3)
    with pytest.raises(ValueError, match="JSON values"):
        create("json_schema", schema={"type": {1, 2}})
    with pytest.raises(ValueError, match="mode"):
        create("ifeval", mode="lenient")


def test_rater_identity_covers_name_version_and_arguments():
    a, b = create("length", unit="words", max=100), create("length", unit="words", max=200)
    rater = a.rater()
    assert isinstance(rater, Rater)
    assert (rater.kind, rater.name, rater.program_version) == ("program", "length", "1")
    assert rater.config == {"unit": "words", "min": None, "max": 100}
    assert rater.id == create("length", unit="words", max=100).rater().id
    assert rater.id != b.rater().id
    assert rater.id.startswith("program:length:")


def test_ifeval_reads_instructions_from_item_metadata():
    item = Item(
        id="i1",
        dataset="ifeval",
        prompt="Write without commas, in lowercase.",
        metadata={
            "instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"],
            "kwargs": [{}, {}],
        },
    )
    text = "Here you go:\nwe walked along the quiet river and watched the boats drift slowly past the old mill"
    strict, loose = create("ifeval")(text, item), create("ifeval", mode="loose")(text, item)
    assert (strict.passed, strict.score) == (False, 0.5)
    assert strict.reason == "1/2 instructions followed (strict); not followed: change_case:english_lowercase"
    assert strict.details["instructions"] == [
        {"id": "punctuation:no_comma", "followed": True},
        {"id": "change_case:english_lowercase", "followed": False},
    ]
    assert (loose.passed, loose.value) == (True, 1.0)
    with pytest.raises(ValueError, match="instruction_id_list"):
        create("ifeval")(text, Item(id="i2", dataset="d", prompt="p"))


def test_single_ifeval_instruction():
    judge = create("ifeval.instruction", instruction_id="keywords:existence", kwargs={"keywords": ["tea"]})
    assert judge("Green TEA.").passed and not judge("Coffee.").passed
    with pytest.raises(ValueError, match="unknown instruction"):
        create("ifeval.instruction", instruction_id="keywords:nope")


def test_format_judges_take_settings_from_the_item_when_not_given():
    schema = {"type": "object", "required": ["x"]}
    per_item = create("json_schema")
    assert per_item('{"x": 1}', {"metadata": {"json_schema": schema}}).passed
    failed = per_item("{}", {"metadata": {"json_schema": schema}})
    assert (failed.passed, failed.value, failed.reason) == (False, 0.0, "$: 'x' is a required property")
    with pytest.raises(ValueError, match="json_schema"):
        per_item("{}", None)
    assert create("regex")("id: AB-12", {"metadata": {"regex": r"[A-Z]{2}-\d+"}}).passed
    assert create("json_valid")("[1]").reason == "valid JSON (array)"
    verdict = create("length", unit="sentences", min=2)("Only one.")
    assert (verdict.passed, verdict.score) == (False, 1.0)


def test_metrics_compare_with_the_items_reference():
    item = Item(id="i", dataset="d", prompt="Capital of France?", reference="Paris")
    assert create("exact_match")("Paris", item).passed
    assert not create("exact_match")("paris.", item).passed
    assert create("exact_match", ignore_case=True, ignore_punctuation=True)("paris.", item).passed

    f1 = create("token_f1")("Paris, France", item)
    assert (f1.passed, f1.score, f1.value) == (None, pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert create("token_f1", threshold=0.5)("Paris, France", item).passed
    low = create("rouge_l", threshold=0.9)("It is Paris", item)
    assert low.passed is False and low.reason == "ROUGE-L F 0.5 (below threshold 0.9)"
    assert create("bleu")("Paris", item).score == pytest.approx(100.0)
    assert create("chrf", word_order=2).version.startswith("1+sacrebleu==")
    # several references from metadata take precedence over the single one
    many = {"reference": "Lyon", "metadata": {"references": ["Lyon", "Paris"]}}
    assert create("exact_match")("Paris", many).passed
    with pytest.raises(ValueError, match="no reference"):
        create("rouge_l")("Paris", {"prompt": "p"})


def test_target_of_accepts_items_mappings_and_none():
    chat = Item(id="c", dataset="d", messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "u?"}])
    assert registry.target_of(chat) == Target("u?", None, {})
    assert registry.target_of({"prompt": "p", "reference": "r"}) == Target("p", "r", {})
    assert registry.target_of(None) == Target()


def test_a_new_program_judge_registers_itself_and_rebuilds():
    @program("test.shorter_than", version="7")
    def shorter_than(limit: int = 10):
        """Fewer characters than ``limit``."""

        def check(response: str, target: Target) -> Verdict:
            return Verdict(len(response) < limit, float(len(response)), f"{len(response)} characters")

        return check

    judge = shorter_than(limit=5)
    assert judge.spec() == {"name": "test.shorter_than", "version": "7", "args": {"limit": 5}}
    assert judge("abc").passed and not judge("abcdef").passed
    assert create("test.shorter_than", limit=3)("abc").passed is False
    assert from_spec(judge.spec())("abcd").passed
    with pytest.raises(ValueError, match="already registered"):

        @program("test.shorter_than", version="8")
        def other():  # pragma: no cover - never built
            raise AssertionError


def test_importing_the_judges_package_stays_light():
    code = (
        "import sys, assay.judges, assay.judges.registry; "
        "print(sorted(m for m in ('langdetect', 'punkt', 'sacrebleu', 'jsonschema', 'torch', 'assay.judges.ifeval') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
