"""Rubrics: the built-in default, YAML loading, and rejection of invalid rubrics."""

from __future__ import annotations

import pytest

from assay.errors import BadInput
from assay.rubrics import add_rubric, default_rubric, get_rubric, load_rubric, parse_rubric


def test_default_rubric_has_five_dimensions_with_an_anchor_for_every_level():
    rub = default_rubric()
    assert rub.id == "default@1"
    assert [d.name for d in rub.dimensions] == ["factuality", "coherence", "safety", "instruction-following",
                                                "creativity"]
    for dim in rub.dimensions:
        assert dim.scale.kind == "ordinal"
        assert [lv.value for lv in dim.scale.levels] == [1, 2, 3, 4, 5]
        assert all(len(lv.anchor) > 40 for lv in dim.scale.levels), dim.name
    assert "justif" in rub.guidelines.lower()


MINIMAL = """
name: tiny
version: 2
dimensions:
  - name: helpful
    description: Does it help?
    scale:
      kind: ordinal
      levels: {1: not at all, 2: somewhat, 3: fully}
  - name: toxic
    description: Is it toxic?
    scale: {kind: binary}
  - name: tone
    description: Tone
    scale:
      kind: categorical
      categories: [{name: formal}, {name: casual}]
  - name: score
    description: A 0-1 score
    scale: {kind: continuous, min: 0, max: 1}
"""


def test_every_scale_kind_and_level_shorthand():
    rub = parse_rubric(MINIMAL)
    assert rub.id == "tiny@2"
    assert rub.dimension("helpful").scale.levels[2].anchor == "fully"
    assert rub.dimension("toxic").scale.accepts(1, None) is None
    assert "0 or 1" in rub.dimension("toxic").scale.accepts(2, None)
    assert "not one of" in rub.dimension("tone").scale.accepts(None, "rude")
    assert "1..3" in rub.dimension("helpful").scale.accepts(4, None)
    assert "[0.0, 1.0]" in rub.dimension("score").scale.accepts(1.5, None)


@pytest.mark.parametrize(("text", "message"), [
    (MINIMAL.replace("kind: binary", "kind: binray"), r"line 12: field 'dimensions\[1\]\.scale\.kind'"),
    (MINIMAL.replace("{1: not at all, 2: somewhat, 3: fully}", "{1: a, 3: b}"),
     r"field 'dimensions\[0\]\.scale': ordinal levels must be 1..N in order, got \[1, 3\]"),
    (MINIMAL.replace("    description: Tone\n", "    description: Tone\n    colour: red\n"),
     r"field 'dimensions\[2\]\.colour': unknown key"),
    (MINIMAL.replace("  - name: toxic\n    description: Is it toxic?\n", "  - name: toxic\n"),
     r"field 'dimensions\[1\]\.description': required key is missing"),
    (MINIMAL.replace("name: toxic", "name: helpful"), r"dimension names must be unique, repeated: \['helpful'\]"),
    (MINIMAL.replace("min: 0, max: 1", "min: 1, max: 0"), r"needs min < max"),
    ("name: x\ndimensions: [\n", r"not valid YAML"),
    ("- just a list\n", r"must be a YAML mapping"),
])
def test_invalid_rubrics_name_the_bad_key_and_why(text, message):
    with pytest.raises(BadInput, match=message):
        parse_rubric(text, source="r.yaml")


def test_load_from_file_and_by_builtin_name(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(MINIMAL)
    assert load_rubric(p).name == "tiny"
    assert load_rubric("default").name == "default"
    with pytest.raises(BadInput, match="no such rubric file"):
        load_rubric(tmp_path / "missing.yaml")


def test_rubrics_in_the_store(store):
    assert get_rubric(store, "default").id == "default@1"  # a built-in is stored on first use
    assert store.guideline("default@1").text == default_rubric().guidelines
    tiny = parse_rubric(MINIMAL)
    assert add_rubric(store, tiny) is True and add_rubric(store, tiny) is False
    changed = parse_rubric(MINIMAL.replace("Does it help?", "Is it useful?"))
    with pytest.raises(BadInput, match="already stored with different content"):
        add_rubric(store, changed)
    assert get_rubric(store, "tiny@2") == tiny
