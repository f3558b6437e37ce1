"""Format checks: JSON, JSON Schema, regular expressions, length limits."""

from __future__ import annotations

import pytest

from assay.judges.formats import check_json, check_json_schema, check_length, check_regex, count, strip_code_fence


@pytest.mark.parametrize(
    ("text", "passed", "reason"),
    [
        ('{"a": [1, 2]}', True, "valid JSON (object)"),
        ("[1, 2]", True, "valid JSON (array)"),
        ("42", True, "valid JSON (number)"),
        ("null", True, "valid JSON (null)"),
        ('{"a": 1,}', False, "invalid JSON"),
        ("{'a': 1}", False, "invalid JSON"),
        ("", False, "invalid JSON"),
    ],
)
def test_check_json(text, passed, reason):
    result = check_json(text)
    assert result.passed is passed and bool(result) is passed
    assert result.reason.startswith(reason)


def test_code_fences_only_when_allowed():
    fenced = '```json\n{"a": 1}\n```'
    assert not check_json(fenced)
    assert check_json(fenced, allow_fence=True)
    assert strip_code_fence("```\n[1]\n```") == "[1]"
    assert strip_code_fence("text ```[1]```") == "text ```[1]```"


def test_invalid_json_reason_points_at_the_error():
    assert check_json('{"a": 1\n "b": 2}').reason == "invalid JSON: Expecting ',' delimiter at line 2 column 2"


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_json_schema():
    assert check_json_schema('{"name": "Ada", "age": 36}', SCHEMA) == check_json_schema('{"age": 36, "name": "Ada"}', SCHEMA)
    assert check_json_schema('{"name": "Ada", "age": 36}', SCHEMA).passed
    wrong_type = check_json_schema('{"name": "Ada", "age": "ten"}', SCHEMA)
    assert not wrong_type and wrong_type.reason == "$.age: 'ten' is not of type 'integer'"
    assert check_json_schema('{"name": "Ada"}', SCHEMA).reason == "$: 'age' is a required property"
    assert not check_json_schema('{"name": "Ada", "age": -1}', SCHEMA)
    assert check_json_schema("not json", SCHEMA).reason.startswith("invalid JSON")
    assert check_json_schema('```json\n{"name": "A", "age": 1}\n```', SCHEMA, allow_fence=True)


def test_an_invalid_schema_is_the_callers_error():
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        check_json_schema("{}", {"type": "no-such-type"})


def test_regex_search_and_fullmatch():
    assert check_regex("The answer is 42.", r"\d+").reason == "matches /\\d+/ at 14: '42'"
    assert not check_regex("The answer is 42.", r"\d+", mode="fullmatch")
    assert check_regex("2024-01-31", r"\d{4}-\d{2}-\d{2}", mode="fullmatch")
    assert not check_regex("no digits", r"\d")
    assert check_regex("HELLO", "hello", flags="i") and check_regex("HELLO", "hello", flags=2)
    assert check_regex("a\nb", "^b$", flags="m") and not check_regex("a\nb", "^b$")


def test_regex_errors():
    with pytest.raises(ValueError, match="invalid regular expression"):
        check_regex("x", "(")
    with pytest.raises(ValueError, match="flags"):
        check_regex("x", "x", flags="q")
    with pytest.raises(ValueError, match="mode"):
        check_regex("x", "x", mode="match")  # type: ignore[arg-type]


TEXT = "Dr. Watson arrived late. He apologised!\n\n  \nThen he sat down."


def test_count_units():
    assert count(TEXT, "chars") == len(TEXT)
    assert count(TEXT, "words") == 10  # Dr. Watson arrived late. He apologised! Then he sat down.
    assert count(TEXT, "sentences") == 3  # "Dr." does not end a sentence
    assert count(TEXT, "lines") == 2  # blank lines are not counted
    assert count("", "sentences") == 0 and count("", "lines") == 0
    with pytest.raises(ValueError, match="unit"):
        count(TEXT, "pages")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limits", "passed", "reason"),
    [
        ({"max": 10}, True, "10 words, at most 10"),
        ({"max": 9}, False, "10 words, more than the maximum 9"),
        ({"min": 10}, True, "10 words, at least 10"),
        ({"min": 11}, False, "10 words, fewer than the minimum 11"),
        ({"min": 5, "max": 20}, True, "10 words, within 5 to 20"),
    ],
)
def test_check_length_bounds_are_inclusive(limits, passed, reason):
    result = check_length(TEXT, unit="words", **limits)
    assert (result.passed, result.reason) == (passed, reason)


def test_check_length_needs_sane_limits():
    with pytest.raises(ValueError, match="minimum, a maximum"):
        check_length(TEXT)
    with pytest.raises(ValueError, match="above"):
        check_length(TEXT, min=3, max=2)
